"""B1: the sweep over 1,000 due messages against a simulator with 20 ms latency.

Floor: N × L / 4 (SMSC allows 4 requests in flight per login). Compared in the same run with
a naive loop that builds a zeep Client per call and refreshes one message after another.

    python benchmarks/bench_sweep.py [--messages 1000] [--latency 0.02] [--naive 100]
"""

from __future__ import annotations

import argparse
import time

from common import configure_smsc, machine, setup_django


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
    from django_smsc_status.models import SentMessage
    from django_smsc_status.simulator import SimulatorServer, Smsc, timeline

    n, latency = args.messages, args.latency
    with SimulatorServer(Smsc({"bench": "bench-pw"}, latency=latency)) as sim:
        configure_smsc(sim.endpoint)
        now = timezone.now()
        rows = []
        for i in range(n + args.naive):
            phone = f"7999{i:07d}"
            sim.smsc.add_message(phone, smsc_id=str(i + 1), steps=timeline((1,)))
            rows.append(SentMessage(smsc_id=str(i + 1), phone=phone, next_check_at=now))
        SentMessage.objects.bulk_create(rows, batch_size=500)
        service.refresh(SentMessage.objects.last())  # build the client, create the slot rows
        SentMessage.objects.filter(pk=SentMessage.objects.last().pk).delete()

        # Naive: zeep Client per call, sequential, one save per message.
        naive_rows = list(SentMessage.objects.order_by("-pk")[: args.naive])
        start = time.perf_counter()
        for row in naive_rows:
            client = zeep.Client(sim.wsdl_url)
            result = client.service.get_status(login="bench", psw="bench-pw", phone=row.phone,
                                               id=row.smsc_id, all="2")
            row.status, row.err = int(result.status), int(result.err)
            row.last_checked_at = timezone.now()
            row.save()
        naive_per_message = (time.perf_counter() - start) / args.naive
        SentMessage.objects.filter(pk__in=[r.pk for r in naive_rows]).delete()

        sim.smsc.max_in_flight.clear()
        start = time.perf_counter()
        report = service.refresh_due()
        sweep = time.perf_counter() - start

    floor = n * latency / 4
    naive = naive_per_message * n
    print(f"B1 sweep — {machine()}, {n} due messages, simulator latency {latency * 1000:.0f} ms")
    print(f"  result: {report}; max in flight {sim.smsc.max_in_flight['bench']}")
    print(f"  floor N×L/4           {floor:8.2f} s")
    print(f"  sweep (ours)          {sweep:8.2f} s   ratio to floor {sweep / floor:5.2f}  (target ≤ 1.15)")
    print(f"  naive (extrapolated)  {naive:8.2f} s   naive / ours   {naive / sweep:5.2f}  (target ≥ 4)"
          f"   [{naive_per_message * 1000:.1f} ms per message over {args.naive}]")


if __name__ == "__main__":
    main()
