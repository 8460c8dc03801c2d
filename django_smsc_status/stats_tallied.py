"""``stats`` from the per-day tallies (PostgreSQL, see ``tallies``): the fast path.

A request whose filters the tallies can express (:class:`TallyFilter`: sending-time bounds,
account, status codes, final or pending) is answered in two queries whatever the table's size
(one more reads the tallies' time zone):

* the figures: the tallies and the deltas not folded yet, for the whole local days inside the
  sending-time bounds, plus a live ``GROUP BY`` of the rest (the *live tail*: the partial days
  at the edges of the range, anything sent before ``validation.EARLIEST_DATE`` or from
  tomorrow on), added up by one outer ``GROUP BY``;
* for ``day`` and no grouping, ``median_seconds``: the same union over the histogram of whole
  seconds to the final status, and the median read off its running sums.

Both are exactly what the live ``GROUP BY`` of ``stats`` gives (whose median is also over whole
seconds); ``tests/test_stats_tallies.py`` compares them after random writes, prunes and
concurrent sweeps.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Count, DateField, IntegerField, Q, QuerySet, Value
from django.utils import timezone

from . import tallies
from .codes import SUCCESS_STATUSES
from .stats import GROUPS, TallyFilter, WholeSeconds, _aggregates, median_condition, sending_day
from .validation import EARLIEST_DATE, FUTURE_LEEWAY

#: Per group_by: the tally kind that answers it, and the SQL of its group key.
KIND_AND_KEY = {
    "day": ("err", "day"),
    "operator": ("operator", "key"),
    "region": ("region", "key"),
    "err": ("err", "key::integer"),
    "status": ("err", "status"),
    "account": ("err", "account"),
    None: ("err", "NULL::text"),  # as an untyped NULL of the live part comes out
}


def usable(using: str = DEFAULT_DB_ALIAS) -> bool:
    """The tallies are there and in the site's time zone (one query on PostgreSQL)."""
    db = connections[using]
    return tallies.enabled(db) and tallies.current_time_zone(db) == settings.TIME_ZONE


def day_start(day: date) -> datetime:
    """The first instant of a local day (a skipped midnight resolves to the first instant after)."""
    return datetime.combine(day, time(), tzinfo=timezone.get_default_timezone()).astimezone(dt_timezone.utc)


def local_date(moment: datetime) -> date:
    return moment.astimezone(timezone.get_default_timezone()).date()


def tallied_range(spec: TallyFilter, now: datetime | None = None) -> tuple[datetime, datetime]:
    """``[start, end)``: the whole local days the tallies answer for (may be empty). Only
    bounds inside the tallied years are turned into local dates: a bound of year 1 or 9999
    (which the API takes) cannot overflow."""
    start = day_start(local_date(EARLIEST_DATE) + timedelta(days=1))
    end = day_start(local_date((now or timezone.now()) + FUTURE_LEEWAY))
    after, before = spec.sent_after, spec.sent_before
    if after is not None and after > start:
        first = local_date(min(after, end))
        start = after if day_start(first) == after else day_start(first + timedelta(days=1))
    if before is not None and before < end:
        end = day_start(local_date(max(before, start)))
    return start, max(start, end)


def _where(spec: TallyFilter, start: datetime, end: datetime) -> tuple[str, list[Any]]:
    """The tally rows of ``spec`` inside ``[start, end)``."""
    sql = ["day >= %s", "day < %s"]
    params: list[Any] = [local_date(start), local_date(end)]
    if spec.sent_after is not None or spec.sent_before is not None:
        sql.append("has_sent")
    if spec.account is not None:
        sql.append("account = %s")
        params.append(spec.account)
    if spec.statuses is not None:
        codes = [code for code in spec.statuses if code is not None]
        either = ["status = ANY(%s)"] + (["status IS NULL"] if None in spec.statuses else [])
        sql.append("(" + " OR ".join(either) + ")")
        params.append(codes)
    if spec.is_final is not None:
        sql.append("is_final" if spec.is_final else "NOT is_final")
    return " AND ".join(sql), params


def _tallied_rows(kind: str, columns: str, where: str) -> str:
    """Tally rows of ``kind`` and the deltas not folded yet, as one row source."""
    deltas = tallies.kind_sql(kind, tallies.DELTA)
    return (
        f"SELECT {columns} FROM (SELECT day, account, key, status, is_final, has_sent, n, cost "
        f"FROM {tallies.TALLY} WHERE kind = '{kind}' UNION ALL "
        f"SELECT day, account, key, status, is_final, has_sent, sign, sign * cost FROM ({deltas}) AS d) AS t "
        f"WHERE {where}"
    )


def live_tails(queryset: QuerySet, spec: TallyFilter, start: datetime, end: datetime) -> list[QuerySet]:
    """The messages of ``queryset`` sent outside ``[start, end)``, as disjoint parts, each one
    range of one index bounded on both sides where the request is (``sent_at``; ``created_at``
    for a message without a sending time, which a sending-time filter leaves out anyway): the
    tail reads the rows of the partial days, never those of the tallied ones. Parts, not one
    ``OR``: PostgreSQL may scan all of ``sent_at >= sent_after`` for an ``OR`` (seen at 10M)."""
    before, after = Q(sent_at__lt=start), Q(sent_at__gte=end)
    if spec.sent_after is not None:
        before &= Q(sent_at__gte=spec.sent_after)
    if spec.sent_before is not None:
        after &= Q(sent_at__lt=spec.sent_before)
    parts = [before, after]
    if spec.sent_after is None and spec.sent_before is None:
        parts += [Q(sent_at__isnull=True, created_at__lt=start), Q(sent_at__isnull=True, created_at__gte=end)]
    return [queryset.filter(part).order_by() for part in parts]


