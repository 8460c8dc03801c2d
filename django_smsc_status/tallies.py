"""Per-day tallies of the delivery figures, kept exact by PostgreSQL triggers (issue 23).

At ten million messages a ``GROUP BY`` over every matching row takes seconds. On PostgreSQL
three row triggers on the messages table (and one emptying the tallies on TRUNCATE) write one
*delta* row per change of a figure-bearing
column (``+1`` for the row as it is now, ``-1`` for the row as it was): an INSERT one, an
UPDATE of account, status, finality, error, operator, region, cost or a time two, a DELETE
(prune) one. The sweep's other updates (``next_check_at``, ``check_attempts`` …) write nothing:
the UPDATE trigger has a ``WHEN`` clause. Deltas are append-only, so concurrent sweeps never
wait on one another for a tally row (no lock contention, no deadlock);
:func:`compact` folds them, in one transaction, into :class:`~models.StatsTally` rows per
(local sending day, account, status, final, has ``sent_at``, grouping kind, key). A read adds
the tallies and the deltas not folded yet in one statement (one snapshot: exact to the row).

Each grouping kind has its own row set, so the cardinality stays small: ``err`` (which also
answers day, status, account and no grouping), ``operator``, ``region`` and ``reg_all`` (the
same without account and status, for the requests that filter neither), and ``seconds``,
``sec_acct`` and ``sec_all`` (whole seconds from sending to the final status: the histograms
``median_seconds`` is read from, at three levels of detail; see :data:`KINDS`). The kinds in
:data:`HOURLY` are also kept per local hour (kind ``<kind>:h``): a range that starts or ends
at a time of day reads the hours of its partial days from them, and only the partial hours
live (a day's rows at ten million messages are ~110,000; an hour's ~4,600).

The days are the local days of the time zone the triggers were made with:
:func:`install` (migration 0018, ``smsc_status tallies --rebuild``) bakes ``TIME_ZONE`` into the
trigger function and recounts every message. A message sent before ``validation.EARLIEST_DATE``
has no day and is not tallied: such rows (and anything past tomorrow, which the moving upper
end of ``validation.date_window`` may reach) are always counted live.

The triggers are migration 0016's (frozen there); their function and the first count are
:func:`install`'s, run by migration 0018. A change of the tally or delta columns needs a new
migration that runs :func:`install` after it (and the older migrations' calls kept working on
the columns they know: 0018's is the only one so far).
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction

from .codes import SUCCESS_STATUSES
from .models import SentMessage, StatsTally, StatsTallyDelta
from .validation import EARLIEST_DATE

MESSAGES = SentMessage._meta.db_table
TALLY = StatsTally._meta.db_table
DELTA = StatsTallyDelta._meta.db_table

#: The columns the figures depend on: an UPDATE that changes none of them writes no delta.
WATCHED = (
    "account",
    "status",
    "is_final",
    "err",
    "operator",
    "region",
    "cost",
    "sent_at",
    "created_at",
    "status_changed_at",
)
DELTA_COLUMNS = "sign, day, hour, account, status, is_final, has_sent, err, operator, region, seconds, cost"
TALLY_KEY = "kind, day, hour, account, key, status, is_final, has_sent"
#: compact() runs one at a time (a second one returns at once): an advisory lock's id.
COMPACT_LOCK = 0x5D5C_7A11


def enabled(using=None) -> bool:
    """Tallies exist on this database (PostgreSQL; elsewhere ``stats`` stays live)."""
    return (using or connection).vendor == "postgresql"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _delta_insert(record: str, sign: int, time_zone: str) -> str:
    """The trigger's INSERT of one delta row for ``record`` (``NEW`` or ``OLD``)."""
    sent = f"coalesce({record}.sent_at, {record}.created_at)"
    earliest = _literal(EARLIEST_DATE.isoformat())
    seconds = (
        f"CASE WHEN {record}.is_final AND {record}.status_changed_at >= {earliest} "
        f"THEN floor(extract(epoch FROM {record}.status_changed_at - {sent}))::bigint END"
    )
    local = f"({sent} AT TIME ZONE {_literal(time_zone)})"
    return (
        f"IF {sent} >= {earliest} THEN INSERT INTO {DELTA} ({DELTA_COLUMNS}) VALUES ({sign}, "
        f"{local}::date, extract(hour FROM {local})::smallint, {record}.account, {record}.status, "
        f"{record}.is_final, {record}.sent_at IS NOT NULL, {record}.err, {record}.operator, "
        f"{record}.region, {seconds}, {record}.cost); END IF;"
    )


def function_sql(time_zone: str) -> str:
    """The trigger function, with ``time_zone``'s days baked in, and a function naming that
    zone (a TRUNCATE, e.g. the test runner's flush, leaves it in place)."""
    return f"""
CREATE OR REPLACE FUNCTION smsc_status_tally_zone() RETURNS text IMMUTABLE LANGUAGE sql
AS $$ SELECT {_literal(time_zone)}::text $$;
CREATE OR REPLACE FUNCTION smsc_status_tally_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN {_delta_insert("OLD", -1, time_zone)} END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN {_delta_insert("NEW", 1, time_zone)} END IF;
    RETURN NULL;
END $$;
"""


#: The upsert's arbiter, and the reads' index (kind, day and hour lead).
KEY_INDEX = f"CREATE UNIQUE INDEX smsc_status_tally_key ON {TALLY} ({TALLY_KEY}) NULLS NOT DISTINCT"
DROP_KEY_INDEX = "DROP INDEX IF EXISTS smsc_status_tally_key"


