"""B1: the sweep over 1,000 due messages against a simulator with 20 ms latency.

Floor: N × L / 4 (SMSC allows 4 requests in flight per login). Compared in the same run with
a naive loop that builds a zeep Client per call and refreshes one message after another.

``--two-accounts``: two SMSC accounts, each at its own simulated site (two simulator processes,
two ports), N due messages each, swept by one ``refresh_due()``; the two run in parallel, each
with its own 4 slots, so the floor is still N × L / 4. Compared, run by run, with one account's
N messages alone (the same code path); the simulators check that each message was asked once,
with its own login, never more than 4 requests in flight per login.

    python benchmarks/bench_sweep.py [--messages 1000] [--latency 0.02] [--naive 100]
    python benchmarks/bench_sweep.py --two-accounts [--runs 3]   (BENCH_DB=postgres for PostgreSQL)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import configure_smsc, machine, setup_django, start_simulator

#: The accounts of ``--two-accounts``: name -> (login, password); "default" is the top level.
ACCOUNTS = {"default": ("bench", "bench-pw"), "kz": ("bench-kz", "bench-kz-pw")}


def add_due(account: str, n: int) -> None:
    """Send to n + 1 phones through ``account``, track them all as due, and refresh one of them
    (its slot rows are created on first use) before it is dropped."""
    from django.utils import timezone

    from django_smsc_status import service
    from django_smsc_status.conf import get_settings
    from django_smsc_status.models import SentMessage
    from django_smsc_status.soap.client import get_client

    phones = [f"7999{i:07d}" for i in range(n + 1)]
    smsc_id = get_client(get_settings(account)).send_sms(",".join(phones), "bench").smsc_id
    now = timezone.now()
    rows = [SentMessage(account=account, smsc_id=smsc_id, phone=p, next_check_at=now) for p in phones]
    SentMessage.objects.bulk_create(rows, batch_size=500)
    warm_up = SentMessage.objects.filter(account=account).order_by("pk").last()
    service.refresh(warm_up)
    warm_up.delete()


def measured_round_trip(calls: int = 25) -> float:
    """Seconds one status request takes at the default site with 4 in flight (4 threads, each
    asking about its own fresh messages one after another): the latency plus everything the
    floor N×L/4 leaves out."""
    from concurrent.futures import ThreadPoolExecutor

    from django_smsc_status.soap.client import get_client

    client = get_client()
    phones = [f"7998{i:07d}" for i in range(4 * calls)]
    smsc_id = client.send_sms(",".join(phones), "probe").smsc_id

    def ask(part: list[str]) -> float:
        start = time.perf_counter()
        for phone in part:
            client.get_status(smsc_id, phone)
        return (time.perf_counter() - start) / len(part)

    with ThreadPoolExecutor(4) as pool:
        return statistics.mean(pool.map(ask, [phones[i::4] for i in range(4)]))


def timed_sweep():
    """``refresh_due()``: wall time, CPU time of this process (every thread), the report."""
    from django_smsc_status import service

    start, cpu = time.perf_counter(), time.process_time()
    report = service.refresh_due()
    return time.perf_counter() - start, time.process_time() - cpu, report


def naive_per_message(endpoint: str, count: int) -> float:
    """Seconds per message: a zeep Client per call, sequential, one save per message."""
    import zeep
    from django.utils import timezone

    from django_smsc_status.models import SentMessage

    rows = list(SentMessage.objects.order_by("-pk")[:count])
    start = time.perf_counter()
    for row in rows:
        client = zeep.Client(endpoint + "?wsdl")
        # all=0: with 1 or 2 zeep rejects SMSC's answer (sms_cnt is not in the WSDL)
        result = client.service.get_status(
            login="bench", psw="bench-pw", phone=row.phone, id=row.smsc_id, all="0"
        )
        row.status, row.err = int(result.status), int(result.err)
        row.last_checked_at = timezone.now()
        row.save()
    elapsed = time.perf_counter() - start
    SentMessage.objects.filter(pk__in=[r.pk for r in rows]).delete()
    return elapsed / count


def one_account(args) -> None:
    n, latency = args.messages, args.latency
    server = start_simulator(latency=latency)
    try:
        configure_smsc(server.endpoint)
        add_due("default", n + args.naive)
        naive = naive_per_message(server.endpoint, args.naive) * n
        sweep, _cpu, report = timed_sweep()
    finally:
        server.stop()

    floor = n * latency / 4
    print(f"B1 sweep — {machine()}, {n} due messages, simulator latency {latency * 1000:.0f} ms")
    print(f"  result: {report}")
    print(f"  floor N×L/4           {floor:8.2f} s")
    print(f"  sweep (ours)          {sweep:8.2f} s   ratio to floor {sweep / floor:5.2f}  (target ≤ 1.15)")
    print(
        f"  naive (extrapolated)  {naive:8.2f} s   naive / ours   {naive / sweep:5.2f}  (target ≥ 4)"
        f"   [{naive / n * 1000:.1f} ms per message over {args.naive}]"
    )


def two_accounts(args) -> None:
    from django_smsc_status.models import SentMessage

    n, latency = args.messages, args.latency
    floor = n * latency / 4
    sites = {
        name: start_simulator(login, password, latency=latency)
        for name, (login, password) in ACCOUNTS.items()
    }
    kz_login, kz_password = ACCOUNTS["kz"]
    configure_smsc(
        sites["default"].endpoint,
        ACCOUNTS={"kz": {"LOGIN": kz_login, "PASSWORD": kz_password, "ENDPOINT": sites["kz"].endpoint}},
    )
    print(
        f"B1 sweep, two accounts — {machine()}, {n} due messages per account, simulator latency "
        f"{latency * 1000:.0f} ms, {os.environ.get('BENCH_DB', 'sqlite')}; floor N×L/4 = {floor:.2f} s"
    )
    round_trip = measured_round_trip()
    print(
        f"  one request, 4 at a time: {round_trip * 1000:.1f} ms ({latency * 1000:.0f} ms latency + client, "
        f"HTTP and the simulator's own work); round-trip floor N×RT/4 = {n * round_trip / 4:.2f} s"
    )
    ratios: dict[str, list[float]] = {"one account": [], "two accounts": []}
    try:
        for run in range(1, args.runs + 1):
            for label, names in [("one account", ["default"]), ("two accounts", ["default", "kz"])]:
                SentMessage.objects.all().delete()
                for name in names:
                    add_due(name, n)
                time.sleep(0.2)
                wall, cpu, report = timed_sweep()
                ratios[label].append(wall / floor)
                print(
                    f"  run {run}  {label:12}  {wall:6.2f} s  ratio to floor {wall / floor:4.2f}  "
                    f"(CPU here {cpu:4.2f} s)  {report}"
                )
    finally:
        stats = {name: site.stop() for name, site in sites.items()}
    one, two = statistics.median(ratios["one account"]), statistics.median(ratios["two accounts"])
    print(f"  median: one account {one:.2f} × floor, two accounts {two:.2f} × floor (target ≤ 1.15)")
    print(f"          two accounts {two * latency / round_trip:.2f} × the round-trip floor")
    print(f"          two accounts / one account {two / one:.2f}")
    for name, seen in stats.items():
        login = ACCOUNTS[name][0]
        ok = (
            seen["asked"] == {"1": seen["messages"]}
            and set(seen["max_in_flight"]) == {login}
            and seen["max_in_flight"][login] <= 4
            and not seen["errors"]
        )
        print(
            f"  site of {name!r}: {seen['messages']} messages, asked (times: messages) {seen['asked']}, "
            f"in flight max {seen['max_in_flight']}, errors {seen['errors'] or 0}  "
            f"{'OK: each asked once, by its own login, ≤ 4 in flight' if ok else 'VIOLATION'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--naive", type=int, default=100, help="messages for the naive loop")
    parser.add_argument("--two-accounts", action="store_true", help="two accounts at two sites")
    parser.add_argument("--runs", type=int, default=3, help="--two-accounts: runs of each")
    args = parser.parse_args()
    setup_django()
    (two_accounts if args.two_accounts else one_account)(args)


if __name__ == "__main__":
    main()
