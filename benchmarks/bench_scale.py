"""B3: admin changelist, API list, delivery report and stats API over 100,000 messages and
1,000,000 snapshots.

For each list page: queries (must not depend on the table size) and median time, against the
fair baseline of ``benchmarks/baseline.py`` (a plain ``ModelAdmin`` / DRF ``ModelViewSet`` with
the same columns, filters and serializer fields), measured in the same run. For the report and
the stats API: median time (target: 300 ms) and, on PostgreSQL, EXPLAIN ANALYZE of the stats
queries and of the sweep's due-selection.

    python benchmarks/bench_scale.py [--messages 100000] [--snapshots 1000000] [--reuse]
    BENCH_DB=postgres python benchmarks/bench_scale.py

Ours and the baseline are timed alternately (the machine is shared: load changes within a
run), 15 times each; the medians are compared. ``--reuse`` keeps the data of the last run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from common import machine, median_time, setup_django

OPERATORS = ["МТС", "Билайн", "МегаФон", "Tele2", "Yota", "Тинькофф Мобайл"]
REGIONS = [
    "Москва",
    "Санкт-Петербург",
    "Московская область",
    "Краснодарский край",
    "Свердловская область",
    "Республика Татарстан",
] + [f"Регион {n}" for n in range(79)]


#: Delivery errors of failed messages in the generated data (codes SMSC documents), most common first.
ERRORS = [1, 1, 1, 6, 6, 11, 12, 253, 254, 255]
ACCOUNTS = ["default", "default", "default", "default", "kz", "kz", "ua"]


def generate_in_postgres(messages: int, snapshots: int) -> None:
    """The same kind of data made by PostgreSQL itself (10 million rows in minutes, where
    ``bulk_create`` would take an hour): messages in sending order over the last 90 days, ids
    growing with time as in a real table; several accounts, 6 operators, 85 regions, 10
    delivery errors; 1 % still pending (due within the hour), the rest final (80 % delivered);
    ``snapshots // messages`` snapshots each, 5 s apart, and the last check 10 s after sending.
    Seeded: every run makes the same rows."""
    from django.db import connection

    from django_smsc_status import tallies
    from django_smsc_status.models import SentMessage, StatusSnapshot

    messages_table, snapshots_table = SentMessage._meta.db_table, StatusSnapshot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.7)")
        cursor.execute(
            f"""
            INSERT INTO {messages_table} (account, smsc_id, phone, text, sender, sent_at, created_at,
                cost, sms_count, status, err, status_changed_at, operator, region, is_final,
                next_check_at, last_checked_at, check_attempts, last_request_error, quarantine_reason)
            SELECT accounts[1 + (g %% cardinality(accounts))], (100000 + g)::text,
                   '79' || lpad(g::text, 9, '0'), 'Ваш код: 1234', 'Shop', sent, sent,
                   round((1.5 + r2 * 2.5)::numeric, 2), 1, status,
                   CASE WHEN status = 20
                        THEN errors[1 + (r2 * cardinality(errors))::int %% cardinality(errors)]
                        ELSE 0 END,
                   CASE WHEN status IN (-1, 0) THEN NULL
                        ELSE sent + (3 + r2 * r2 * 900) * interval '1 second' END,
                   operators[1 + (r2 * 1000)::int %% cardinality(operators)],
                   regions[1 + (r2 * 100000)::int %% cardinality(regions)],
                   status NOT IN (-1, 0),
                   CASE WHEN status IN (-1, 0) THEN now() + r2 * interval '1 hour' END,
                   sent + interval '10 seconds', 0, '', ''
            FROM (
                SELECT g, random() AS r2,
                       now() - (%s - g + random()) * (interval '90 days' / %s) AS sent,
                       CASE WHEN r < 0.005 THEN -1 WHEN r < 0.01 THEN 0 WHEN r < 0.81 THEN 1
                            WHEN r < 0.93 THEN 20 WHEN r < 0.97 THEN 22 ELSE 3 END AS status
                FROM (SELECT g, random() AS r FROM generate_series(1, %s) g) numbered
            ) rows,
            (SELECT %s::text[] AS accounts, %s::int[] AS errors, %s::text[] AS operators,
                    %s::text[] AS regions) choices""",
            [messages, messages, messages, ACCOUNTS, ERRORS, OPERATORS, REGIONS],
        )
        cursor.execute(
            f"""
            INSERT INTO {snapshots_table} (message_id, status, err, changed_at, observed_at, raw)
            SELECT m.id, CASE WHEN g = 0 THEN -1 WHEN g = 1 THEN 0 ELSE m.status END, m.err,
                   m.sent_at + g * interval '2 seconds', m.sent_at + g * interval '5 seconds',
                   jsonb_build_object('status', (CASE WHEN g = 0 THEN -1 WHEN g = 1 THEN 0
                                                      ELSE m.status END)::text)
            FROM {messages_table} m CROSS JOIN generate_series(0, %s) g""",
            [max(snapshots // messages, 1) - 1],
        )
    tallies.install()  # counted anew: faster than folding a delta per message
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def generate(messages: int, snapshots: int) -> None:
    """Messages sent over the last 90 days (status, err, operator, region, cost, times), and
    ``snapshots // messages`` snapshots each (in Python, for SQLite)."""
    from django.db import connection
    from django.utils import timezone

    from django_smsc_status.models import SentMessage, StatusSnapshot

    if connection.vendor == "postgresql":
        return generate_in_postgres(messages, snapshots)

    rng = random.Random(7)
    now = timezone.now()
    statuses = [-1, 0, 1, 1, 1, 1, 20, 22, 3]
    batch = []
    for i in range(messages):
        status = rng.choice(statuses)
        final = status not in (-1, 0)
        sent = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
        batch.append(
            SentMessage(
                smsc_id=str(100000 + i),
                phone=f"7999{i:07d}",
                text="Ваш код: 1234",
                sender="Shop",
                status=status,
                err=1 if status == 20 else 0,
                is_final=final,
                next_check_at=now if not final else None,
                created_at=sent,
                sent_at=sent,
                operator=rng.choice(OPERATORS),
                region=rng.choice(REGIONS),
                cost=Decimal(rng.randint(150, 400)) / 100,
                status_changed_at=sent + timedelta(seconds=rng.randint(3, 900)) if final else None,
            )
        )
        if len(batch) == 5000:
            SentMessage.objects.bulk_create(batch)
            batch = []
    SentMessage.objects.bulk_create(batch)
    per_message = max(snapshots // messages, 1)
    first = SentMessage.objects.order_by("pk").values_list("pk", flat=True).first()
    batch = []
    for i in range(messages):
        for j in range(per_message):
            batch.append(
                StatusSnapshot(
                    message_id=first + i,
                    status=[-1, 0, 1][j % 3],
                    err=0,
                    observed_at=now,
                    raw={"status": str([-1, 0, 1][j % 3])},
                )
            )
        if len(batch) >= 10000:
            StatusSnapshot.objects.bulk_create(batch)
            batch = []
    StatusSnapshot.objects.bulk_create(batch)


def alternate(ours, baseline, rounds: int = 15) -> tuple[float, float]:
    """Median times of ``ours`` and ``baseline``, run in turn (same load for both)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for func, samples in ((ours, times[0]), (baseline, times[1])):
            start = time.perf_counter()
            func()
            samples.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the last run's database")
    args = parser.parse_args()
    setup_django(fresh=not args.reuse)

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from django_smsc_status.models import SentMessage
    from django_smsc_status.stats import stats_query

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.SMSC_STATUS = {"LOGIN": "bench", "PASSWORD": "x"}
    start = time.perf_counter()
    if not args.reuse:
        generate(args.messages, args.snapshots)
    how = "reused" if args.reuse else f"generated in {time.perf_counter() - start:.0f} s"
    print(
        f"B3 scale — {machine()}, {connection.vendor}: {args.messages} messages and "
        f"{args.snapshots} snapshots ({how})"
    )
    user = get_user_model().objects.filter(
        username="bench"
    ).first() or get_user_model().objects.create_superuser("bench", "b@example.com", "pw")
    client = Client()
    client.force_login(user)
    phone = f"7999{args.messages // 2:07d}"

    def get(url):
        def run():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)

        return run

    def queries(url) -> int:
        with CaptureQueriesContext(connection) as ctx:
            get(url)()
        return len(ctx)

    admin = "/admin/django_smsc_status/sentmessage/"
    plain_admin = "/plain-admin/django_smsc_status/sentmessage/"
    pages = [
        ("admin first page", admin, plain_admin),
        ("admin status=1", admin + "?status=1", plain_admin + "?status__exact=1"),
        ("admin search phone", f"{admin}?q={phone}", f"{plain_admin}?q={phone}"),
        ("API first page", "/api/smsc/messages/", "/plain-api/messages/"),
        ("API status=1", "/api/smsc/messages/?status=1", "/plain-api/messages/?status=1"),
        ("API phone", f"/api/smsc/messages/?phone={phone}", f"/plain-api/messages/?phone={phone}"),
    ]
    print("  list pages vs the fair baseline (target: ratio <= 1.2)")
    print(f"  {'page':22} {'queries':>7} {'plain q':>7} {'median':>9} {'baseline':>9} {'ratio':>6}")
    for name, ours, plain in pages:
        q_ours, q_plain = queries(ours), queries(plain)
        t_ours, t_plain = alternate(get(ours), get(plain))
        print(
            f"  {name:22} {q_ours:7d} {q_plain:7d} {t_ours * 1000:7.1f}ms {t_plain * 1000:7.1f}ms "
            f"{t_ours / t_plain:6.2f}"
        )

    from urllib.parse import quote

    week = quote(str((timezone.now() - timedelta(days=7)).replace(microsecond=0)))  # as the admin's links
    since = (timezone.now() - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    reports = [
        ("report, all", admin + "report/"),
        ("report status=1", admin + "report/?status=1"),
        ("report last 7 days", f"{admin}report/?sent_at__gte={week}"),
        ("report CSV by region", admin + "report/?format=csv&group=region"),
        ("stats API day", "/api/smsc/stats/?group_by=day"),
        ("stats API operator", "/api/smsc/stats/?group_by=operator"),
        ("stats API region", "/api/smsc/stats/?group_by=region"),
        ("stats API err", "/api/smsc/stats/?group_by=err&state=final"),
        ("stats API status", "/api/smsc/stats/?group_by=status"),
        ("stats API day, 7 days", f"/api/smsc/stats/?group_by=day&sent_after={since}"),
    ]
    print("  delivery report and stats API (target: median <= 300 ms)")
    print(f"  {'page':22} {'queries':>7} {'median':>9}")
    for name, url in reports:
        print(f"  {name:22} {queries(url):7d} {median_time(get(url)) * 1000:7.1f}ms")

    if connection.vendor == "postgresql":
        everything = SentMessage.objects.all()
        for title, query in [
            ("stats by day, all messages", stats_query(everything, "day")),
            ("stats by operator, all messages", stats_query(everything, "operator")),
            (
                "stats by day, sent in the last 7 days",
                stats_query(everything.filter(sent_at__gte=timezone.now() - timedelta(days=7)), "day"),
            ),
        ]:
            plan = query.explain(analyze=True)
            print(f"  EXPLAIN ANALYZE {title}:\n    " + plan.replace("\n", "\n    "))
        # The due query the sweep claims from (limits.claim_due).
        plan = (
            SentMessage.objects.due(timezone.now())
            .order_by("next_check_at", "pk")
            .values_list("pk", "next_check_at")[:200]
            .explain()
        )
        print("  EXPLAIN due-selection:\n    " + plan.replace("\n", "\n    "))
        print(f"  uses the due index: {'smsc_status_due_idx' in plan}")


if __name__ == "__main__":
    main()
