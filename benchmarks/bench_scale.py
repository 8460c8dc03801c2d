"""B3: admin changelist and API list over 100,000 messages and 1,000,000 snapshots.

For each page: queries (must not depend on the table size) and median time, against a bare ORM
page of the same rows (the 50-row query plus the paginator's COUNT). On PostgreSQL also the
EXPLAIN of the sweep's due-selection.

    python benchmarks/bench_scale.py [--messages 100000] [--snapshots 1000000]
    BENCH_DB=postgres python benchmarks/bench_scale.py
"""

from __future__ import annotations

import argparse
import random
import time

from common import machine, median_time, setup_django


def generate(messages: int, snapshots: int) -> None:
    from django.utils import timezone

    from django_smsc_status.models import SentMessage, StatusSnapshot

    rng = random.Random(7)
    now = timezone.now()
    statuses = [-1, 0, 1, 1, 1, 1, 20, 22, 3]
    batch = []
    for i in range(messages):
        status = rng.choice(statuses)
        batch.append(SentMessage(
            smsc_id=str(100000 + i), phone=f"7999{i:07d}", text="Ваш код: 1234", sender="Shop",
            status=status, err=1 if status == 20 else 0, is_final=status not in (-1, 0),
            next_check_at=now if status in (-1, 0) else None, created_at=now,
        ))
        if len(batch) == 5000:
            SentMessage.objects.bulk_create(batch)
            batch = []
    SentMessage.objects.bulk_create(batch)
    first = SentMessage.objects.order_by("pk").values_list("pk", flat=True).first()
    per_message = max(snapshots // messages, 1)
    batch = []
    for i in range(messages):
        for j in range(per_message):
            batch.append(StatusSnapshot(message_id=first + i, status=[-1, 0, 1][j % 3], err=0,
                                        observed_at=now, raw={"status": str([-1, 0, 1][j % 3])}))
        if len(batch) >= 10000:
            StatusSnapshot.objects.bulk_create(batch)
            batch = []
    StatusSnapshot.objects.bulk_create(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    args = parser.parse_args()
    setup_django()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.paginator import Paginator
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from django_smsc_status.models import SentMessage

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.SMSC_STATUS = {"LOGIN": "bench", "PASSWORD": "x"}
    start = time.perf_counter()
    generate(args.messages, args.snapshots)
    print(f"B3 scale — {machine()}, {connection.vendor}: generated {args.messages} messages and "
          f"{args.snapshots} snapshots in {time.perf_counter() - start:.0f} s")
    user = get_user_model().objects.create_superuser("bench", "b@example.com", "pw")
    client = Client()
    client.force_login(user)
    phone = f"7999{args.messages // 2:07d}"

    def bare(**filters):
        def run():
            qs = SentMessage.objects.filter(**filters).order_by("-created_at", "-pk")
            page = Paginator(qs, 50).page(1)
            list(page.object_list)
        return run

    cases = [
        ("admin first page", "/admin/django_smsc_status/sentmessage/", {}, bare()),
        ("admin status=1", "/admin/django_smsc_status/sentmessage/?status=1", {}, bare(status=1)),
        ("admin search phone", f"/admin/django_smsc_status/sentmessage/?q={phone}", {},
         bare(phone=phone)),
        ("API first page", "/api/smsc/messages/", {}, bare()),
        ("API status=1", "/api/smsc/messages/?status=1", {}, bare(status=1)),
        ("API phone", f"/api/smsc/messages/?phone={phone}", {}, bare(phone=phone)),
    ]
    print(f"  {'page':22} {'queries':>7} {'median':>9} {'bare ORM':>9} {'ratio':>6}")
    for name, url, _, baseline in cases:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        queries = len(ctx)  # now: later requests clear the connection's query log
        ours = median_time(lambda url=url: client.get(url))
        base = median_time(baseline)
        print(f"  {name:22} {queries:7d} {ours * 1000:7.1f}ms {base * 1000:7.1f}ms {ours / base:6.1f}")
    if connection.vendor == "postgresql":
        from django.utils import timezone

        # The sweep's page query (service._due_pks).
        plan = (SentMessage.objects.due(timezone.now()).order_by("next_check_at", "pk")
                .values_list("pk", "next_check_at")[:200].explain())
        print("  EXPLAIN due-selection:\n    " + plan.replace("\n", "\n    "))
        print(f"  uses the due index: {'smsc_status_due_idx' in plan}")


if __name__ == "__main__":
    main()
