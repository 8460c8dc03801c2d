"""One exception tree for everything that can go wrong talking to SMSC.

``SmscError`` carries the context a user needs (operation, endpoint, SMSC code) and never a
credential: messages are built from those fields only, never from request data. The tree::

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


class SmscError(Exception):
    """Base class; ``str()`` is safe to log and show (it never contains a credential)."""

    default_detail = "SMSC request failed"

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
    """SMSC refused the request and said why in the ``error`` field."""

    default_detail = "SMSC refused the request"


class SmscBadParameters(SmscRequestError):
    default_detail = "SMSC error 1: error in parameters"


class SmscAuthError(SmscRequestError):
    default_detail = "SMSC error 2: invalid login or password, or IP address not allowed"


class SmscNotFound(SmscRequestError):
    default_detail = "SMSC error 3: message not found"


class SmscIpBlocked(SmscRequestError):
    default_detail = "SMSC error 4: IP address temporarily blocked"


class SmscTooManyRequests(SmscRequestError):
    default_detail = "SMSC error 9: too many requests for this message or at once"


REQUEST_ERRORS: dict[int, type[SmscRequestError]] = {
    1: SmscBadParameters,
    2: SmscAuthError,
    3: SmscNotFound,
    4: SmscIpBlocked,
    9: SmscTooManyRequests,
}


def request_error(code: int, **context) -> SmscRequestError:
    """The exception for SMSC ``error`` ``code``; unknown codes get the generic class."""
    cls = REQUEST_ERRORS.get(code, SmscRequestError)
    detail = None if cls is not SmscRequestError else f"SMSC error {code}"
    return cls(detail, code=code, **context)


class SmscTransportError(SmscError):
    """No usable answer. ``before_sending`` is True when the request cannot have reached SMSC."""

    default_detail = "SMSC could not be reached"

    def __init__(self, detail: str | None = None, *, before_sending: bool = False, **ctx) -> None:
        self.before_sending = before_sending
        super().__init__(detail, **ctx)


class SmscTimeout(SmscTransportError):
    default_detail = "SMSC did not answer in time"


class SmscConnectionError(SmscTransportError):
    default_detail = "connection to SMSC failed"


class SmscAnswerTooLarge(SmscTransportError):
    """An answer larger than any SMSC sends (``transport.MAX_ANSWER``): refused unread, so a
    broken or hostile server cannot fill the process's memory."""

    default_detail = "SMSC's answer is larger than 1 MiB: not read"


class SmscHttpError(SmscTransportError):
    default_detail = "SMSC answered with an HTTP error"

    def __init__(self, detail: str | None = None, *, status_code: int, **context) -> None:
        self.status_code = status_code
        super().__init__(detail or f"SMSC answered HTTP {status_code}", **context)


class SmscProtocolError(SmscError):
    default_detail = "SMSC's answer does not match the protocol"


class SmscMalformedResponse(SmscProtocolError):
    default_detail = "malformed response from SMSC"


class SmscSoapFault(SmscProtocolError):
    default_detail = "SMSC answered with a SOAP fault"


class SmscInvalidRequest(SmscError):
    """A value cannot be sent to SMSC (e.g. a control character XML cannot carry); names the
    parameter, never its value. Nothing was sent."""

    default_detail = "the request holds characters SMSC cannot be sent"

    def __init__(self, detail: str | None = None, *, parameter: str = "", **ctx) -> None:
        self.parameter = parameter
        super().__init__(
            detail or (f"{parameter!r} holds characters that cannot be sent to SMSC" if parameter else None),
            **ctx,
        )


class SmscCallRefused(SmscError):
    """Raised before any request is sent: our side of SMSC's limits said no."""


class SmscCircuitOpen(SmscCallRefused):
    default_detail = "calls to SMSC are paused for this login"

    def __init__(self, detail: str | None = None, *, until: datetime | None = None, **ctx) -> None:
        self.until = until
        super().__init__(detail, **ctx)


class SmscBusy(SmscCallRefused):
    default_detail = "all request slots for this login are in use"


class SmscAccountNotConfigured(SmscCallRefused):
    """The message's account is not in ``SMSC_STATUS`` (removed, or renamed): it is left alone,
    not deleted, until the account is configured again."""

    default_detail = "the message's account is not configured"
