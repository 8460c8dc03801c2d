"""A stable, documented type and a translated meaning for every :class:`SmscError`.

The API's error bodies carry the type (never a Python class name); the admin, the API and
:attr:`RefreshResult.detail <django_smsc_status.outcomes.RefreshResult.detail>` show the meaning
in the user's language. docs/reference/rest-api.rst lists the types. Each exception class carries its own
(``exceptions``); this module lists them, with the API's refusals of a request itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exceptions import SmscError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _family(cls: type[SmscError]) -> list[type[SmscError]]:
    """``cls`` and the classes of ``exceptions`` below it."""
    children = [c for c in cls.__subclasses__() if c.__module__ == SmscError.__module__]
    return [cls, *(sub for child in children for sub in _family(child))]


#: Exception class -> (stable type, what it means in the user's language), for every class of
#: ``exceptions`` (each carries its own; a subclass added later inherits its family's).
ERROR_TYPES: dict[type[SmscError], tuple[str, StrOrPromise]] = {
    cls: (cls.error_type, cls.label) for cls in _family(SmscError)
}


#: Types of the API's refusals of a request itself, before SMSC or a serializer is involved.
REQUEST_TOO_LARGE = "request_too_large"  # body over DATA_UPLOAD_MAX_MEMORY_SIZE (413)
TOO_MANY_PARAMETERS = "too_many_parameters"  # over DATA_UPLOAD_MAX_NUMBER_FIELDS (400)
INVALID_JSON = "invalid_json"  # a body that is not JSON (400)
INVALID_INPUT = "invalid_input"  # field or query-parameter errors, listed beside it (400)


def error_type(error: SmscError) -> tuple[str, str]:
    """The stable type and the translated meaning of ``error``."""
    return error.error_type, str(error.label)
