"""B4: peak RSS of refresh_due over many due messages stays flat (it streams in chunks).

Runs the sweep for N/10 and N messages and reports the peak RSS over the baseline measured
just before each sweep; flat means the larger run does not need proportionally more memory.

    python benchmarks/bench_memory.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import threading
import time

from common import configure_smsc, machine, setup_django, start_simulator


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def send_all(n: int) -> list[tuple[str, str]]:
    """Send to n phones through the simulator (10,000 per request): (smsc_id, phone) pairs."""
    from django_smsc_status.soap.client import get_client

    pairs = []
    for start in range(0, n, 10_000):
        phones = [f"7999{i:07d}" for i in range(start, min(n, start + 10_000))]
        smsc_id = get_client().send_sms(",".join(phones), "bench").smsc_id
        pairs += [(smsc_id, phone) for phone in phones]
    return pairs


def sweep_peak(pairs: list[tuple[str, str]]) -> tuple[float, float, float, str]:
    from django.utils import timezone

    from django_smsc_status import service
    from django_smsc_status.models import SentMessage

    SentMessage.objects.all().delete()
    now = timezone.now()
    for start in range(0, len(pairs), 5000):
        SentMessage.objects.bulk_create(
            SentMessage(smsc_id=smsc_id, phone=phone, next_check_at=now)
            for smsc_id, phone in pairs[start : start + 5000]
        )
    baseline = rss_mb()
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    report = service.refresh_due()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return baseline, peak[0], elapsed, str(report)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    server = start_simulator()
    try:
        setup_django()
        configure_smsc(server.endpoint)
        pairs = send_all(args.messages)
        print(f"B4 memory — {machine()}")
        for n in (args.messages // 10, args.messages):
            base, peak, elapsed, report = sweep_peak(pairs[:n])
            print(
                f"  {n:7d} due: baseline {base:6.1f} MB, peak {peak:6.1f} MB, "
                f"over baseline {peak - base:5.1f} MB  ({elapsed:.0f} s; {report})"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
