"""The SOAP client: SMSC calls in, typed immutable results (or typed exceptions) out.

zeep reads the WSDL (shipped in the package, namespace rewritten for the configured site) and
builds each request envelope, so requests follow the WSDL exactly. The HTTP round trip and the
reading of the answer are ours, for four reasons:

* credentials: zeep's transport logs whole envelopes, ``<psw>`` included, at DEBUG; ours never
  logs a body;
* tolerance: SMSC's answers drift from its WSDL (``sms_cnt`` appears, children may or may not be
  namespace-qualified), so answers are read by local name instead of validated;
* failover and timeouts: connect and total timeouts on every call, and a clear rule for when a
  backup endpoint may be tried (never after SMSC answered; once the request may have arrived,
  only for ``get_balance``: a repeated status request counts against the message's limit);
* speed: keep-alive ``http.client`` connections (``transport.py``) cost a fraction of the CPU
  of ``requests`` per call.

Nothing here knows Django models; :func:`get_client` builds one client per configuration.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar
from xml.sax.saxutils import escape

import requests
import zeep
from lxml import etree

from ..conf import SmscSettings, get_settings
from ..exceptions import (
    SmscError,
    SmscHttpError,
    SmscInvalidRequest,
    SmscMalformedResponse,
    SmscSoapFault,
    SmscTransportError,
    request_error,
)
from ..redaction import SealedEnvelope, redact, redact_fields
from ..validation import XML_INVALID
from . import wsdl
from .results import SendResult, StatusResult, _balance, _int, _send_result, _status_result
from .transport import KeepAliveTransport

logger = logging.getLogger(__name__)
T = TypeVar("T")

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
USER_AGENT = "django-smsc-status"
SHIPPED_LOCATION = str(wsdl.SHIPPED_WSDL)  # the transport serves it rendered for the site
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


class _Transport(zeep.Transport):
    """Serves the shipped WSDL from memory; other locations load as usual."""

    def __init__(self, documents: Mapping[str, bytes], **kwargs) -> None:
        super().__init__(**kwargs)
        self._documents = documents

    def load(self, url: str) -> bytes:
        if url in self._documents:
            return self._documents[url]
        return super().load(url)


class SmscClient:
    """SMSC's SOAP operations for one configuration. Thread-safe; build once, reuse."""

    def __init__(self, config: SmscSettings) -> None:
        self.config = config
        self._http = KeepAliveTransport(config.connect_timeout, config.timeout, USER_AGENT)
        self._templates: dict[tuple, list[str]] = {}
        wsdl_session = requests.Session()  # zeep loads a WSDL given as a URL with it, once
        wsdl_session.headers["User-Agent"] = USER_AGENT

        location = config.wsdl or SHIPPED_LOCATION
        documents = {SHIPPED_LOCATION: wsdl.render(config.namespace, config.endpoint)}
        transport = _Transport(
            documents,
            session=wsdl_session,
            timeout=config.connect_timeout + config.timeout,
            operation_timeout=config.timeout,
        )
        try:
            self._zeep = zeep.Client(location, transport=transport)
        except (OSError, requests.RequestException, etree.XMLSyntaxError) as exc:
            raise SmscError(f"cannot load the WSDL from {location}: {type(exc).__name__}") from exc
        binding = self._zeep.wsdl.services["Service"].ports["ServiceSoap"].binding
        self.namespace = binding.name.namespace
        self._binding = binding
        self._service = self._zeep.create_service(binding.name, config.endpoint)
        request_fields = self._zeep.get_element(f"{{{self.namespace}}}status").type.elements
        self.supports_apikey = any(name == "apikey" for name, _ in request_fields)
        if config.api_key and not self.supports_apikey and not (config.login and config.password):
            raise SmscError(
                "API_KEY is set but the loaded WSDL has no 'apikey' element: "
                "set LOGIN and PASSWORD, or a WSDL that accepts apikey"
            )

    def __repr__(self) -> str:
        config = self.config
        return (
            f"<SmscClient account={config.name!r} login={config.limits_login!r} endpoint={config.endpoint!r}>"
        )

    # -- operations -------------------------------------------------------------------------

    def get_status(self, smsc_id: str, phone: str, all: int | None = None) -> StatusResult:
        """Status of one message (``get_status``). ``all`` defaults to the ``ALL`` setting."""
        return self._status("get_status", "StatusResponse", smsc_id, phone, all)

    def get_status2(self, smsc_id: str, phone: str, all: int | None = None, query: str = "") -> StatusResult:
        """``get_status2``: as :meth:`get_status` with SMSC's extra ``query`` string."""
        return self._status("get_status2", "Status2Response", smsc_id, phone, all, query=query)

    def _status(
        self, operation: str, output: str, smsc_id: str, phone: str, all: int | None, **extra: Any
    ) -> StatusResult:
        """One status call of either kind; ``all`` defaults to the ``ALL`` setting. (``extra``
        is ``Any`` only for mypy: it holds SOAP parameters, strings, as ``_call``'s do.)"""
        level = self.config.all if all is None else all
        return self._call(
            operation,
            output,
            "statusresult",
            _status_result,
            phone=phone,
            id=smsc_id,
            all=str(level),
            **extra,
        )

    def send_sms(
        self,
        phones: str,
        text: str,
        *,
        sender: str | None = None,
        smsc_id: str | None = None,
        time: str | None = None,
    ) -> SendResult:
        """Send ``text`` to ``phones`` (comma-separated). Never retried on another endpoint
        once the request may have reached SMSC, so a message is not sent twice."""
        optional = {"id": smsc_id, "sender": sender, "time": time}
        return self._call(
            "send_sms",
            "SendResponse",
            "sendresult",
            _send_result,
            reuse=False,
            resend=False,
            phones=phones,
            mes=text,
            **{k: v for k, v in optional.items() if v is not None},
        )

    def get_balance(self) -> Decimal:
        """The balance of this account's login."""
        return self._call("get_balance", "BalanceResponse", "balanceresult", _balance, resend=True)

    # -- plumbing ---------------------------------------------------------------------------

    def _credentials(self) -> dict[str, str]:
        if self.config.api_key and self.supports_apikey:
            return {"apikey": self.config.api_key}
        return {"login": self.config.login, "psw": self.config.password}

    def _call(
        self,
        operation: str,
        output: str,
        result: str,
        parse: Callable[[dict], T],
        *,
        reuse: bool = True,
        resend: bool = False,
        **params: str,
    ) -> T:
        """One SOAP call, failing over to the next endpoint while the request cannot have
        reached SMSC; after it may have (a read timeout, an HTTP error) only when ``resend``:
        a repeated status request would count twice against the message's 5 a minute, a
        repeated send would send twice. ``reuse`` allows a kept-alive connection."""
        envelope = self._envelope(operation, {**self._credentials(), **params})
        action = self._binding.get(operation).soapaction
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
        last_error: SmscTransportError | None = None
        for endpoint in self.config.endpoints:
            context = {"operation": operation, "endpoint": endpoint}
            try:
                status, content = self._http.post(endpoint, envelope, headers, reuse=reuse)
                if status != 200 and not _is_fault(status, content):
                    raise SmscHttpError(status_code=status)
            except SmscTransportError as exc:
                exc.operation, exc.endpoint = operation, endpoint
                last_error = exc
                if resend or exc.before_sending:
                    logger.warning("SMSC %s failed at %s: %s", operation, endpoint, exc.detail)
                    continue
                raise
            try:
                return parse(self._read(content, output, result, context))
            except SmscError as exc:  # its words may quote SMSC's, which may echo a credential
                exc.operation, exc.endpoint = operation, endpoint
                exc.detail = self._redact(exc.detail)
                exc.args = (exc.detail,)
                raise
        assert last_error is not None
        raise last_error

    def _envelope(self, operation: str, params: dict[str, str]) -> SealedEnvelope:
        """The request envelope. zeep renders it once per operation and set of parameters,
        with markers for the values (so the cached template holds no credential); each call
        only fills in the escaped values: a tenth of zeep's cost per call.

        Every value is checked before any is written out, and the result is sealed: no frame
        that an error can show holds a credential in plain text (see ``redaction``)."""
        for name, value in params.items():
            if XML_INVALID.search(value):
                raise SmscInvalidRequest(parameter=name, operation=operation)
        key = (operation, tuple(params))
        template = self._templates.get(key)
        if template is None:
            markers = {name: f"\ue000{i}\ue001" for i, name in enumerate(params)}
            rendered = etree.tostring(
                self._zeep.create_message(self._service, operation, **markers),
                encoding="unicode",
            )
            template = self._templates[key] = re.split("\ue000\\d+\ue001", rendered)
        parts = [template[0]]
        for value, rest in zip(params.values(), template[1:], strict=True):
            parts += [escape(value), rest]
        return SealedEnvelope(('<?xml version="1.0" encoding="utf-8"?>\n' + "".join(parts)).encode())

    def _read(self, content: bytes, output: str, result: str, context: dict) -> dict[str, str]:
        try:
            root = etree.fromstring(content, parser=_PARSER)
        except etree.XMLSyntaxError as exc:
            raise SmscMalformedResponse("response is not well-formed XML", **context) from exc
        body = root.find(f"{{{SOAP_ENV}}}Body")
        if root.tag != f"{{{SOAP_ENV}}}Envelope" or body is None or len(body) == 0:
            raise SmscMalformedResponse("response is not a SOAP envelope with a body", **context)
        payload = body[0]
        if payload.tag == f"{{{SOAP_ENV}}}Fault":
            reason = self._redact(payload.findtext("faultstring") or "")[:200]
            raise SmscSoapFault(f"SOAP fault: {reason}" if reason else None, **context)
        name = etree.QName(payload)
        if name.localname != output:
            raise SmscMalformedResponse(f"expected <{output}>, got <{name.localname[:100]}>", **context)
        node = next((c for c in payload if etree.QName(c).localname == result), None)
        if node is None:
            raise SmscMalformedResponse(f"<{output}> has no <{result}>", **context)
        # by local name, qualified or not; slicing the "{namespace}" off is a third of QName's CPU
        fields = {
            c.tag[c.tag.rfind("}") + 1 :]: (c.text or "").strip() for c in node if isinstance(c.tag, str)
        }
        fields = redact_fields(fields, (self.config.password, self.config.api_key))
        # SMSC's error answer is recognised whatever its namespace: an error 2 read as a
        # malformed answer would not stop the login, and five of them block the server's IP
        code = _int(fields, "error")
        if code:
            raise request_error(code, **context)
        if name.namespace not in (self.namespace, context["endpoint"]):
            raise SmscMalformedResponse(
                f"<{output}> is in namespace {name.namespace[:100]!r}, expected {self.namespace!r}", **context
            )
        return fields

    def _redact(self, text: str) -> str:
        """SMSC's words with this account's password and API key hidden, should it echo them."""
        return redact(text, (self.config.password, self.config.api_key))


def _is_fault(status: int, content: bytes) -> bool:
    return status == 500 and b"Fault>" in content[:4096]


@lru_cache(maxsize=64)  # one per account (and per settings override in tests)
def _client_for(config: SmscSettings) -> SmscClient:
    return SmscClient(config)


def get_client(config: SmscSettings | None = None) -> SmscClient:
    """The shared client for ``config`` (default: the current settings), built on first use."""
    return _client_for(config or get_settings())
