"""The message list's pages: page numbers with a capped count, or a keyset cursor.

``?page=N`` (the default, as before) counts the filtered messages only up to 10,000, or to
the end of page N if further (:class:`~django_smsc_status.pagination.CappedPaginator`):
``count`` is exact when ``count_exact`` is true, else "more than ``count``". An exact
``COUNT(*)`` of ten million rows took seconds on every page; now no page costs more than
reading it. ``?page=last`` is gone with the exact count (a 404, as any page that is not
there).

``?cursor=`` (empty for the first page, then the ``next``/``previous`` links) walks the
whole list by keyset (DRF's :class:`~rest_framework.pagination.CursorPagination`): each
page starts after the last row of the one before, by ``created_at`` (newest first, or
``?ordering=created_at``) or ``id``, so a walk costs the same at the millionth row as at the
first, and rows added meanwhile neither shift nor repeat the rows still to come (newest
first: they come before the walk's start and are not seen; oldest first: they come at its
end). No count.
"""

from __future__ import annotations

import functools
import re
from datetime import timezone as dt_timezone

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, CursorPagination, PageNumberPagination
from rest_framework.response import Response

from ..pagination import CappedPaginator

#: Cursor orderings: a column the walk can resume from, then the key for ties.
CURSOR_ORDERINGS = {
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "-id": ("-id",),
    "id": ("id",),
}
MAX_ID = 2**63 - 1


class CappedPageNumberPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    last_page_strings = ()  # the last page is not known without counting everything

    def paginate_queryset(self, queryset, request, view=None):
        page = request.query_params.get(self.page_query_param, 1)
        self.django_paginator_class = functools.partial(CappedPaginator, page=page)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response(
            {
                "count": paginator.count if paginator.is_exact else paginator.counted_to,
                "count_exact": paginator.is_exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )


class KeysetPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = CURSOR_ORDERINGS["-created_at"]
    invalid_cursor_message = _("Invalid cursor")  # type: ignore[assignment]

    def get_ordering(self, request, queryset, view):
        wanted = request.query_params.get("ordering", "").strip()
        if not wanted:
            return self.ordering
        if wanted not in CURSOR_ORDERINGS:
            allowed = ", ".join(CURSOR_ORDERINGS)
            message = _("With cursor, order by %(allowed)s.") % {"allowed": allowed}
            raise ValidationError({"ordering": [message]})
        return CURSOR_ORDERINGS[wanted]

    def decode_cursor(self, request):
        """DRF's, with a position that is not a date (or id) an invalid cursor, not a 500."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            if self.ordering[0].lstrip("-") == "id":  # ASCII digits ("²" is a digit to isdigit())
                valid = bool(re.fullmatch(r"[0-9]{1,19}", cursor.position)) and int(cursor.position) <= MAX_ID
            else:
                try:
                    moment = parse_datetime(cursor.position)
                    # a time in UTC at all (0001-01-01T00:00+05:00 is not; SQLite would fail)
                    valid = bool(moment and moment.tzinfo and moment.astimezone(dt_timezone.utc))
                except (ValueError, OverflowError):
                    valid = False
            if not valid:
                raise NotFound(self.invalid_cursor_message)
        return cursor


class MessagePagination(BasePagination):
    """Page numbers (``?page=``, capped count) unless ``?cursor=`` asks for the keyset walk."""

    cursor_query_param = "cursor"

    def __init__(self) -> None:
        self.pages = CappedPageNumberPagination()
        self.keyset = KeysetPagination()
        self.page_query_param = self.pages.page_query_param
        self.page_size_query_param = self.pages.page_size_query_param
        self.active: BasePagination = self.pages

    def paginate_queryset(self, queryset, request, view=None):
        if self.cursor_query_param in request.query_params:
            if getattr(view, "action", "list") != "list":
                raise ValidationError({self.cursor_query_param: [_("Only the message list takes a cursor.")]})
            if self.page_query_param in request.query_params:
                raise ValidationError({self.cursor_query_param: [_("Give cursor or page, not both.")]})
            self.active = self.keyset
        return self.active.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        return self.active.get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "description": "Page numbers (?page=): the matching messages, counted up to "
                    "10,000 or to the end of the requested page; exact if count_exact is true, "
                    "else more than count match. Absent with ?cursor=.",
                    "example": 123,
                },
                "count_exact": {
                    "type": "boolean",
                    "description": "Whether count is the exact number (false: counting stopped; more "
                    "than count match). Absent with ?cursor=.",
                },
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        page = self.pages.get_schema_operation_parameters(view)
        for parameter in page:
            if parameter["name"] == self.page_query_param:
                parameter["description"] = (
                    "Page number (1, 2, ...); not with cursor. A page past the last is a 404."
                )
        if getattr(view, "action", "list") != "list":
            return page
        cursor = {
            "name": self.cursor_query_param,
            "required": False,
            "in": "query",
            "description": "Keyset pagination: empty for the first page, then the next or "
            "previous link's value. Ordering by -created_at (default), created_at, -id or id "
            "only; no count.",
            "schema": {"type": "string"},
        }
        return [*page, cursor]
