"""``stats`` from the per-day tallies (PostgreSQL, see ``tallies``): the fast path.

A request whose filters the tallies can express (:class:`TallyFilter`: sending-time bounds,
account, status codes, final or pending) is answered in two queries whatever the table's size
(one more reads the tallies' time zone):

* the figures: the tallies and the deltas not folded yet, for the whole local days inside the
  sending-time bounds and, for the kinds kept per hour, the whole local hours of the partial
  days at its edges (:func:`coverage`), plus a live ``GROUP BY`` of the rest (the *live tail*:
  the partial hours, or days, at the edges of the range, anything sent before
  ``validation.EARLIEST_DATE`` or from tomorrow on), added up by one outer ``GROUP BY``;
* for ``day`` and no grouping, ``median_seconds``: the same union over the histogram of whole
  seconds to the final status, and the median read off its running sums.

Both are exactly what the live ``GROUP BY`` of ``stats`` gives (whose median is also over whole
seconds); ``tests/test_stats_tallies.py`` compares them after random writes, prunes and
concurrent sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    """The first instant of a local day, as ``datetime.combine`` makes it (a skipped midnight
    resolves to an instant after; near a clock change, :func:`coverage` checks it)."""
    return datetime.combine(day, time(), tzinfo=timezone.get_default_timezone()).astimezone(dt_timezone.utc)


def local_date(moment: datetime) -> date:
    return moment.astimezone(timezone.get_default_timezone()).date()


#: A tally unit (local hour or day) as the triggers key it: (local date, local hour or 0).
Key = tuple[date, int]
MINUTE = timedelta(minutes=1)
#: No clock change since 2000 moved the clocks by more than this (Troll: 2 h); within it of a
#: change, boundaries are checked minute by minute (every change since 2000 is on a minute).
NEAR = timedelta(hours=3)
#: How far a boundary is searched for near a clock change before giving up (all live then).
SEARCH = 3 * 24 * 60


def _key(moment: datetime, hourly: bool) -> Key:
    local = moment.astimezone(timezone.get_default_timezone())
    return local.date(), local.hour if hourly else 0


def _steady(moment: datetime) -> bool:
    """No clock change within :data:`NEAR` of ``moment``."""
    zone = timezone.get_default_timezone()
    return (moment - NEAR).astimezone(zone).utcoffset() == (moment + NEAR).astimezone(zone).utcoffset()


def _clean(moment: datetime, hourly: bool) -> bool:
    """A tally unit starts at ``moment`` and none has instants on both sides of it: where the
    clocks go back over an hour's (or day's) start, that unit comes twice and is no boundary."""
    if _key(moment - MINUTE, hourly) == _key(moment, hourly):
        return False
    steps = int(NEAR / MINUTE)
    before = {_key(moment - MINUTE * i, hourly) for i in range(1, steps + 1)}
    return not any(_key(moment + MINUTE * i, hourly) in before for i in range(steps))


def _fast_boundary(moment: datetime, hourly: bool, up: bool) -> datetime:
    """The start of the unit after (``up``) or of the unit of ``moment``, by wall-clock arithmetic:
    right wherever no clock change is near."""
    local = moment.astimezone(timezone.get_default_timezone())
    day, hour = local.date(), local.hour if hourly else 0
    floor = datetime.combine(day, time(hour), tzinfo=local.tzinfo).astimezone(dt_timezone.utc)
    if not up or floor == moment:
        return floor
    if hourly and hour < 23:
        return datetime.combine(day, time(hour + 1), tzinfo=local.tzinfo).astimezone(dt_timezone.utc)
    return day_start(day + timedelta(days=1))


def boundary(moment: datetime, hourly: bool, up: bool) -> datetime | None:
    """The first instant at or after ``moment`` (``up``), or the last at or before it, where a
    tally unit (local hour if ``hourly``, else day) starts and that no unit straddles: the
    tallies may answer for whole units between two such instants. None if none was found near a
    clock change (the caller counts live)."""
    fast = _fast_boundary(moment, hourly, up)
    if (fast >= moment if up else fast <= moment) and _steady(fast):
        return fast
    candidate = moment.replace(second=0, microsecond=0)
    if up and candidate < moment:
        candidate += MINUTE
    step = MINUTE if up else -MINUTE
    for _ in range(SEARCH):
        if _clean(candidate, hourly):
            return candidate
        candidate += step
    return None


@dataclass(frozen=True)
class Coverage:
    """What the tallies answer for a request: the messages sent in ``[start, end)``, from the
    day rows of the local days ``[days[0], days[1])`` and the hour rows whose (day, hour) lies
    in one of ``hours`` (``[from, to)`` ranges of keys, at the edges); everything else the
    request takes is counted live."""

    start: datetime
    end: datetime
    days: tuple[date, date]
    hours: tuple[tuple[Key, Key], ...] = ()


def coverage(spec: TallyFilter, hourly: bool, now: datetime | None = None) -> Coverage:
    """The :class:`Coverage` of ``spec``, by whole local days and, for a kind kept per hour
    (``hourly``), whole local hours at the edges, each bounded by instants no tally unit
    straddles (:func:`boundary`: where the clocks go back over an hour's start, or jump from
    2:45 to 3:45, the units around it are counted live). Bounds outside the tallied years (the
    API takes year 1 and 9999) are clipped first: no local date can overflow."""
    low = day_start(local_date(EARLIEST_DATE) + timedelta(days=1))
    high = day_start(local_date((now or timezone.now()) + FUTURE_LEEWAY))
    if spec.sent_after is not None:
        low = min(max(spec.sent_after, low), high)
    if spec.sent_before is not None:
        high = max(min(spec.sent_before, high), low)
    empty = Coverage(low, low, (local_date(low),) * 2)
    start, end = boundary(low, hourly, up=True), boundary(high, hourly, up=False)
    if start is None or end is None or start >= end:
        return empty
    first, last = boundary(start, False, up=True), boundary(end, False, up=False)
    if first is None or last is None or first > last:  # no whole day: hours only (if kept)
        if not hourly:
            return empty
        return Coverage(start, end, (local_date(start),) * 2, ((_key(start, True), _key(end, True)),))
    hours = []
    if start < first:
        hours.append((_key(start, True), _key(first, True)))
    if last < end:
        hours.append((_key(last, True), _key(end, True)))
    return Coverage(start, end, (local_date(first), local_date(last)), tuple(hours))


def _hours_sql(first: Key, end: Key) -> tuple[str, list[Any]]:
    """The hour rows from key ``first`` up to ``end``: within one day as ``day = …`` (a row
    comparison, needed only where a span crosses midnight, is estimated at 40 × its rows, which
    at ten million messages tipped the medians' plan over ``jit_above_cost``: +30 ms)."""
    (day, hour), (end_day, end_hour) = first, end
    if end_day == day:
        return "(day = %s AND hour >= %s AND hour < %s)", [day, hour, end_hour]
    if (end_day, end_hour) == (day + timedelta(days=1), 0):
        return "(day = %s AND hour >= %s)", [day, hour]
    return "((day, hour) >= (%s, %s) AND (day, hour) < (%s, %s))", [day, hour, end_day, end_hour]


def _where(spec: TallyFilter, cover: Coverage, hours: bool) -> tuple[str, list[Any]]:
    """The tally rows of ``spec`` inside ``cover``: its days (``hours`` False) or its hours."""
    if hours:
        spans = [_hours_sql(*span) for span in cover.hours]
        sql = ["(" + " OR ".join(span for span, _ in spans) + ")"]
        params: list[Any] = [value for _, values in spans for value in values]
    else:
        sql, params = ["day >= %s", "day < %s"], list(cover.days)
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


ROW_COLUMNS = "day, hour, account, key, status, is_final, has_sent"


def _tallied_rows(
    kind: str, columns: tuple[str, list[Any]], group: str | None, spec: TallyFilter, cover: Coverage
) -> tuple[str, list[Any]]:
    """The tally rows of ``kind`` (and the deltas not folded yet) inside ``cover``, as
    ``SELECT columns … [GROUP BY group]``: the day rows, and the hour rows at the edges."""
    sql: list[str] = []
    params: list[Any] = []
    for rows_kind, hours in ((kind, False), *(((f"{kind}:h", True),) if cover.hours else ())):
        where, where_params = _where(spec, cover, hours)
        params.extend(columns[1])
        deltas = tallies.kind_sql(rows_kind, tallies.DELTA)
        sql.append(
            f"SELECT {columns[0]} FROM (SELECT {ROW_COLUMNS}, n, cost "
            f"FROM {tallies.TALLY} WHERE kind = '{rows_kind}' UNION ALL "
            f"SELECT {ROW_COLUMNS}, sign, sign * cost FROM ({deltas}) AS d) "
            f"AS t WHERE {where}" + (f" GROUP BY {group}" if group else "")
        )
        params.extend(where_params)
    return " UNION ALL ".join(sql), params


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


def _kind(group_by: str | None, spec: TallyFilter) -> str:
    """The tally kind that answers ``group_by`` for ``spec``: the least detailed that can."""
    kind = KIND_AND_KEY[group_by][0]
    if kind == "region" and spec.account is None and spec.statuses is None:
        return "reg_all"
    return kind


def figures(
    queryset: QuerySet, group_by: str | None, spec: TallyFilter, limit: int | None
) -> list[dict[str, Any]]:
    """Rows as ``stats.stats_query`` gives them (``key`` and the counted figures), ordered
    and limited the same way; ``median_seconds`` filled by :func:`medians`."""
    kind, key = _kind(group_by, spec), KIND_AND_KEY[group_by][1]
    cover = coverage(spec, hourly=kind in tallies.HOURLY)
    success = sorted(SUCCESS_STATUSES)
    tallied, params = _tallied_rows(
        kind,
        (
            f"{key} AS key, sum(n) AS total, "
            "sum(n) FILTER (WHERE is_final AND status = ANY(%s)) AS delivered, "
            "sum(n) FILTER (WHERE is_final AND (status IS NULL OR NOT status = ANY(%s))) AS failed, "
            "sum(n) FILTER (WHERE NOT is_final) AS pending, sum(cost) AS cost",
            [success, success],
        ),
        "1",
        spec,
        cover,
    )
    expression = GROUPS[group_by].expression() if group_by else Value(None, IntegerField())
    counted = _aggregates(median=False)
    del counted["median_seconds"]
    live_sql, live_params = _union(
        [
            tail.annotate(key=expression).values("key").annotate(**counted)
            for tail in live_tails(queryset, spec, cover.start, cover.end)
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
        cursor.execute(sql, [*params, *live_params])
        names = ("key", "total", "delivered", "failed", "pending", "cost")
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def medians(queryset: QuerySet, by_day: bool, spec: TallyFilter) -> dict[Any, float | None]:
    """``median_seconds`` per day (``by_day``) or overall (key None): ``percentile_cont(0.5)``
    of whole seconds, read off the histogram's running sums."""
    # the least detailed histogram that can answer: a fraction of the rows of the full one
    kind = "seconds" if spec.statuses is not None else "sec_acct" if spec.account is not None else "sec_all"
    cover = coverage(spec, hourly=kind in tallies.HOURLY)
    tallied, params = _tallied_rows(
        kind,
        # row by row: the outer GROUP BY adds them up (a GROUP BY here too cost 15 ms at 10M)
        (f"{'day' if by_day else 'NULL::date'} AS g, key::bigint AS v, n::bigint AS c", []),
        None,
        spec,
        cover,
    )
    live_sql, live_params = _union(
        [
            tail.filter(median_condition())
            .annotate(g=sending_day() if by_day else Value(None, DateField()), v=WholeSeconds())
            .values("g", "v")
            .annotate(c=Count("pk"))
            for tail in live_tails(queryset, spec, cover.start, cover.end)
        ],
        "SELECT g::date, v::bigint, c FROM ({}) AS l",
    )
    # the zone function is PARALLEL UNSAFE: its call keeps the plan serial, which on small
    # machines was 10-20 ms faster at ten million messages (workers to add up ~40,000 rows)
    sql = f"""
        WITH h AS (SELECT g, v, sum(c)::bigint AS c
                   FROM ({tallied} UNION ALL {live_sql}) AS u
                   GROUP BY g, v HAVING sum(c) > 0),
        r AS (SELECT g, v, sum(c) OVER (PARTITION BY g ORDER BY v) AS upto,
                     (sum(c) OVER (PARTITION BY g))::bigint AS total FROM h)
        SELECT g, (min(v) FILTER (WHERE upto >= (total + 1) / 2)
                   + min(v) FILTER (WHERE upto >= total / 2 + 1)) / 2.0
        FROM r WHERE smsc_status_tally_zone() IS NOT NULL GROUP BY g
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
