"""One exception tree for everything that can go wrong talking to SMSC.

``SmscError`` carries the context a user needs (operation, endpoint, SMSC code) and never a
credential: messages are built from those fields only, never from request data.

Each class also carries what its error *means*, as class attributes (DRF's and anymail's
exceptions do the same), so every fact about an SMSC error has one place, here: its stable
API ``error_type``, its ``label`` in the user's language, the HTTP status the API answers
with (``api_status``), whether it stops every call of the login (``stops_login``: errors 2
and 4) and which setting says when a retry makes sense (``retry_setting``). ``error_types``,
``limits``, ``policy`` and the API views read them from here. The tree::

    SmscError
    ├── SmscRequestError        SMSC answered HTTP 200 with ``error`` set (1, 2, 3, 4, 9, other)
    │   ├── SmscBadParameters       1
    │   ├── SmscAuthError           2  (stop calling: every retry counts towards an IP block)
    │   ├── SmscNotFound            3
    │   ├── SmscIpBlocked           4
    │   └── SmscTooManyRequests     9
    ├── SmscTransportError      the answer never arrived intact (failover applies to these)
    │   ├── SmscTimeout
    │   ├── SmscConnectionError
    │   ├── SmscHttpError           non-200 HTTP status
    │   └── SmscAnswerTooLarge      an answer over 1 MiB, not read
    ├── SmscProtocolError       an answer arrived but is not what the WSDL promises
    │   ├── SmscMalformedResponse
    │   └── SmscSoapFault
    ├── SmscInvalidRequest      our data cannot be put in a request (nothing was sent)
    └── SmscCallRefused         our own limits refused the call before it was made
        ├── SmscCircuitOpen         after error 2 or 4, until reset or timed out
        ├── SmscBusy                no free request slot for the login in time
        └── SmscAccountNotConfigured  the message names an account missing from settings
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from django.utils.translation import gettext_lazy as _

from .codes import MessageStatus, RequestError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# The API's HTTP statuses (``rest_framework.status`` would import DRF into every caller).
UNPROCESSABLE, BAD_GATEWAY, UNAVAILABLE = 422, 502, 503


class SmscError(Exception):
    """Base class; ``str()`` is safe to log and show (it never contains a credential)."""

    default_detail = "SMSC request failed"
    #: The stable type the API's error bodies carry (listed in the README; never a class name).
    error_type: ClassVar[str] = "smsc_error"
    #: What the error means, in the user's language (admin, API, ``RefreshResult.detail``).
    label: ClassVar[StrOrPromise] = _("SMSC request failed")
    #: The HTTP status of the API's answer: 503 where waiting helps (``Retry-After``), 422
    #: where the request or the message is at fault, 502 where SMSC or the network failed.
    api_status: ClassVar[int] = BAD_GATEWAY
    #: SMSC's ``error`` code (request errors only).
    smsc_code: ClassVar[int | None] = None
    #: True for errors 2 and 4: every call of the login, in every process, pauses (``limits``).
    stops_login: ClassVar[bool] = False
    #: The :class:`~.conf.SmscSettings` field holding the seconds after which trying again
    #: makes sense (``policy.retry_after``); for errors that stop the login, how long it pauses.
    retry_setting: ClassVar[str | None] = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        operation: str | None = None,
        endpoint: str | None = None,
        code: int | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.operation = operation
        self.endpoint = endpoint
        self.code = code
        super().__init__(self.detail)

    def __str__(self) -> str:
        parts = [self.detail]
        if self.code is not None:
            parts.append(f"code {self.code}")
        if self.operation:
            parts.append(f"operation {self.operation}")
        if self.endpoint:
            parts.append(f"endpoint {self.endpoint}")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class SmscRequestError(SmscError):
    """SMSC refused the request and said why in the ``error`` field; a code this release does
    not know gets this class itself (build them with :func:`request_error`)."""

    default_detail = "SMSC refused the request"
    error_type = "smsc_request_error"
    label = _("SMSC refused the request")
    api_status = UNPROCESSABLE


class SmscBadParameters(SmscRequestError):
    default_detail = "SMSC error 1: error in parameters"
    smsc_code = RequestError.BAD_PARAMETERS
    error_type = "smsc_bad_parameters"
    label = RequestError.BAD_PARAMETERS.label


class SmscAuthError(SmscRequestError):
    default_detail = "SMSC error 2: invalid login or password, or IP address not allowed"
    smsc_code = RequestError.BAD_CREDENTIALS
    error_type = "smsc_auth_failed"
    label = RequestError.BAD_CREDENTIALS.label
    api_status = UNAVAILABLE
    stops_login = True  # every retry counts towards SMSC's IP block: the breaker opens
    retry_setting = "breaker_timeout"


class SmscNotFound(SmscRequestError):
    default_detail = "SMSC error 3: message not found"
    smsc_code = RequestError.NOT_FOUND
    error_type = "smsc_not_found"
    label = MessageStatus.NOT_FOUND.label  # the message's status after it (``policy``)


class SmscIpBlocked(SmscRequestError):
    default_detail = "SMSC error 4: IP address temporarily blocked"
    smsc_code = RequestError.IP_BLOCKED
    error_type = "smsc_ip_blocked"
    label = RequestError.IP_BLOCKED.label
    api_status = UNAVAILABLE
    stops_login = True
    retry_setting = "ip_block_backoff"


class SmscTooManyRequests(SmscRequestError):
    default_detail = "SMSC error 9: too many requests for this message or at once"
    smsc_code = RequestError.TOO_MANY_REQUESTS
    error_type = "smsc_too_many_requests"
    label = RequestError.TOO_MANY_REQUESTS.label
    api_status = UNAVAILABLE
    retry_setting = "rate_limit_backoff"


#: SMSC's ``error`` codes and their exceptions (each class names its code).
REQUEST_ERRORS: dict[int, type[SmscRequestError]] = {
    cls.smsc_code: cls
    for cls in (SmscBadParameters, SmscAuthError, SmscNotFound, SmscIpBlocked, SmscTooManyRequests)
    if cls.smsc_code is not None
}


def request_error(code: int, **context) -> SmscRequestError:
    """The exception for SMSC ``error`` ``code``; unknown codes get the generic class."""
    cls = REQUEST_ERRORS.get(code, SmscRequestError)
    detail = None if cls is not SmscRequestError else f"SMSC error {code}"
    return cls(detail, code=code, **context)


class SmscTransportError(SmscError):
    """No usable answer. ``before_sending`` is True when the request cannot have reached SMSC."""

    default_detail = "SMSC could not be reached"
    error_type = "smsc_unreachable"
    label = _("SMSC could not be reached")

    def __init__(self, detail: str | None = None, *, before_sending: bool = False, **ctx) -> None:
        self.before_sending = before_sending
        super().__init__(detail, **ctx)


class SmscTimeout(SmscTransportError):
    default_detail = "SMSC did not answer in time"
    error_type = "smsc_timeout"
    label = _("SMSC did not answer in time")


class SmscConnectionError(SmscTransportError):
    default_detail = "connection to SMSC failed"
    error_type = "smsc_connection_failed"
    label = _("Connection to SMSC failed")


class SmscAnswerTooLarge(SmscTransportError):
    """An answer larger than any SMSC sends (``transport.MAX_ANSWER``): refused unread, so a
    broken or hostile server cannot fill the process's memory."""

    default_detail = "SMSC's answer is larger than 1 MiB: not read"


