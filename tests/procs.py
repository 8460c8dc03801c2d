"""Roles for the multi-process tests, each a real OS process on the test database:

    python -m tests.procs hold N          lease N request slots and keep them (heartbeat)
    python -m tests.procs sweep SECONDS   run the periodic sweep over and over
    python -m tests.procs follow SECONDS  one sweep following due messages that long
    python -m tests.procs sweep_alarm SECONDS [PAUSE]   one sweep, stopped as django-q2 stops
                                          a task at its timeout (SIGALRM raising SystemExit);
                                          PAUSE: seconds its caller takes over each answer
    python -m tests.procs refresh SECONDS PK...   manual refreshes of random messages
    python -m tests.procs refresh_many PK...      one refresh of these messages
    python -m tests.procs compact SECONDS     fold the stats deltas into the tallies, over and over

``SMSC_TEST_SETTINGS`` holds the ``SMSC_STATUS`` dict as JSON (``SMSC_TEST_NO_FLOORS=1``: the
test lifted ``conf.defaults.FLOORS``); the database comes from the environment as in
``tests.settings``. Each role prints ``ready`` when it has started.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time


def main(role: str, *args: str) -> None:
    import django

    django.setup()
    from django.conf import settings

    from django_smsc_status import limits, service
    from django_smsc_status.conf import get_settings

    settings.SMSC_STATUS = json.loads(os.environ["SMSC_TEST_SETTINGS"])
    if os.environ.get("SMSC_TEST_NO_FLOORS") == "1":  # the test lifted them (fast_polling)
        from django_smsc_status import conf

        conf.defaults.FLOORS = {}  # read there
    if role == "hold":
        limits.acquire_slots(get_settings(), int(args[0]))
        print("ready", flush=True)
        time.sleep(3600)
    print("ready", flush=True)
    if role == "sweep":
        until = time.monotonic() + float(args[0])
        while time.monotonic() < until:
            service.refresh_due()
            time.sleep(0.1)
    elif role == "compact":
        from django_smsc_status import tallies

        until = time.monotonic() + float(args[0])
        while time.monotonic() < until:
            tallies.compact()
            time.sleep(0.05)
    elif role == "follow":
        service.refresh_due(follow=float(args[0]))
    elif role == "sweep_alarm":
        from django_q.timeout import TimeoutHandler

        pause = float(args[1]) if len(args) > 1 else 0  # in the caller, after each answer

        with TimeoutHandler(int(args[0])):
            service.refresh_due(progress=lambda report: time.sleep(pause))
    elif role == "refresh":
        until, pks = time.monotonic() + float(args[0]), [int(a) for a in args[1:]]
        while time.monotonic() < until:
            service.refresh(random.choice(pks))
            time.sleep(0.3)
    elif role == "refresh_many":
        service.refresh_many([int(a) for a in args])
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
