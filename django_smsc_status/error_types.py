"""A stable, documented type and a translated meaning for every :class:`SmscError`.

The API's error bodies carry the type (never a Python class name); the admin, the API and
:attr:`RefreshResult.detail <django_smsc_status.outcomes.RefreshResult.detail>` show the meaning
in the user's language. The README lists the types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from .codes import RequestError, describe
from .exceptions import (
    SmscAccountNotConfigured,
    SmscAuthError,
    SmscBadParameters,
    SmscBusy,
    SmscCallRefused,
    SmscCircuitOpen,
    SmscConnectionError,
    SmscError,
    SmscHttpError,
    SmscInvalidRequest,
    SmscIpBlocked,
    SmscMalformedResponse,
    SmscNotFound,
    SmscProtocolError,
    SmscRequestError,
    SmscSoapFault,
    SmscTimeout,
    SmscTooManyRequests,
    SmscTransportError,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

#: Exception class -> (stable type, what it means in the user's language). Looked up along the
#: class's MRO, so a subclass added later still gets its family's type.
ERROR_TYPES: dict[type[SmscError], tuple[str, StrOrPromise]] = {
    SmscBadParameters: ("smsc_bad_parameters", _("Error in parameters")),
    SmscAuthError: ("smsc_auth_failed", _("Invalid login or password, or IP address not allowed")),
    SmscNotFound: ("smsc_not_found", _("Not found at SMSC")),
    SmscIpBlocked: ("smsc_ip_blocked", _("IP address temporarily blocked")),
    SmscTooManyRequests: ("smsc_too_many_requests", _("Too many requests for the same message or at once")),
    SmscRequestError: ("smsc_request_error", _("SMSC refused the request")),
    SmscTimeout: ("smsc_timeout", _("SMSC did not answer in time")),
    SmscConnectionError: ("smsc_connection_failed", _("Connection to SMSC failed")),
    SmscHttpError: ("smsc_http_error", _("SMSC answered with an HTTP error")),
    SmscTransportError: ("smsc_unreachable", _("SMSC could not be reached")),
    SmscMalformedResponse: ("smsc_malformed_response", _("SMSC's answer could not be read")),
    SmscSoapFault: ("smsc_soap_fault", _("SMSC answered with a SOAP fault")),
    SmscProtocolError: ("smsc_protocol_error", _("SMSC's answer could not be read")),
    SmscInvalidRequest: (
        "message_data_invalid",
        _("The message holds characters that cannot be sent to SMSC"),
    ),
    SmscCircuitOpen: ("calls_paused", _("Calls to SMSC are paused for this login")),
    SmscBusy: ("no_free_slot", _("All request slots for this login are in use")),
    SmscAccountNotConfigured: (
        "account_not_configured",
        _("The message's SMSC account is not in the settings"),
    ),
    SmscCallRefused: ("call_refused", _("Calls to SMSC are paused or busy")),
    SmscError: ("smsc_error", _("SMSC request failed")),
}


#: Types of the API's refusals of a request itself, before SMSC or a serializer is involved.
REQUEST_TOO_LARGE = "request_too_large"  # body over DATA_UPLOAD_MAX_MEMORY_SIZE (413)
TOO_MANY_PARAMETERS = "too_many_parameters"  # over DATA_UPLOAD_MAX_NUMBER_FIELDS (400)
INVALID_JSON = "invalid_json"  # a body that is not JSON (400)
INVALID_INPUT = "invalid_input"  # field or query-parameter errors, listed beside it (400)


def error_type(error: SmscError) -> tuple[str, str]:
    """The stable type and the translated meaning of ``error``."""
    for cls in type(error).__mro__:
        if cls in ERROR_TYPES:
            kind, label = ERROR_TYPES[cls]
            if cls is SmscRequestError and error.code is not None:
                info = describe(RequestError, error.code)
                label = info.label if info.is_known else label
            return kind, str(label)
    return "smsc_error", str(_("SMSC request failed"))
