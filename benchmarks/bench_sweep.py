"""B1: the sweep over 1,000 due messages against a simulator with 20 ms latency.

Floor: N × L / 4 (SMSC allows 4 requests in flight per login). Compared in the same run with
a naive loop that builds a zeep Client per call and refreshes one message after another.

    python benchmarks/bench_sweep.py [--messages 1000] [--latency 0.02] [--naive 100]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time

from common import configure_smsc, machine, setup_django


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--naive", type=int, default=100, help="messages for the naive loop")
    args = parser.parse_args()
    setup_django()

    import zeep
    from django.utils import timezone

    from django_smsc_status import service
    from django_smsc_status.client import get_client
    from django_smsc_status.models import SentMessage

    n, latency = args.messages, args.latency
    port = free_port()
    # SMSC is another machine: the simulator runs in its own process, so its CPU is not ours.
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django_smsc_status.simulator",
            "--port",
            str(port),
            "--login",
            "bench",
            "--password",
            "bench-pw",
            "--latency",
            str(latency),
        ],
        stdout=subprocess.PIPE,
    )
    server.stdout.readline()
    endpoint = f"http://127.0.0.1:{port}/sys/soap.php"
    try:
        configure_smsc(endpoint)
        phones = [f"7999{i:07d}" for i in range(n + args.naive + 1)]
        smsc_id = get_client().send_sms(",".join(phones), "bench").smsc_id
        now = timezone.now()
        SentMessage.objects.bulk_create(
            [SentMessage(smsc_id=smsc_id, phone=phone, next_check_at=now) for phone in phones], batch_size=500
        )
        warm_up = SentMessage.objects.order_by("pk").last()
        service.refresh(warm_up)  # the slot rows are created on first use
        warm_up.delete()

        # Naive: zeep Client per call, sequential, one save per message.
        naive_rows = list(SentMessage.objects.order_by("-pk")[: args.naive])
        start = time.perf_counter()
        for row in naive_rows:
            client = zeep.Client(endpoint + "?wsdl")
            # all=0: with 1 or 2 zeep rejects SMSC's answer (sms_cnt is not in the WSDL)
            result = client.service.get_status(
                login="bench", psw="bench-pw", phone=row.phone, id=row.smsc_id, all="0"
            )
            row.status, row.err = int(result.status), int(result.err)
            row.last_checked_at = timezone.now()
            row.save()
        naive_per_message = (time.perf_counter() - start) / args.naive
        SentMessage.objects.filter(pk__in=[r.pk for r in naive_rows]).delete()

        start = time.perf_counter()
        report = service.refresh_due()
        sweep = time.perf_counter() - start
    finally:
        server.terminate()

    floor = n * latency / 4
    naive = naive_per_message * n
    print(f"B1 sweep — {machine()}, {n} due messages, simulator latency {latency * 1000:.0f} ms")
    print(f"  result: {report}")
    print(f"  floor N×L/4           {floor:8.2f} s")
    print(f"  sweep (ours)          {sweep:8.2f} s   ratio to floor {sweep / floor:5.2f}  (target ≤ 1.15)")
    print(
        f"  naive (extrapolated)  {naive:8.2f} s   naive / ours   {naive / sweep:5.2f}  (target ≥ 4)"
        f"   [{naive_per_message * 1000:.1f} ms per message over {args.naive}]"
    )


if __name__ == "__main__":
    main()
