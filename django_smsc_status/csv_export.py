"""CSV for the admin: the report's numbers, and a streamed export of messages.

Text cells that a spreadsheet could run as a formula are prefixed with an apostrophe
(:func:`cell`, OWASP's CSV-injection guidance): operator, region, sender and text come from
outside. Times are ISO-8601 UTC. Messages carry their ``account``: one SMSC id may exist in
each account.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from django.db.models import QuerySet

from .codes import describe_err
from .stats import FIGURES

MESSAGE_COLUMNS = (
    "id",
    "account",
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


#: Signs a spreadsheet may read as the start of a formula, even after leading white space
#: (space, newline): ASCII and full-width (some spreadsheets fold ＝ to =).
FORMULA_SIGNS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")


def cell(value: Any) -> Any:
    """One CSV cell: times as ISO-8601 UTC, text that could start a formula neutralised."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and (value[:1] in ("\t", "\r") or value.lstrip()[:1] in FORMULA_SIGNS):
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
            labels = {
                "status_label": message.status_info.label,
                "err_label": describe_err(message.err, message.status).label,
            }
            yield [labels[c] if c in labels else getattr(message, c) for c in MESSAGE_COLUMNS]

    return _lines(rows())
