"""Delivery analytics computed by the database: one ``GROUP BY`` query, never rows in Python.

:func:`stats` groups any ``SentMessage`` queryset (the admin's filtered changelist, the API's
filtered list) by one of :data:`GROUPS` and returns, per group, ``total``, ``delivered``,
``failed``, ``pending``, ``delivery_rate``, ``cost`` and ``median_seconds``:

* *delivered*: final with a success status (delivered, read, link clicked); *failed*: final
  otherwise; *pending*: not final (given-up messages included). They add up to ``total``.
* ``delivery_rate`` = delivered / (delivered + failed): pending messages do not count against
  it; ``None`` while nothing is final.
* ``median_seconds``: median of the whole seconds (rounded down) from sending (``sent_at``,
  else ``created_at``) to the final status (``status_changed_at``), for ``day`` groups and the
  whole queryset (``None`` for the others: a median needs a sort of every row of its group,
  which made grouping by operator twice as slow as counting). Whole seconds because that is
  what the per-day tallies can keep (a histogram) and both ways must agree to the row.
  PostgreSQL computes it with ``percentile_cont``; SQLite with an aggregate registered on the
  connection (as Django does for ``STDDEV_POP``); other databases give ``None``. A message
  whose status changed before ``validation.EARLIEST_DATE`` is left out of it.
* A message's *day* is the date of its sending in the site's time zone (``TIME_ZONE``). A
  time outside :func:`validation.date_window` (a row written before dates were checked, e.g.
  9999-12-31T22:00Z, which is year 10000 east of UTC) makes an unknown day, and such a
  message is left out of ``median_seconds``: no stored value can make the query fail.

On PostgreSQL, :func:`stats` given a :class:`TallyFilter` (the API and the admin report make one
when every filter of the request is one the tallies hold) reads per-day tallies kept by
database triggers instead of every row (``tallies``, ``stats_tallied``): the same answer in a
constant number of queries at any size. Anything else is this module's one ``GROUP BY``.

To add a grouping, add one entry to :data:`GROUPS` (and, for the fast path, a tally kind or
column in ``tallies`` and ``stats_tallied.KIND_AND_KEY``; until then it is counted live).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, DecimalField, F, FloatField, Func, Q, QuerySet, Sum, Value, When
from django.db.models.aggregates import Aggregate
from django.db.models.functions import Coalesce, TruncDate
from django.db.models.lookups import Range
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .codes import SUCCESS_STATUSES, DeliveryError, MessageStatus, describe
from .validation import EARLIEST_DATE, date_window

SENT = Coalesce("sent_at", "created_at")


def in_date_window(expression: Any) -> Range:
    """``expression`` lies in :func:`validation.date_window` (so local-time functions cannot
    overflow on it)."""
    return Range(expression, date_window())


def sending_day() -> Case:
    """The local date of sending, NULL (an unknown day) when the time is not plausible."""
    return Case(When(in_date_window(SENT), then=TruncDate(SENT, tzinfo=timezone.get_default_timezone())))


class Seconds(Func):
    """``end - start`` in seconds, as a float (``NULL`` if either is ``NULL``)."""

    output_field = FloatField()
    arity = 2

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM (%(expressions)s))", arg_joiner=" - ", **extra
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )


class WholeSeconds(Func):
    """Whole seconds from sending to the status change (``FLOOR``): what the tallies' histogram
    holds, so both ways of computing ``median_seconds`` agree to the row."""

    function = "FLOOR"
    output_field = FloatField()

    def __init__(self) -> None:
        super().__init__(Seconds("status_changed_at", SENT))

    def as_sqlite(self, compiler, connection, **extra):
        # julianday() is a float of days: 120 s can come out as 119.99999; to the millisecond first
        return self.as_sql(compiler, connection, template="FLOOR(ROUND(%(expressions)s, 3))", **extra)


def median_condition() -> Q:
    """The messages ``median_seconds`` counts: final, sent at a plausible time, changed after
    ``EARLIEST_DATE``."""
    return Q(is_final=True) & Q(in_date_window(SENT)) & Q(status_changed_at__gte=EARLIEST_DATE)


class _SqliteMedian:
    """SQLite aggregate: the median of the non-NULL values of a group."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return statistics.median(self.values) if self.values else None


#: Databases on which ``median_seconds`` is computed; elsewhere (MariaDB/MySQL) it is ``None``.
MEDIAN_VENDORS = frozenset({"postgresql", "sqlite"})


