"""drf-spectacular is optional: without it the schema decorators do nothing.

With it, :class:`SmscAutoSchema` documents the error answers every endpoint can give
(400 bad input, 401/403 permissions, 404 unknown id or page, 413 body too large, 429
throttled), so clients and
schemathesis know every status the API may return.
"""

from __future__ import annotations

try:
    from drf_spectacular.openapi import AutoSchema
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import (
        OpenApiParameter,
        OpenApiResponse,
        extend_schema,
        extend_schema_field,
    )
except ImportError:  # pragma: no cover - exercised only without the openapi extra
    AutoSchema = OpenApiTypes = None  # type: ignore[assignment,misc]

    def _passthrough(*args, **kwargs):
        return lambda target: target

    extend_schema = extend_schema_field = _passthrough

    def OpenApiResponse(*args, **kwargs):  # type: ignore[no-redef]
        return None

    def OpenApiParameter(*args, **kwargs):  # type: ignore[no-redef]
        return None


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": '{"detail": "..."}; for 400 {"type": "...", "code": null, '
                    '"detail": "...", "field": ["error", ...]} (field errors when any)',
                }
            }
        },
    }


if AutoSchema is not None:

    class SmscAutoSchema(AutoSchema):
        def _get_response_bodies(self, direction="response"):
            responses = super()._get_response_bodies(direction)
            common = {
                "400": "Invalid input: field errors, a bad filter value, an unknown query parameter",
                "401": "Not authenticated",
                "403": "Authenticated but without the needed permission",
                "404": "No such message, or no such page",
            }
            if getattr(self.view, "throttle_scope", None) or self.method == "POST":
                common["429"] = "Throttled: see Retry-After"
            if self.method == "POST":
                common["413"] = "Request body larger than DATA_UPLOAD_MAX_MEMORY_SIZE"
            for code, text in common.items():
                responses.setdefault(code, _error(text))
            return responses

    SCHEMA = SmscAutoSchema()
else:  # pragma: no cover
    SCHEMA = None  # type: ignore[assignment]

__all__ = [
    "SCHEMA",
    "OpenApiParameter",
    "OpenApiResponse",
    "OpenApiTypes",
    "extend_schema",
    "extend_schema_field",
]
