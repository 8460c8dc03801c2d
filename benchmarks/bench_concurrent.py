"""B6: the sweep by several OS processes at once, counted at the simulator.

1,000 due messages, 20 ms of SMSC latency, 4 sweeping processes started together plus one
process clicking "Refresh" on a few messages, on PostgreSQL (``BENCH_DB=sqlite`` for SQLite).
Floor: N × L / 4 (SMSC allows 4 requests in flight per login, whoever sends them). Each run
also reports what the simulator saw: requests per message, the closest two requests about one
message, error 9 answers, requests in flight. The same run measures one process alone (B1).

    python benchmarks/bench_concurrent.py [--messages 1000] [--latency 0.02] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("BENCH_DB", "postgres")
from common import configure_smsc, machine, setup_django

HERE = Path(__file__).resolve().parent


def worker(endpoint: str, role: str, pks: list[int]) -> None:
    """A child process: wait for "go" on stdin, then sweep (or click), print the outcomes."""
    setup_django(fresh=False)
    import random

    from django_smsc_status import service

    configure_smsc(endpoint)
    print("ready", flush=True)
    sys.stdin.readline()
    counts: dict[str, int] = {}
    if role == "sweep":
        report = service.refresh_due()
        counts = {str(k): v for k, v in report.counts.items()}
        counts |= {str(e)[:60]: n for e, n in report.errors.items()}  # why, when not changed
    else:
        for _ in range(10):
            result = service.refresh(random.choice(pks))
            counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
            time.sleep(0.3)
    print(json.dumps(counts), flush=True)


def run(endpoint: str, sweepers: int, click: list[int]) -> tuple[float, dict[str, int]]:
    """Start the processes, let them go at once; wall time from "go" to the last one done."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    roles = ["sweep"] * sweepers + (["click"] if click else [])
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", endpoint, role, *map(str, click)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=HERE,
        )
        for role in roles
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    totals: dict[str, int] = {}
    wall = 0.0
    for p, role in zip(procs, roles, strict=True):
        counts = json.loads(p.stdout.readline())
        if role == "sweep":
            wall = max(wall, time.perf_counter() - start)
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
        p.wait()
    return wall, totals


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], [int(a) for a in sys.argv[4:]])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    setup_django()

    from django.utils import timezone

    from django_smsc_status import service
    from django_smsc_status.models import SentMessage
    from django_smsc_status.simulator import SimulatorServer, Smsc, timeline

    n, latency = args.messages, args.latency
    sim = Smsc({"bench": "bench-pw"}, latency=latency)
    with SimulatorServer(sim) as server:
        configure_smsc(server.endpoint)
        phones = [f"7999{i:07d}" for i in range(n)]
        for phone in phones:
            sim.add_message(phone, smsc_id="77", steps=timeline((-1,)))
        SentMessage.objects.bulk_create([SentMessage(smsc_id="77", phone=p) for p in phones], batch_size=500)
        service.refresh(SentMessage.objects.first())  # the login proves itself; slot rows exist
        click = list(SentMessage.objects.values_list("pk", flat=True)[:20])

        def fresh_run(sweepers: int, clicker: bool):
            SentMessage.objects.update(
                next_check_at=timezone.now(), last_checked_at=None, status=None, check_attempts=0
            )
            with sim.lock:
                sim.status_checks.clear()
                sim.errors_answered.clear()
                sim.max_in_flight.clear()
                sim.calls.clear()
            time.sleep(0.2)
            wall, counts = run(server.endpoint, sweepers, click if clicker else [])
            asked = [len(sim.status_checks.get(("77", p), [])) for p in phones]
            closest = min(sim.closest_checks("77", p) for p in phones)
            return wall, counts, asked, closest

        floor = n * latency / 4
        print(
            f"B6 concurrent sweep — {machine()}, {n} due messages, latency {latency * 1000:.0f} ms, "
            f"{os.environ['BENCH_DB']}"
        )
        print(f"  floor N×L/4 = {floor:.2f} s")
        rows = []
        for label, sweepers, clicker in [("1 process (B1)", 1, False)] * 2 + [
            ("4 processes + clicks", 4, True)
        ] * args.runs:
            wall, counts, asked, closest = fresh_run(sweepers, clicker)
            ratio = wall / floor
            rows.append((label, ratio))
            print(
                f"  {label:22} {wall:6.2f} s  ratio {ratio:4.2f}  requests {sum(asked):5d} "
                f"(never asked {asked.count(0)}, twice+ {sum(a > 1 for a in asked)})  "
                f"closest {closest if closest != float('inf') else '—'}  refused "
                f"{counts.get('refused', 0)}  error 9: {sim.errors_answered.get('9', 0)}  "
                f"in flight max {sim.max_in_flight['bench']}  outcomes {counts}"
            )
        multi = [r for label, r in rows if label.startswith("4")]
        single = [r for label, r in rows if label.startswith("1")]
        print(f"  1 process:   median {statistics.median(single):.2f} × floor (target ≤ 1.15)")
        print(
            f"  4 processes: median {statistics.median(multi):.2f} × floor (target ≤ 1.15), "
            f"worst {max(multi):.2f} (target ≤ 1.3)"
        )


if __name__ == "__main__":
    main()
