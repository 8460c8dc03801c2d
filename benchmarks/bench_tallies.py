"""B3t: the stats API's answers from the per-day tallies vs the live GROUP BY (PostgreSQL only).

Generates N messages in the database (B3's distribution: 90 days, statuses, operators, 85
regions, 3 to 900 s to the final status; three accounts; each drawn independently: the most
tally rows), recounts them into the tallies
(``tallies.install``, what migration 0016 does), then times ``service.stats`` for each
``group_by`` over the last 30 days (a partial first day: the live tail) and over everything,
with the tallies (``tally=TallyFilter(...)``) and live. Also: the tally rows per kind, what the
triggers cost an INSERT and an UPDATE of status, and a compaction of those deltas.

    BENCH_DB=postgres python benchmarks/bench_tallies.py [--messages 1000000] [--reuse] [--explain]
        [--live-rounds 3]
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from common import machine, median_time, setup_django

GROUPINGS = ["day", "operator", "region", "err", "status", "account", None]


def generate(messages: int) -> None:
    from django.db import connection

    from django_smsc_status.models import SentMessage

    table = SentMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")  # counted once, by install()
        cursor.execute(
            f"""
            INSERT INTO {table} (account, smsc_id, phone, text, sender, sent_at, created_at, cost,
                status, err, is_final, status_changed_at, operator, region, next_check_at,
                check_attempts, last_request_error, quarantine_reason)
            SELECT (ARRAY['default', 'kz', 'shop'])[1 + floor(random() * 3)::int], (100000 + s.g)::text,
                   '7999' || lpad(s.g::text, 7, '0'), 'Ваш код: 1234', 'Shop', s.sent, s.sent,
                   (150 + (s.g * 7919) %% 251) / 100.0, s.status,
                   CASE WHEN s.status = 20 THEN 1 ELSE 0 END, s.status NOT IN (-1, 0),
                   CASE WHEN s.status NOT IN (-1, 0)
                        THEN s.sent + (3 + random() * 897) * interval '1 second' END,
                   (ARRAY['МТС', 'Билайн', 'МегаФон', 'Tele2', 'Yota', 'Тинькофф Мобайл'])
                       [1 + floor(random() * 6)::int],
                   'Регион ' || floor(random() * 85)::text,
                   CASE WHEN s.status IN (-1, 0) THEN now() END, 0, '', ''
            FROM (SELECT g, now() - random() * interval '90 days' AS sent,
                         (ARRAY[-1, 0, 1, 1, 1, 1, 20, 22, 3])[1 + floor(random() * 9)::int] AS status
                  FROM generate_series(1::bigint, %s) g) s
            """,
            [messages],
        )
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        cursor.execute("VACUUM ANALYZE")


def timed(fn, rounds: int = 7) -> float:
    """Median milliseconds of ``rounds`` calls."""
    return median_time(fn, rounds) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--recount", action="store_true", help="with --reuse: tallies.install() first")
    parser.add_argument("--live-rounds", type=int, default=3, help="1 at ten million: seconds each")
    args = parser.parse_args()
    setup_django(fresh=not args.reuse)
    from django.db import connection
    from django.utils import timezone

    from django_smsc_status import service, tallies
    from django_smsc_status.models import SentMessage, StatsTally
    from django_smsc_status.stats import TallyFilter

    assert connection.vendor == "postgresql", "tallies are PostgreSQL's: BENCH_DB=postgres"
    if not args.reuse:
        started = time.perf_counter()
        generate(args.messages)
        print(f"generated {args.messages:,} messages in {time.perf_counter() - started:.0f} s")
    if not args.reuse or args.recount:
        started = time.perf_counter()
        tallies.install()
        print(f"recount (migration 0016's backfill): {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    count = SentMessage.objects.count()
    print(f"B3t tallies — {machine()}, {count:,} messages, postgres")
    kinds = StatsTally.objects.values_list("kind").annotate(n=__import__("django").db.models.Count("pk"))
    print("  tally rows per kind: " + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds)))

    month = TallyFilter(sent_after=timezone.now() - timedelta(days=30))
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=30)
    ranges = (
        ("30 days", month),  # a partial first day: its rows are read live
        ("30 d@0h", TallyFilter(sent_after=midnight)),  # whole days only
        ("all", TallyFilter()),
        ("all, kz", TallyFilter(account="kz")),
    )
    print(f"  {'group_by':10} {'range':9} {'tallies ms':>10} {'live ms':>9}  same")
    for group_by in GROUPINGS:
        for name, spec in ranges:
            qs = SentMessage.objects.all()
            if spec.sent_after is not None:
                qs = qs.filter(sent_at__gte=spec.sent_after)
            if spec.account is not None:
                qs = qs.filter(account=spec.account)
            fast = timed(lambda: service.stats(qs, group_by, tally=spec))  # noqa: B023
            live = timed(lambda: service.stats(qs, group_by), rounds=args.live_rounds)  # noqa: B023
            same = service.stats(qs, group_by, tally=spec) == service.stats(qs, group_by)
            print(f"  {group_by or 'none':10} {name:9} {fast:10.1f} {live:9.1f}  {same}")

    # what the triggers cost the writers, and a compaction of what they wrote
    table = SentMessage._meta.db_table
    n = 20_000
    # status -1 and back: the tallies stay right although half the runs bypass the triggers
    pks = list(SentMessage.objects.filter(status=-1, is_final=False).values_list("pk", flat=True)[:n])
    with connection.cursor() as cursor:
        for enabled in (False, True, False, True):
            cursor.execute(f"ALTER TABLE {table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER USER")
            started = time.perf_counter()
            cursor.execute(f"UPDATE {table} SET status = 1, is_final = true WHERE id = ANY(%s)", [pks])
            update = time.perf_counter() - started
            started = time.perf_counter()
            cursor.execute(f"UPDATE {table} SET next_check_at = now() WHERE id = ANY(%s)", [pks])
            bookkeeping = time.perf_counter() - started
            cursor.execute(f"UPDATE {table} SET status = -1, is_final = false WHERE id = ANY(%s)", [pks])
            print(
                f"  {n:,} status updates, triggers {'on ' if enabled else 'off'}: {update * 1000:.0f} ms; "
                f"{n:,} next_check_at updates: {bookkeeping * 1000:.0f} ms"
            )
    started = time.perf_counter()
    folded = tallies.compact()
    print(f"  compaction of {folded:,} deltas: {(time.perf_counter() - started) * 1000:.0f} ms")
    if args.explain:
        qs = SentMessage.objects.filter(sent_at__gte=month.sent_after)
        with connection.cursor() as cursor:
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        for group_by in ("region", "day"):
            print(f"\n  EXPLAIN ANALYZE, {group_by}, 30 days: see the fast queries' plans")
            with connection.cursor() as cursor:
                connection.force_debug_cursor = True
                service.stats(qs, group_by, tally=month)
                for query in connection.queries[-2:]:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF) " + query["sql"])
                    print("\n".join("    " + row[0] for row in cursor.fetchall()))
                connection.force_debug_cursor = False


if __name__ == "__main__":
    main()