#: A status that keeps only what the figures need of it: a success status if delivered
#: (final), else NULL (``stats_tallied`` counts a final NULL as failed, a pending one as pending).
OUTCOME = (
    f"CASE WHEN is_final AND status IN ({', '.join(str(int(code)) for code in sorted(SUCCESS_STATUSES))}) "
    f"THEN {int(min(SUCCESS_STATUSES))} END"
)

#: Per grouping kind: how a delta row gives a tally row's account, key and status, and which
#: delta rows count. ``seconds`` is the histogram of whole seconds to the final status (up to
#: a row per second per day, account and final status); ``sec_acct`` the same over every
#: status and ``sec_all`` over every account too, a fraction of the rows, for the medians of
#: requests that filter no status (``sec_acct``) and no account either (``sec_all``: the
#: report's and the API's usual ones).
KINDS = {
    "err": ("account", "err::text", "status", ""),
    "operator": ("account", "operator", "status", ""),
    "region": ("account", "region", "status", ""),
    "seconds": ("account", "seconds::text", "status", "seconds IS NOT NULL"),
    "sec_acct": ("account", "seconds::text", "NULL::integer", "seconds IS NOT NULL"),
    "sec_all": ("''", "seconds::text", "NULL::integer", "seconds IS NOT NULL"),
    "reg_all": ("''", "region", OUTCOME, ""),
}
#: The kinds also kept per local hour, as kind ``<kind>:h`` (the ones the report and the
#: API's usual requests read: the others' partial days stay live).
HOURLY = ("err", "operator", "reg_all", "sec_all")
ALL_KINDS = (*KINDS, *(f"{kind}:h" for kind in HOURLY))


def kind_sql(kind: str, source: str) -> str:
    """``source``'s delta rows as tally rows of ``kind`` (one of :data:`ALL_KINDS`; columns as
    in :data:`TALLY_KEY`, then ``sign`` and ``cost``)."""
    base, _, per_hour = kind.partition(":")
    account, key, status, where = KINDS[base]
    hour = "hour" if per_hour else "NULL::smallint"
    return (
        f"SELECT '{kind}' AS kind, day, {hour} AS hour, {account} AS account, {key} AS key, "
        f"{status} AS status, is_final, has_sent, sign, cost FROM {source}"
        + (f" WHERE {where}" if where else "")
    )


def _all_kinds(source: str) -> str:
    return " UNION ALL ".join(kind_sql(kind, source) for kind in ALL_KINDS)


def compact(using=None) -> int:
    """Fold the deltas into the tallies, in one transaction; returns how many were folded
    (0 also when another compaction is running: it folds them). Called by the scheduled
    sweep and prune tasks; safe at any time, from any process."""
    conn = using or connection
    if conn.vendor != "postgresql":
        return 0
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [COMPACT_LOCK])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(
            f"""
            WITH moved AS (DELETE FROM {DELTA} RETURNING {DELTA_COLUMNS}),
            parts AS ({_all_kinds("moved")}),
            folded AS (
                INSERT INTO {TALLY} ({TALLY_KEY}, n, cost)
                SELECT {TALLY_KEY}, sum(sign), coalesce(sum(sign * cost), 0) FROM parts
                GROUP BY {TALLY_KEY}
                ON CONFLICT ({TALLY_KEY}) DO UPDATE
                SET n = {TALLY}.n + EXCLUDED.n, cost = {TALLY}.cost + EXCLUDED.cost
                RETURNING id, n
            )
            SELECT (SELECT count(*) FROM moved), array(SELECT id FROM folded WHERE n = 0)
            """
        )
        moved, empty = cursor.fetchone()
        if empty:  # groups whose every message left (pruned, or changed status)
            cursor.execute(f"DELETE FROM {TALLY} WHERE id = ANY(%s) AND n = 0", [empty])
    return moved


def install(time_zone: str | None = None, using=None) -> None:
    """(Re)make the trigger function for ``time_zone`` (default ``TIME_ZONE``) and recount
    every message into the tallies, in one transaction: writers of messages wait for it (the
    table is locked against writes while it counts, so no change is lost or counted twice).
    The triggers that call the function are migration 0016's; this is migration 0018's step."""
    time_zone = time_zone or settings.TIME_ZONE
    earliest = _literal(EARLIEST_DATE.isoformat())
    sent = "coalesce(sent_at, created_at)"
    conn = using or connection
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {MESSAGES} IN SHARE MODE")
        cursor.execute(function_sql(time_zone))
        cursor.execute(f"TRUNCATE {TALLY}, {DELTA}")
        cursor.execute(DROP_KEY_INDEX)  # made again after the count: faster than kept up row by row
        local = f"({sent} AT TIME ZONE {_literal(time_zone)})"
        source = f"""(SELECT 1 AS sign, {local}::date AS day, extract(hour FROM {local})::smallint AS hour,
            account, status, is_final, sent_at IS NOT NULL AS has_sent, err, operator, region,
            CASE WHEN is_final AND status_changed_at >= {earliest}
                THEN floor(extract(epoch FROM status_changed_at - {sent}))::bigint END AS seconds,
            cost FROM {MESSAGES} WHERE {sent} >= {earliest}) AS m"""
        cursor.execute(
            f"INSERT INTO {TALLY} ({TALLY_KEY}, n, cost) "
            f"SELECT {TALLY_KEY}, count(*), coalesce(sum(cost), 0) "
            f"FROM ({_all_kinds(source)}) AS parts GROUP BY {TALLY_KEY}"
        )
        cursor.execute(KEY_INDEX)


def current_time_zone(using=None) -> str | None:
    """The time zone the tallies' days are in (None: no tallies on this database)."""
    if not enabled(using):
        return None
    with (using or connection).cursor() as cursor:
        cursor.execute("SELECT smsc_status_tally_zone()")
        return cursor.fetchone()[0]