def _union(parts: list[QuerySet], wrap: str) -> tuple[str, list[Any]]:
    """``UNION ALL`` of the parts' SQL (each wrapped by ``wrap``), and their parameters."""
    sql: list[str] = []
    params: list[Any] = []
    for part in parts:
        part_sql, part_params = part.query.sql_with_params()
        sql.append(wrap.format(part_sql))
        params.extend(part_params)
    return " UNION ALL ".join(sql), params


def figures(
    queryset: QuerySet, group_by: str | None, spec: TallyFilter, limit: int | None
) -> list[dict[str, Any]]:
    """Rows as ``stats.stats_query`` gives them (``key`` and the counted figures), ordered
    and limited the same way; ``median_seconds`` filled by :func:`medians`."""
    kind, key = KIND_AND_KEY[group_by]
    start, end = tallied_range(spec)
    where, params = _where(spec, start, end)
    success = sorted(SUCCESS_STATUSES)
    tallied = _tallied_rows(
        kind,
        f"{key} AS key, sum(n) AS total, "
        "sum(n) FILTER (WHERE is_final AND status = ANY(%s)) AS delivered, "
        "sum(n) FILTER (WHERE is_final AND (status IS NULL OR NOT status = ANY(%s))) AS failed, "
        "sum(n) FILTER (WHERE NOT is_final) AS pending, sum(cost) AS cost",
        where + " GROUP BY 1",
    )
    expression = GROUPS[group_by].expression() if group_by else Value(None, IntegerField())
    counted = _aggregates(median=False)
    del counted["median_seconds"]
    live_sql, live_params = _union(
        [
            tail.annotate(key=expression).values("key").annotate(**counted)
            for tail in live_tails(queryset, spec, start, end)
        ],
        "SELECT * FROM ({}) AS l",
    )
    order = "1" if group_by == "day" else "2 DESC, 1"  # the live ordering: days, or volume
    sql = (
        "SELECT key, sum(total)::bigint, coalesce(sum(delivered), 0)::bigint, "
        "coalesce(sum(failed), 0)::bigint, coalesce(sum(pending), 0)::bigint, coalesce(sum(cost), 0) "
        f"FROM ({tallied} UNION ALL {live_sql}) AS u GROUP BY key HAVING sum(total) <> 0 "
        f"ORDER BY {order} NULLS LAST" + (f" LIMIT {int(limit)}" if limit is not None else "")
    )
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, [success, success, *params, *live_params])
        names = ("key", "total", "delivered", "failed", "pending", "cost")
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def medians(queryset: QuerySet, by_day: bool, spec: TallyFilter) -> dict[Any, float | None]:
    """``median_seconds`` per day (``by_day``) or overall (key None): ``percentile_cont(0.5)``
    of whole seconds, read off the histogram's running sums."""
    start, end = tallied_range(spec)
    where, params = _where(spec, start, end)
    # the least detailed histogram that can answer: a fraction of the rows of the full one
    kind = "seconds" if spec.statuses is not None else "sec_acct" if spec.account is not None else "sec_all"
    tallied = _tallied_rows(
        kind,
        f"{'day' if by_day else 'NULL::date'} AS g, key::bigint AS v, sum(n)::bigint AS c",
        where + " GROUP BY 1, 2",
    )
    live_sql, live_params = _union(
        [
            tail.filter(median_condition())
            .annotate(g=sending_day() if by_day else Value(None, DateField()), v=WholeSeconds())
            .values("g", "v")
            .annotate(c=Count("pk"))
            for tail in live_tails(queryset, spec, start, end)
        ],
        "SELECT g::date, v::bigint, c FROM ({}) AS l",
    )
    sql = f"""
        WITH h AS (SELECT g, v, sum(c)::bigint AS c
                   FROM ({tallied} UNION ALL {live_sql}) AS u
                   GROUP BY g, v HAVING sum(c) > 0),
        r AS (SELECT g, v, sum(c) OVER (PARTITION BY g ORDER BY v) AS upto,
                     (sum(c) OVER (PARTITION BY g))::bigint AS total FROM h)
        SELECT g, (min(v) FILTER (WHERE upto >= (total + 1) / 2)
                   + min(v) FILTER (WHERE upto >= total / 2 + 1)) / 2.0
        FROM r GROUP BY g
    """
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, [*params, *live_params])
        return {g: float(value) for g, value in cursor.fetchall()}


def tallied_stats(
    queryset: QuerySet, group_by: str | None, spec: TallyFilter, limit: int | None
) -> list[dict[str, Any]]:
    """``stats.stats``'s rows before labels and rounding (``key`` and :data:`stats.FIGURES`
    but ``delivery_rate``)."""
    rows = figures(queryset, group_by, spec, limit)
    grouping = GROUPS[group_by] if group_by else None
    if grouping is None or grouping.median:
        found = medians(queryset, grouping is not None, spec)
        for row in rows:
            row["median_seconds"] = found.get(row["key"])
    else:
        for row in rows:
            row["median_seconds"] = None
    return rows