class SmscHttpError(SmscTransportError):
    default_detail = "SMSC answered with an HTTP error"
    error_type = "smsc_http_error"
    label = _("SMSC answered with an HTTP error")

    def __init__(self, detail: str | None = None, *, status_code: int, **context) -> None:
        self.status_code = status_code
        super().__init__(detail or f"SMSC answered HTTP {status_code}", **context)


class SmscProtocolError(SmscError):
    default_detail = "SMSC's answer does not match the protocol"
    error_type = "smsc_protocol_error"
    label = _("SMSC's answer could not be read")


class SmscMalformedResponse(SmscProtocolError):
    default_detail = "malformed response from SMSC"
    error_type = "smsc_malformed_response"  # its label is its family's


class SmscSoapFault(SmscProtocolError):
    default_detail = "SMSC answered with a SOAP fault"
    error_type = "smsc_soap_fault"
    label = _("SMSC answered with a SOAP fault")


class SmscInvalidRequest(SmscError):
    """A value cannot be sent to SMSC (e.g. a control character XML cannot carry); names the
    parameter, never its value. Nothing was sent."""

    default_detail = "the request holds characters SMSC cannot be sent"
    error_type = "message_data_invalid"
    label = _("The message holds characters that cannot be sent to SMSC")
    api_status = UNPROCESSABLE

    def __init__(self, detail: str | None = None, *, parameter: str = "", **ctx) -> None:
        self.parameter = parameter
        super().__init__(
            detail or (f"{parameter!r} holds characters that cannot be sent to SMSC" if parameter else None),
            **ctx,
        )


class SmscCallRefused(SmscError):
    """Raised before any request is sent: our side of SMSC's limits said no."""

    error_type = "call_refused"
    label = _("Calls to SMSC are paused or busy")
    api_status = UNAVAILABLE


class SmscCircuitOpen(SmscCallRefused):
    default_detail = "calls to SMSC are paused for this login"
    error_type = "calls_paused"
    label = _("Calls to SMSC are paused for this login")

    def __init__(self, detail: str | None = None, *, until: datetime | None = None, **ctx) -> None:
        self.until = until
        super().__init__(detail, **ctx)


class SmscBusy(SmscCallRefused):
    default_detail = "all request slots for this login are in use"
    error_type = "no_free_slot"
    label = _("All request slots for this login are in use")
    retry_setting = "slot_wait"


class SmscAccountNotConfigured(SmscCallRefused):
    """The message's account is not in ``SMSC_STATUS`` (removed, or renamed): it is left alone,
    not deleted, until the account is configured again."""

    default_detail = "the message's account is not configured"
    error_type = "account_not_configured"
    label = _("The message's SMSC account is not in the settings")
    api_status = UNPROCESSABLE  # refused, but no retry helps until the account is back
