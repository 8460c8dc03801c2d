"""JSON for every API error, and SMSC errors as stable types.

An error body never names a Python class: ``{"type": "smsc_not_found", "code": 3,
"detail": "..."}``. ``type`` is one of :data:`~django_smsc_status.error_types.ERROR_TYPES`
(listed in the README), ``code`` is SMSC's number where there is one, ``detail`` is in the
request's language.

Django refuses some requests itself, with its HTML 400 page (they are ``SuspiciousOperation``):
a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS``
parameters. :class:`JsonErrorsMixin` answers them in the same shape, ``{"type":
"request_too_large", "code": null, "detail": "..."}``: 413 for the body (what the status
means; Django says 400, and DRF lets the exception through to Django) and 400
(``too_many_parameters``) for the parameters.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from ..error_types import ERROR_TYPES, REQUEST_TOO_LARGE, TOO_MANY_PARAMETERS, error_type
from ..exceptions import SmscError
from .schema import extend_schema

__all__ = [
    "ERROR_TYPES",
    "JsonErrorsMixin",
    "SafeJSONParser",
    "error_body",
    "error_type",
    "not_found",
]


def error_body(error: SmscError | None) -> dict | None:
    if error is None:
        return None
    kind, label = error_type(error)
    return {"type": kind, "code": error.code, "detail": label}


class SafeJSONParser(JSONParser):
    """DRF's JSONParser, with JSON nested too deep for Python a 400 instead of a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error: nested too deeply.")) from None


class JsonErrorsMixin:
    """For API views: Django's own refusals of a request as JSON errors (see the module)."""

    def handle_exception(self, exc):
        if isinstance(exc, RequestDataTooBig):
            kind, code = REQUEST_TOO_LARGE, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            detail = _("The request body is larger than %(limit)s bytes.") % {
                "limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            }
        elif isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
            kind, code = TOO_MANY_PARAMETERS, status.HTTP_400_BAD_REQUEST
            detail = _("The request has more than %(limit)s parameters.") % {
                "limit": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
            }
        else:
            return super().handle_exception(exc)
        return Response({"type": kind, "code": None, "detail": str(detail)}, status=code)


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def not_found(request, *args, **kwargs):
    """JSON 404 for any path under the API that matches no endpoint."""
    raise NotFound()