class Median(Aggregate):
    function = "percentile_cont"
    name = "Median"
    output_field = FloatField()
    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"

    def as_sql(self, compiler, connection, **extra):  # databases without a median: NULL
        return "NULL", []

    def as_postgresql(self, compiler, connection, **extra):
        return Aggregate.as_sql(self, compiler, connection, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        connection.ensure_connection()
        raw = connection.connection
        if getattr(connection, "_smsc_median_on", None) is not raw:  # once per connection
            raw.create_aggregate("SMSC_MEDIAN", 1, _SqliteMedian)
            connection._smsc_median_on = raw
        median = self.copy()
        median.template = "SMSC_MEDIAN(%(expressions)s)"
        return Aggregate.as_sql(median, compiler, connection, **extra)


@dataclass(frozen=True)
class Grouping:
    """How to group: the SQL expression of the key, and how groups are ordered."""

    expression: Callable[[], Any]
    label: Callable[[Any], str]
    by_key: bool = False  # order by key (days) instead of by volume
    median: bool = False  # compute median_seconds


def _text_label(value: Any) -> str:
    return value or str(_("unknown"))


GROUPS: dict[str, Grouping] = {
    "day": Grouping(
        sending_day,
        lambda day: day.isoformat() if day else str(_("unknown")),
        by_key=True,
        median=True,
    ),
    "operator": Grouping(lambda: F("operator"), _text_label),
    "region": Grouping(lambda: F("region"), _text_label),
    "err": Grouping(lambda: F("err"), lambda code: str(describe(DeliveryError, code).label)),
    "status": Grouping(lambda: F("status"), lambda code: str(describe(MessageStatus, code).label)),
    "account": Grouping(lambda: F("account"), _text_label),
}


@dataclass(frozen=True)
class TallyFilter:
    """The filters of a request, when they are all of these (else there is none: live).
    Given to :func:`stats`, it may answer from the per-day tallies (``stats_tallied``)."""

    sent_after: datetime | None = None  # sent_at >= (aware)
    sent_before: datetime | None = None  # sent_at < (aware)
    account: str | None = None
    statuses: tuple[int | None, ...] | None = None  # None in it: not checked yet
    is_final: bool | None = None


FIGURES = ("total", "delivered", "failed", "pending", "delivery_rate", "cost", "median_seconds")


def _aggregates(median: bool = True) -> dict[str, Any]:
    final, success = Q(is_final=True), Q(status__in=sorted(SUCCESS_STATUSES))
    return {
        "total": Count("pk"),
        "delivered": Count("pk", filter=final & success),
        "failed": Count("pk", filter=final & ~success),
        "pending": Count("pk", filter=Q(is_final=False)),
        "cost": Coalesce(
            Sum("cost"), Value(Decimal(0)), output_field=DecimalField(max_digits=20, decimal_places=4)
        ),
        # the condition as CASE, not ``filter=``: Median's own templates would drop a FILTER
        # clause on Django 6.0 (which puts it in the template) while keeping its parameters
        "median_seconds": (
            Median(Case(When(median_condition(), then=WholeSeconds())))
            if median
            else Value(None, FloatField())
        ),
    }


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    decided = row["delivered"] + row["failed"]
    row["delivery_rate"] = round(row["delivered"] / decided, 4) if decided else None
    row["cost"] = Decimal(row["cost"]).quantize(Decimal("0.0001"))
    if row["median_seconds"] is not None:
        row["median_seconds"] = round(row["median_seconds"], 1)
    return row


def stats_query(queryset: QuerySet, group_by: str) -> QuerySet:
    """The ``GROUP BY`` query behind :func:`stats` (a values queryset; e.g. to ``explain()``)."""
    try:
        grouping = GROUPS[group_by]
    except KeyError:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}, got {group_by!r}") from None
    return (
        queryset.order_by()  # an ordering would join the GROUP BY
        .annotate(key=grouping.expression())
        .values("key")
        .annotate(**_aggregates(grouping.median))
        .order_by(*(() if grouping.by_key else ("-total",)), F("key").asc(nulls_last=True))
    )


def stats(
    queryset: QuerySet,
    group_by: str | None = "day",
    *,
    limit: int | None = None,
    account: str | None = None,
    tally: TallyFilter | None = None,
) -> list[dict[str, Any]]:
    """Delivery figures of ``queryset`` per group (see the module docstring).

    Each row: ``key`` (date, code or text), ``label`` (readable, in the active language) and
    :data:`FIGURES`. ``group_by=None`` gives one row for the whole queryset (``key`` None).
    Days come in date order, other groups by volume (largest first); ``limit`` keeps the first N.
    ``account`` keeps the messages of that account only (any name, configured or not: the
    history of a removed account still counts).

    ``tally``: the filters that made ``queryset``, when :class:`TallyFilter` can say them all;
    then, on PostgreSQL, the answer comes from the per-day tallies (``stats_tallied``): the
    same rows in a constant number of queries whatever the table's size.
    """
    if account is not None:
        queryset = queryset.filter(account=account)
        tally = replace(tally, account=account) if tally and tally.account in (None, account) else None
    if group_by is not None and group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}, got {group_by!r}")
    if tally is not None:
        from . import stats_tallied  # it builds on this module

        if group_by in stats_tallied.KIND_AND_KEY and stats_tallied.usable(queryset.db):
            found = stats_tallied.tallied_stats(queryset, group_by, tally, limit)
            if group_by is None and not found:
                found = [
                    {"key": None, **dict.fromkeys(FIGURES, 0), "cost": Decimal(0), "median_seconds": None}
                ]
            return [_labelled(row, group_by) for row in found]
    if group_by is None:
        row = _finish(queryset.order_by().aggregate(**_aggregates()))
        return [{"key": None, "label": str(_("All messages")), **row}]
    rows = stats_query(queryset, group_by)
    if limit is not None:
        rows = rows[:limit]
    return [_labelled(row, group_by) for row in rows]


def _labelled(row: dict[str, Any], group_by: str | None) -> dict[str, Any]:
    label = GROUPS[group_by].label(row["key"]) if group_by else str(_("All messages"))
    return {
        "key": row["key"],
        "label": label,
        **_finish({f: row[f] for f in FIGURES if f != "delivery_rate"}),
    }


def combine(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One row adding up ``rows`` (disjoint groups of one :func:`stats` call), without a query.

    Medians do not add up: ``median_seconds`` is ``None``.
    """
    total = {f: sum(row[f] for row in rows) for f in ("total", "delivered", "failed", "pending")}
    total["cost"] = sum((row["cost"] for row in rows), Decimal(0))
    total["median_seconds"] = None
    return {"key": None, "label": str(_("All messages")), **_finish(total)}
