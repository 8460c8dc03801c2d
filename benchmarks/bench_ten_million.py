"""B3 at ten million (issue 23): every page, filter, report and sweep query at 10,000,000
messages / 30,000,000 snapshots beside the same at 100,000 / 300,000, on PostgreSQL.

    BENCH_DB=postgres python benchmarks/bench_ten_million.py [--small 100000] [--big 10000000]
        [--only REGEX]

Each size has its own database (``smsc_bench_<messages>``, made by ``bench_scale``'s
``generate_in_postgres`` when missing: 3 snapshots a message, 90 days, 1 % pending; then kept
and migrated). The page list is measured in a child process per database, in the order small,
big, small (load drifts on a shared machine: the small figure is the mean of the two runs
around the big one). Per page: the queries (must be the same at both sizes), the median of 7
requests at each size, their ratio (target ≤ 2) and the big median (target ≤ 300 ms); the
sweep's due query and claim (target ratio ≤ 1.5); the daily prune at 10M (a day's growth
within one scheduled run); EXPLAIN of the queries whose plans matter, with a check that none
reads a number of rows proportional to the table (over 60,000 rows of the messages or the
snapshots in one query).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from datetime import timezone as dt_timezone
from pathlib import Path
from urllib.parse import quote

from common import machine, median_time

HERE = Path(__file__).resolve().parent
ADMIN = "/admin/django_smsc_status/sentmessage/"
API = "/api/smsc/messages/"
#: Rows a plan may read for one page at any size (a page, a cap of 10,000 counted, an index walk).
ROWS_BOUNDED = 60_000


def pages(messages: int, pk: int, now) -> list[tuple[str, str]]:
    """``(name, url)`` of every page the issue lists, for data made by ``generate_in_postgres``."""
    from django.utils import timezone

    g = messages // 2
    phone, smsc_id = f"79{g:09d}", str(100000 + g)
    day = timedelta(days=1)

    def admin_date(field: str, start, end) -> str:  # as the admin's date filter links them
        start, end = (quote(str(moment.replace(microsecond=0))) for moment in (start, end))
        return f"{field}__gte={start}&{field}__lt={end}"

    def api_date(start) -> str:
        return start.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    today, month = now - day, now - 30 * day
    old_week = (now - 60 * day, now - 53 * day)
    admin = [
        ("admin first page", ADMIN),
        ("admin page 100", ADMIN + "?p=100"),
        *((f"admin status={s}", f"{ADMIN}?status={s}") for s in ("1", "20", "none", "other")),
        *(
            (f"admin state={s}", f"{ADMIN}?state={s}")
            for s in ("pending", "due", "final", "given_up", "quarantined")
        ),
        *((f"admin err={e}", f"{ADMIN}?err={e}") for e in ("any", "1", "253", "other")),
        *((f"admin account={a}", f"{ADMIN}?account={a}") for a in ("default", "ua", "_none")),
        ("admin sent today", f"{ADMIN}?{admin_date('sent_at', today, now + day)}"),
        ("admin sent, a week 60 d ago", f"{ADMIN}?{admin_date('sent_at', *old_week)}"),
        ("admin created, a week 60 d ago", f"{ADMIN}?{admin_date('created_at', *old_week)}"),
        ("admin search phone", f"{ADMIN}?q={phone}"),
        ("admin search SMSC id", f"{ADMIN}?q={smsc_id}"),
        ("admin message + history", f"{ADMIN}{pk}/change/"),
    ]
    api = [
        ("API first page", API),
        ("API page 100", API + "?page=100"),
        ("API cursor first page", API + "?cursor="),
        ("API status=1,20", API + "?status=1,20"),
        ("API err=1", API + "?err=1"),
        *((f"API state={s}", f"{API}?state={s}") for s in ("pending", "final", "given_up")),
        ("API account=ua", API + "?account=ua"),
        ("API phone", f"{API}?phone={phone}"),
        (
            "API sent, a week 60 d ago",
            f"{API}?sent_after={api_date(old_week[0])}&sent_before={api_date(old_week[1])}",
        ),
        ("API changed in the last hour", f"{API}?changed_after={api_date(now - timedelta(hours=1))}"),
        ("API detail", f"{API}{pk}/"),
        ("API history", f"{API}{pk}/snapshots/"),
    ]
    # 30 days from a moment of the day (that day's first hours counted live) and from midnight
    # in the site's time zone (all from the tallies), as Django's date filter links bound them
    midnight = timezone.localtime(month).replace(hour=0, minute=0, second=0, microsecond=0) + day
    stats = []
    for group in ("day", "operator", "region", "err", "status", "account"):
        url = f"/api/smsc/stats/?group_by={group}"
        stats.append((f"stats {group}, all", url))
        stats.append((f"stats {group}, 30 d", f"{url}&sent_after={api_date(month)}"))
        stats.append((f"stats {group}, 30 d at 0:00", f"{url}&sent_after={api_date(midnight)}"))
    reports = [
        ("report, all time", ADMIN + "report/"),
        ("report, 30 days", f"{ADMIN}report/?sent_at__gte={quote(str(month.replace(microsecond=0)))}"),
        ("report, 30 days at 0:00", f"{ADMIN}report/?sent_at__gte={quote(str(midnight))}"),
    ]
    return admin + api + stats + reports


def measure(messages: int, prune: bool, only: str) -> dict:
    """In the child: every page's queries and median, the sweep's claim, EXPLAINs, the prune."""
    from common import setup_django

    setup_django(fresh=False)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from django_smsc_status import limits, service
    from django_smsc_status.conf import get_settings
    from django_smsc_status.models import PruneProgress, SentMessage

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.SMSC_STATUS = {"LOGIN": "bench", "PASSWORD": "x", "ACCOUNTS": {"kz": {}, "ua": {}}}
    users = get_user_model().objects
    user = users.filter(username="bench").first() or users.create_superuser("bench", "b@example.com", "pw")
    client = Client()
    client.force_login(user)
    now = timezone.now()
    pk = SentMessage.objects.filter(smsc_id=str(100000 + messages // 2)).values_list("pk", flat=True).get()
    figures: dict = {"pages": {}, "plans": {}}
    for name, url in pages(messages, pk, now):
        if not re.search(only, name):
            continue

        def get(url=url):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])

        with CaptureQueriesContext(connection) as ctx:
            get()
        big_plans = []
        if connection.vendor == "postgresql" and os.environ.get("BENCH_EXPLAIN"):
            with connection.cursor() as cursor:
                for query in ctx.captured_queries:
                    sql = query["sql"]
                    if sql.lstrip().upper().startswith("SELECT") and "django_session" not in sql:
                        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                        plan = cursor.fetchone()[0][0]
                        rows = _rows_read(plan["Plan"])
                        if rows > ROWS_BOUNDED:
                            big_plans.append({"rows": rows, "sql": sql[:300], "ms": plan["Execution Time"]})
        figures["pages"][name] = {"queries": len(ctx), "median": median_time(get), "unbounded": big_plans}

    config = get_settings()

    def claim():
        with transaction.atomic():
            limits.claim_due(config, 200, timezone.now())
            transaction.set_rollback(True)

    due = SentMessage.objects.due(now).filter(account="default").order_by("next_check_at", "pk")
    figures["pages"]["sweep due query"] = {
        "queries": 1,
        "median": median_time(lambda: list(due.values_list("pk", flat=True)[:200])),
        "unbounded": [],
    }
    figures["pages"]["sweep claim of 200"] = {"queries": 0, "median": median_time(claim), "unbounded": []}
    figures["plans"]["due"] = due.values_list("pk")[:200].explain(analyze=True)
    if prune:
        with transaction.atomic():  # as if yesterday's scheduled pass ran: today's walk, rolled back
            PruneProgress.objects.update_or_create(
                phase="snapshots", defaults={"pruned_before": now - timedelta(days=31), "next_pk": 0}
            )
            began = time.perf_counter()
            report = service.prune(30, resume=True, time_limit=54)
            figures["prune"] = {
                "seconds": time.perf_counter() - began,
                "snapshots": report.snapshots,
                "batches": report.batches,
                "stopped": report.stopped_at is not None,
            }
            transaction.set_rollback(True)
    return figures


#: The tables whose size grows with the messages kept (the tallies grow with days × keys).
GROWING = ("django_smsc_status_sentmessage", "django_smsc_status_statussnapshot")


def _rows_read(plan: dict) -> int:
    """Rows the scans of the growing tables in a plan read (actual rows × loops of each scan
    node, filtered-out ones too)."""
    rows = 0
    if "Scan" in plan.get("Node Type", "") and plan.get("Relation Name") in GROWING:
        rows += (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) * plan.get(
            "Actual Loops", 1
        )
    return rows + sum(_rows_read(child) for child in plan.get("Plans", []))


def ensure_database(messages: int) -> str:
    """The database of ``messages`` messages, generated if missing."""
    import psycopg

    name = f"smsc_bench_{messages}"
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if not exists:
        print(f"  generating {messages} messages into {name} ...", flush=True)
        code = (
            "import sys; sys.path.insert(0, 'benchmarks'); from common import setup_django; "
            "setup_django(fresh=True); import bench_scale; "
            f"bench_scale.generate_in_postgres({messages}, {3 * messages})"
        )
        subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            cwd=HERE.parent,
            env={**os.environ, "BENCH_PGDATABASE": name},
        )
    return name


def run_child(messages: int, prune: bool, only: str) -> dict:
    env = {**os.environ, "BENCH_PGDATABASE": ensure_database(messages), "BENCH_EXPLAIN": "1"}
    args = [sys.executable, __file__, "--child", str(messages), "--only", only]
    args += ["--prune"] if prune else []
    out = subprocess.run(args, check=True, env=env, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=10_000_000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prune", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", default="", help="measure only the pages whose name matches this regex")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.prune, args.only), default=str))
        return
    os.environ["BENCH_DB"] = "postgres"
    print(f"B3 at ten million — {machine()}: {args.small} vs {args.big} messages (3 snapshots each)")
    small_a = run_child(args.small, False, args.only)
    big = run_child(args.big, True, args.only)
    small_b = run_child(args.small, False, args.only)
    print(f"  {'page':32} {'q small':>7} {'q big':>5} {'small':>9} {'big':>9} {'ratio':>6}  verdict")
    failures = 0
    for name, figure in big["pages"].items():
        small = statistics.mean([small_a["pages"][name]["median"], small_b["pages"][name]["median"]])
        ratio = figure["median"] / small
        sweep = name.startswith("sweep")
        target = 1.5 if sweep else 2.0
        same_queries = figure["queries"] == small_a["pages"][name]["queries"]
        ok = (
            ratio <= target
            and (sweep or figure["median"] <= 0.3)
            and same_queries
            and not figure["unbounded"]
        )
        failures += not ok
        print(
            f"  {name:32} {small_a['pages'][name]['queries']:7d} {figure['queries']:5d} "
            f"{small * 1000:7.1f}ms {figure['median'] * 1000:7.1f}ms {ratio:6.2f}  {'ok' if ok else 'MISSED'}"
        )
        for plan in figure["unbounded"]:
            print(f"      reads {plan['rows']} rows ({plan['ms']:.0f} ms): {plan['sql'][:160]}")
    prune = big.get("prune")
    if prune:
        print(
            f"  daily prune at {args.big}: {prune['snapshots']} snapshots in {prune['batches']} batches, "
            f"{prune['seconds']:.1f} s (a day's growth: {3 * args.big // 90} snapshots of "
            f"{args.big // 90} messages; stopped for time: {prune['stopped']})"
        )
    print("  EXPLAIN ANALYZE of the due query at 10M:\n    " + big["plans"]["due"].replace("\n", "\n    "))
    print(f"  pages missing a target: {failures}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
