"""CSV for the admin: the report's numbers, and a streamed export of messages.

Cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` …) are prefixed with
an apostrophe: operator, region, sender and text come from outside. Times are ISO-8601 UTC.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from django.db.models import QuerySet

from .stats import FIGURES

MESSAGE_COLUMNS = (
    "id",
    "smsc_id",
    "phone",
    "status",
    "status_label",
    "err",
    "err_label",
    "is_final",
    "sent_at",
    "status_changed_at",
    "cost",
    "sms_count",
    "operator",
    "region",
    "sender",
    "text",
    "created_at",
)


class _Echo:
    def write(self, value: str) -> str:
        return value


def cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([cell(v) for v in row])


def stats_csv(rows: list[dict], group_by: str) -> Iterator[str]:
    """The rows of :func:`stats.stats` as CSV lines (header first)."""
    header = (group_by, "label", *FIGURES)
    return _lines([header, *([row["key"], row["label"], *(row[f] for f in FIGURES)] for row in rows)])


def messages_csv(queryset: QuerySet, chunk_size: int = 2000) -> Iterator[str]:
    """Every message of ``queryset`` as CSV lines, read in chunks (memory stays flat)."""

    def rows():
        yield MESSAGE_COLUMNS
        for message in queryset.order_by("pk").iterator(chunk_size=chunk_size):
            yield [
                str(message.status_info.label)
                if c == "status_label"
                else str(message.err_info.label)
                if c == "err_label"
                else getattr(message, c)
                for c in MESSAGE_COLUMNS
            ]

    return _lines(rows())
