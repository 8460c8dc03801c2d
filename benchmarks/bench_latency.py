"""B7: how soon the app knows a final status, per polling strategy, side by side in one run.

A workload of messages sent over two minutes whose status turns final after delays drawn
from the distribution below, run with the real sweep (``service.refresh_due``) against the
simulator (in this process, so it can hold each message's timeline). Time is compressed
``--speed`` times: every setting in seconds, the timelines, the sweep's interval, the
simulator's one-minute rule of 5 checks per message and the sweep's real-time pauses are
divided by it (floors lifted); every figure is printed back in simulated seconds.

Workload (seeded): per message, with -1 at once and 0 ("at the operator") after 1 s,
  75 % delivered (1) after a log-normal delay: median 5 s, sigma 0.8 (90th percentile ~14 s);
  10 % delivered late: uniform 30-300 s;
  10 % failed (20, err 1): log-normal, median 10 s, sigma 0.8;
   5 % never final (a phone that is off).

Strategies:
  today        FIRST_CHECK_AFTER = BACKOFF_INITIAL = 60 doubling, one sweep a minute
  fixed 15 s   every message asked every 15 s (a following sweep)
  new          the defaults (5, 20, 40, 80 ... s) and a following sweep (``sweep_task``)
  new, no follow   the defaults with one sweep a minute (what following adds)
  new + pushes     the defaults, and the simulator pushes each status change (``Pusher``,
                   4 pushes in flight at most) over HTTP to the app's real endpoint
                   (``push.receive``, served in this process by a small threaded WSGI
                   server): token check, ``hint`` makes the message due (not for a push of
                   -1 or 0), and the following sweep asks SMSC within its pause. Pushes
                   arriving, polling follows the push schedule (PUSH_FIRST_CHECK_AFTER 15,
                   PUSH_BACKOFF_INITIAL 30: 15, 45, 105 ... s), as ``service.send`` sets it.
                   No qcluster runs, so the refresh ``hint`` queues is never run
                   (``SMSC_Q_SYNC=0``): the sweep alone asks, as the README's production
                   setup would at worst.
  new + pushes, 30 % lost   the same with each push dropped with probability 0.3, decided
                   per (message, status) from the seed, so every run drops the same pushes
  oracle           one request exactly when the status turns final, from the timeline
                   (delay 0, one request per learned message, none for a never-final one):
                   the floor, not a run

Diagnostic, only with ``--only``: ``final pushes, first 60 s`` — pushes of final statuses
only (the simulator's push of 0 "at the operator" is not sent) and the first check at 60 s:
what the push path gives when no request precedes the final push by less than
``MIN_CHECK_INTERVAL`` (``push.hint`` makes such a message due only when the interval ends).

Reported: the delay from the moment SMSC has the final status to the moment the app has
written it (median, 90th percentile), messages final at SMSC but not known at the end,
requests per learned message and per never-final message, error 9 answers; for the push
strategies also the pushes sent, dropped and failed, how the endpoint counted them, and the
delay split: SMSC's final status to its push recorded by the endpoint, and from there to the
app knowing (the first is the harness: the pusher and the endpoint share this process).

    [BENCH_DB=postgres] python benchmarks/bench_latency.py [--messages 100] [--speed 10]
        [--minutes 20] [--seed 7] [--only STRATEGY ...]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from common import free_port, machine, setup_django

# No qcluster runs here: a refresh queued by a push must not run inside the push's request
# (django-q2's sync mode, the test settings' default); the following sweep asks instead.
os.environ.setdefault("SMSC_Q_SYNC", "0")

SEND_SPAN = 120  # seconds (simulated) over which the messages are sent
PUSH_TOKEN = "bench-push-token-0123456789abcdef"
PUSH_TICK = 0.1  # seconds (simulated) between the pusher's looks at the timelines
PUSH_SENDERS = 4  # pushes in flight at once (one at a time, a slow answer delayed the rest)

#: name -> (settings in simulated seconds, seconds between scheduled sweeps, follow?,
#: pushes: None for none, else the fraction lost)
STRATEGIES = {
    "today": ({"FIRST_CHECK_AFTER": 60, "BACKOFF_INITIAL": 60}, 60, False, None),
    "fixed 15 s": (
        {"FIRST_CHECK_AFTER": 15, "BACKOFF_INITIAL": 15, "BACKOFF_MAX": 15, "BACKOFF_JITTER": 0},
        60,
        True,
        None,
    ),
    "new": ({}, 60, True, None),
    "new, no follow": ({}, 60, False, None),
    "new + pushes": ({}, 60, True, 0.0),
    "new + pushes, 30 % lost": ({}, 60, True, 0.3),
}
#: diagnostic strategies, run only when named with --only
DIAGNOSTIC = {
    "final pushes, first 60 s": ({"FIRST_CHECK_AFTER": 60, "PUSH_FIRST_CHECK_AFTER": 60}, 60, True, 0.0)
}
FINAL_ONLY = frozenset(DIAGNOSTIC)
ORACLE = "oracle"
SECONDS_KEYS = (
    "FIRST_CHECK_AFTER",
    "BACKOFF_INITIAL",
    "PUSH_FIRST_CHECK_AFTER",
    "PUSH_BACKOFF_INITIAL",
    "BACKOFF_MAX",
    "MIN_CHECK_INTERVAL",
    "RATE_LIMIT_BACKOFF",
)


def workload(n: int, seed: int) -> list[tuple[float, list[tuple[int, int, float]]]]:
    """``(send time, timeline steps)`` per message, in simulated seconds."""
    rng = random.Random(seed)
    messages = []
    for _ in range(n):
        roll = rng.random()
        steps = [(-1, 0, 0.0), (0, 0, 1.0)]
        if roll < 0.75:
            steps.append((1, 0, max(rng.lognormvariate(1.609, 0.8), 1.5)))
        elif roll < 0.85:
            steps.append((1, 0, rng.uniform(30, 300)))
        elif roll < 0.95:
            steps.append((20, 1, max(rng.lognormvariate(2.303, 0.8), 1.5)))
        messages.append((rng.uniform(0, SEND_SPAN), steps))
    return sorted(messages, key=lambda m: m[0])


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def push_server() -> tuple[_ThreadingServer, str]:
    """The app's URLs (with the push endpoint) on a local port, served from threads: the
    push URL of the ``bench`` login."""
    from django.core.wsgi import get_wsgi_application

    server = make_server(
        "127.0.0.1",
        free_port(),
        get_wsgi_application(),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="push-endpoint", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/smsc/push/{PUSH_TOKEN}/"


def pusher(smsc, url: str, lost: float, seed: int, speed: float, final_only: bool = False):
    """The simulator's ``Pusher``, each push lost with probability ``lost``, decided per
    (message, status) from ``seed`` (the same pushes lost whatever the thread timing); the
    real seconds each push took to be answered in ``answer_times``."""
    from django_smsc_status.simulator import push

    class SeededLoss(push.Pusher):
        answer_times: list[float] = []
        lost: set[tuple[str, str]] = set()  # (id, status) of each push dropped

        def _queue(self, login: str, url: str, fields: dict[str, str]) -> None:
            if final_only and fields["status"] in ("-1", "0"):
                self.counts["not final, not sent"] += 1
                return
            roll = random.Random(f"{seed}:{fields['id']}:{fields['status']}").random()
            if roll < lost:
                self.counts["dropped"] += 1
                self.lost.add((fields["id"], fields["status"]))
                return
            super()._queue(login, url, fields)

        def _send_due(self) -> None:  # Pusher._send_due, PUSH_SENDERS at once, timing each
            now = time.monotonic()
            due = [item for item in self._waiting if item[0] <= now]
            self._waiting = [item for item in self._waiting if item[0] > now]
            for _at, url, fields in due:
                self.senders.submit(self._send_one, url, fields)

        def _send_one(self, url: str, fields: dict[str, str]) -> None:
            began = time.perf_counter()
            ok = push.send(url, fields)
            with self.count_lock:
                self.answer_times.append(time.perf_counter() - began)
                self.counts["sent" if ok else "failed"] += 1

        def stop(self) -> None:
            super().stop()
            self.senders.shutdown(wait=True)

    made = SeededLoss(smsc, {"bench": url}, tick=PUSH_TICK / speed, seed=seed)
    made.answer_times, made.lost = [], set()
    made.senders, made.count_lock = ThreadPoolExecutor(PUSH_SENDERS), threading.Lock()
    return made


def oracle(load, speed: float, minutes: float) -> dict:
    """One request exactly when each status turns final: what no strategy can beat."""
    ended = minutes * 60
    final = [at + steps[-1][2] for at, steps in load if len(steps) == 3]
    learned = sum(1 for t in final if t < ended)
    return {
        "name": ORACLE,
        "median": 0.0,
        "p90": 0.0,
        "unknown": 0,
        "per_learned": 1.0,
        "per_never": 0.0,
        "error9": 0,
        "learned": learned,
    }


def run(name: str, load, speed: float, minutes: float, smsc, endpoint: str, push_url: str, seed: int) -> dict:
    from django.conf import settings
    from django.db import connections
    from django.utils import timezone

    from django_smsc_status import engine, policy, service
    from django_smsc_status import push as push_module
    from django_smsc_status.conf import DEFAULT_ACCOUNT, DEFAULTS, get_settings
    from django_smsc_status.models import (
        LoginState,
        PushCounter,
        ReceivedPush,
        RequestSlot,
        SentMessage,
        StatusSnapshot,
    )
    from django_smsc_status.simulator import timeline

    keys, interval, follow, lost = {**STRATEGIES, **DIAGNOSTIC}[name]
    values = {key: keys.get(key, DEFAULTS[key]) / speed for key in SECONDS_KEYS}
    push = {"PUSH_TOKEN": PUSH_TOKEN} if lost is not None else {}
    settings.SMSC_STATUS = {
        "LOGIN": "bench",
        "PASSWORD": "bench-pw",
        "ENDPOINT": endpoint,
        **keys,
        **values,
        **push,
    }
    for model in (StatusSnapshot, ReceivedPush, PushCounter, SentMessage, RequestSlot, LoginState):
        model.objects.all().delete()
    push_module.KEEP = 100_000  # every push's arrival, to split a delay into push and request
    smsc.reset()
    smsc.rate_window = 60 / speed
    engine.sweep.FOLLOW_PAUSE, engine.sweep.FOLLOW_PAUSE_MAX = 0.05 / speed, 1.0 / speed
    engine.loop.FLUSH_SECONDS = 1.0 / speed
    config = get_settings()

    stop = threading.Event()

    def sweeper():
        next_tick = time.monotonic()
        while not stop.is_set():
            service.refresh_due(follow=(interval + 30) / speed if follow else 0)
            next_tick += interval / speed
            if not follow:
                stop.wait(max(next_tick - time.monotonic(), 0))
        connections.close_all()

    started = time.monotonic()
    thread = threading.Thread(target=sweeper)
    thread.start()
    pushes = None
    if lost is not None:
        pushes = pusher(smsc, push_url, lost, seed, speed, final_only=name in FINAL_ONLY).start()
    final_at = {}  # pk -> epoch seconds when SMSC had the final status
    for i, (at, steps) in enumerate(load):
        time.sleep(max(started + at / speed - time.monotonic(), 0))
        phone, smsc_id = f"7999{i:07d}", str(10_000 + i)
        scaled = [(status, err, after / speed) for status, err, after in steps]
        sim = smsc.add_message(phone, smsc_id=smsc_id, steps=timeline(*scaled))
        message, _ = service.register(smsc_id, phone)
        now = timezone.now()  # as service.send records a message it sent
        first_check = policy.first_check(now, config, push_module.arriving(config))
        SentMessage.objects.filter(pk=message.pk).update(sent_at=now, next_check_at=first_check)
        if len(steps) == 3:
            final_at[message.pk] = sim.sent_at + scaled[-1][2]
    time.sleep(max(started + minutes * 60 / speed - time.monotonic(), 0))
    stop.set()
    if pushes is not None:
        pushes.stop()
    thread.join()
    ended = time.time()

    known = {
        s.message_id: s.observed_at.timestamp()
        for s in StatusSnapshot.objects.filter(message__is_final=True, status__in=(1, 20))
    }
    rows = {m.pk: m for m in SentMessage.objects.all()}
    asked = {pk: len(smsc.status_checks.get((m.smsc_id, m.phone), [])) for pk, m in rows.items()}
    due_final = [pk for pk, t in final_at.items() if t < ended]
    delays = sorted((known[pk] - final_at[pk]) * speed for pk in due_final if pk in known)
    never = [pk for pk in rows if pk not in final_at]
    # asked less than MIN_CHECK_INTERVAL before its status turned final: a push of that
    # change can make the message due only when the interval ends (push.hint)
    spacing = values["MIN_CHECK_INTERVAL"]
    held = {
        pk
        for pk in due_final
        if pk in known
        and any(
            final_at[pk] - spacing < t <= final_at[pk]
            for t in smsc.status_checks.get((rows[pk].smsc_id, rows[pk].phone), [])
        )
    }

    def median_delay(pks) -> str:
        values = sorted((known[pk] - final_at[pk]) * speed for pk in pks)
        p90 = values[int(0.9 * (len(values) - 1))] if values else 0
        return f"{statistics.median(values):.1f} s / {p90:.1f} s" if values else "-"

    free = [pk for pk in due_final if pk in known and pk not in held]
    final_status = {pk: str(rows[pk].status) for pk in due_final if pk in known}
    dropped = pushes.lost if pushes is not None else set()
    unpushed = [pk for pk in final_status if (rows[pk].smsc_id, final_status[pk]) in dropped]
    pushed_at: dict[int, float] = {}  # pk -> when the endpoint got the final status's first push
    for message_id, fields, at in ReceivedPush.objects.filter(message__isnull=False).values_list(
        "message_id", "fields", "received_at"
    ):
        if message_id in final_status and fields.get("status") == final_status[message_id]:
            pushed_at[message_id] = min(pushed_at.get(message_id, at.timestamp()), at.timestamp())

    def split(pks) -> str:
        """Median seconds from SMSC's final status to its push's arrival, and from there on."""
        came = [(pushed_at[pk] - final_at[pk]) * speed for pk in pks if pk in pushed_at]
        asked = [(known[pk] - pushed_at[pk]) * speed for pk in pks if pk in pushed_at]
        if not came:
            return "-"
        return f"{statistics.median(came):.1f} s to arrive, then {statistics.median(asked):.1f} s to know"

    counters = PushCounter.objects.filter(account=DEFAULT_ACCOUNT)
    return {
        "name": name,
        "median": statistics.median(delays),
        "p90": delays[int(0.9 * (len(delays) - 1))],
        "unknown": len(due_final) - len(delays),
        "per_learned": statistics.mean(asked[pk] for pk in due_final if pk in known),
        "per_never": statistics.mean(asked[pk] for pk in never) if never else 0.0,
        "error9": smsc.errors_answered.get(9, 0),
        "learned": len(delays),
        "pushes": None
        if pushes is None
        else {
            **pushes.counts,
            "answered OK in (real ms, median/max)": (
                f"{1000 * statistics.median(pushes.answer_times):.0f}/{1000 * max(pushes.answer_times):.0f}"
                if pushes.answer_times
                else "-"
            ),
            "learned messages asked < MIN_CHECK_INTERVAL before turning final (median / p90 delay)": (
                f"{len(held)} ({median_delay(held)}), the others {len(free)} ({median_delay(free)})"
            ),
            "final pushes that came (median)": split(final_status),
            "learned messages whose final push was lost (median / p90 delay)": (
                f"{len(unpushed)} ({median_delay(unpushed)}), the others "
                f"{len(final_status) - len(unpushed)} "
                f"({median_delay([pk for pk in final_status if pk not in unpushed])})"
            ),
            **(counters.values("matched", "unknown", "malformed").first() or {}),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--speed", type=float, default=10)
    parser.add_argument("--minutes", type=float, default=20, help="simulated minutes per strategy")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", action="append", choices=[*STRATEGIES, ORACLE, *DIAGNOSTIC])
    args = parser.parse_args()

    setup_django()
    logging.getLogger("django-q").setLevel(logging.WARNING)  # one "Enqueued" line per push
    from django_smsc_status import conf
    from django_smsc_status.simulator.server import SimulatorServer
    from django_smsc_status.simulator.smsc import Smsc

    conf.defaults.FLOORS = {}  # the floors are real seconds; here every setting is divided by --speed
    load = workload(args.messages, args.seed)
    print(f"B7 latency — {args.messages} messages sent over {SEND_SPAN} s, {args.minutes:g} min each,")
    print(f"time {args.speed:g}× compressed, seed {args.seed}; {machine()}")
    print(
        f"  {'strategy':<24}{'median':>8}{'p90':>8}{'learned':>9}{'unknown':>9}"
        f"{'req/learned':>13}{'req/never-final':>17}{'error 9':>9}"
    )
    notes = []
    endpoint_server, push_url = push_server()
    with SimulatorServer(Smsc({"bench": "bench-pw"})) as server:
        for name in args.only or [*STRATEGIES, ORACLE]:
            if name == ORACLE:
                r = oracle(load, args.speed, args.minutes)
            else:
                r = run(
                    name, load, args.speed, args.minutes, server.smsc, server.endpoint, push_url, args.seed
                )
            print(
                f"  {r['name']:<24}{r['median']:>7.1f}s{r['p90']:>7.1f}s{r['learned']:>9}{r['unknown']:>9}"
                f"{r['per_learned']:>13.2f}{r['per_never']:>17.1f}{r['error9']:>9}",
                flush=True,
            )
            if r.get("pushes"):
                notes.append(f"  {name}: pushes " + ", ".join(f"{k} {v}" for k, v in r["pushes"].items()))
    endpoint_server.shutdown()
    print("\n".join(notes))
    print("  targets (polling alone): median ≤ 10 s, p90 ≤ 60 s, ≤ 4 requests per learned message, 0 error 9")
    print("  targets (pushes): median ≤ 2 s, p90 ≤ 5 s, ≤ 1.5 requests per learned message;")
    print("  30 % of pushes lost no worse than polling alone (new); 0 error 9")


if __name__ == "__main__":
    main()
