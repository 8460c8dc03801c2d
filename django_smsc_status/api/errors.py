"""JSON for every API error, and SMSC errors as stable types.

An error body never names a Python class: ``{"type": "smsc_not_found", "code": 3,
"detail": "..."}``. ``type`` is one of :data:`~django_smsc_status.error_types.ERROR_TYPES`
(listed in docs/reference/rest-api.rst), ``code`` is SMSC's number where there is one, ``detail`` is in the
request's language.

Django refuses some requests itself, with its HTML 400 page (they are ``SuspiciousOperation``):
a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS``
parameters. :class:`JsonErrorsMixin` answers them in the same shape, ``{"type":
"request_too_large", "code": null, "detail": "..."}``: 413 for the body (what the status
means; Django says 400, and DRF lets the exception through to Django) and 400
(``too_many_parameters``) for the parameters.

Every 400 has one shape: ``type``, ``code`` (null) and ``detail``, and, when fields or query
parameters are at fault, their errors beside them as DRF gives them (``{"type":
"invalid_input", "code": null, "detail": "Invalid input: phone.", "phone": ["..."]}``);
a body that is not JSON is ``invalid_json``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from ..error_types import (
    ERROR_TYPES,
    INVALID_INPUT,
    INVALID_JSON,
    REQUEST_TOO_LARGE,
    TOO_MANY_PARAMETERS,
    error_type,
)
from ..exceptions import SmscError
from .schema import extend_schema

__all__ = [
    "ERROR_TYPES",
    "JsonErrorsMixin",
    "SafeJSONParser",
    "error_body",
    "error_type",
    "not_found",
    "refuse_unknown_parameters",
    "unknown_parameters",
]


UNKNOWN_PARAMETERS = "unknown_parameters"  # the key of their errors in a 400


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
            response = super().handle_exception(exc)
            if response.status_code == status.HTTP_400_BAD_REQUEST:
                response.data = bad_request_body(exc, response.data)
            return response
        return Response({"type": kind, "code": None, "detail": str(detail)}, status=code)


def bad_request_body(exc: Exception, data) -> dict:
    """A 400's body in the one shape of the module doc."""
    if isinstance(exc, ParseError):
        return {"type": INVALID_JSON, "code": None, "detail": str(exc.detail)}
    fields = data if isinstance(data, dict) else {api_settings.NON_FIELD_ERRORS_KEY: data}
    detail = _("Invalid input: %(fields)s.") % {"fields": ", ".join(map(str, fields))}
    return {"type": INVALID_INPUT, "code": None, "detail": str(detail), **fields}


def unknown_parameters(request, known: Iterable[str]) -> dict[str, list]:
    """The error naming the query parameters a view does not take (empty if none): a misspelt
    filter would otherwise be ignored, and select everything."""
    unknown = sorted(set(request.query_params) - set(known) - {api_settings.URL_FORMAT_OVERRIDE})
    if not unknown:
        return {}
    names = ", ".join(name[:40] for name in unknown[:10])
    return {UNKNOWN_PARAMETERS: [_("Unknown query parameters: %(names)s.") % {"names": names}]}


def refuse_unknown_parameters(request, known: Iterable[str]) -> None:
    """A 400 naming the query parameters the view does not take (see above)."""
    errors = unknown_parameters(request, known)
    if errors:
        raise ValidationError(errors)


@extend_schema(exclude=True)
class NotFoundView(APIView):
    """JSON 404 for any path under the API that matches no endpoint, whatever the method."""

    authentication_classes = ()
    permission_classes = ()

    def initial(self, request, *args, **kwargs):
        raise NotFound()

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        del response["Allow"]  # nothing is allowed on a path that does not exist
        return response


not_found = NotFoundView.as_view()
