"""The SMSC WSDL shipped with the package, and its per-site rendering.

SMSC's target namespace and SOAPAction are the endpoint URL itself, so smsc.ru, smsc.kz and a
local simulator each need their own copy. No Django imports: the simulator uses this too.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

SHIPPED_WSDL = Path(__file__).with_name("smsc.wsdl")
SHIPPED_NAMESPACE = "https://smsc.ru/sys/soap.php"


_PSW = '<xsd:element name="psw" type="xsd:string"/>'
_LOGIN = '<xsd:element name="login" type="xsd:string"/>'


@lru_cache(maxsize=16)
def render(namespace: str, address: str | None = None, *, apikey: bool = False) -> bytes:
    """The shipped WSDL with ``namespace`` (and the service ``address``) substituted.

    ``apikey=True`` adds the ``apikey`` request element that SMSC's docs describe but the
    published WSDL lacks (login and psw become optional), for the simulator's tests.
    """
    text = SHIPPED_WSDL.read_text(encoding="utf-8")
    if apikey:
        optional = ' minOccurs="0"/>'
        text = text.replace(_LOGIN, _LOGIN[:-2] + optional)
        text = text.replace(
            _PSW,
            _PSW[:-2] + optional + '\n            <xsd:element name="apikey" type="xsd:string"' + optional,
        )
    location = f'location="{SHIPPED_NAMESPACE}"'
    text = text.replace(location, f'location="{address or namespace}"')
    return text.replace(SHIPPED_NAMESPACE, namespace).encode("utf-8")
