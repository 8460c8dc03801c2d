"""``python -m django_smsc_status.simulator``: run the simulated SMSC until Ctrl-C.

One process is one SMSC site; it serves every login given (``--login``/``--password`` and each
``--account LOGIN:PASSWORD``). For two sites, e.g. smsc.ru and smsc.kz, run it twice::

    python -m django_smsc_status.simulator --port 8765 --login demo --password demo
    python -m django_smsc_status.simulator --port 8766 --login demo-kz --password demo-kz
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading

from .push import Pusher
from .server import SimulatorServer
from .smsc import Smsc, Step, default_timeline


def scaled(timeline_for, factor: float):
    """``timeline_for`` with every step's time multiplied by ``factor``."""

    def wrapped(phone: str, text: str) -> tuple[Step, ...]:
        return tuple(Step(s.status, s.err, s.after * factor) for s in timeline_for(phone, text))

    return wrapped


def account(value: str) -> tuple[str, str]:
    """``LOGIN:PASSWORD`` as a pair (the password may contain colons, the login may not)."""
    login, colon, password = value.partition(":")
    if not login or not colon:
        raise argparse.ArgumentTypeError(f"expected LOGIN:PASSWORD, got {value!r}")
    return login, password


def callback(value: str) -> tuple[str, str]:
    """``[LOGIN=]URL`` as ``(login, url)``; without a login, ``""`` (the first login)."""
    login, equals, url = value.partition("=")
    if equals and login and not any(c in login for c in "/:?"):
        return login, url
    return "", value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m django_smsc_status.simulator",
        description="A local SMS Center (SMSC) SOAP simulator: one site.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--login", default="demo", help="the first login (and the API key's)")
    parser.add_argument("--password", default="demo")
    parser.add_argument(
        "--account",
        type=account,
        action="append",
        default=[],
        metavar="LOGIN:PASSWORD",
        help="another login of this site (repeatable)",
    )
    parser.add_argument("--api-key", default="", help="also accept this API key (adds apikey to the WSDL)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--timeline-scale",
        type=float,
        default=1.0,
        help="stretch sent messages' timelines (default: delivered 15 s after sending)",
    )
    parser.add_argument(
        "--callback-url",
        type=callback,
        action="append",
        default=[],
        metavar="[LOGIN=]URL",
        help="push status changes of LOGIN's (default: the first login's) messages to URL (repeatable)",
    )
    parser.add_argument("--push-secret", default="", help="checksum secret, for URLs with md5 or sha1")
    parser.add_argument("--push-drop", type=float, default=0.0, help="fraction of pushes never sent")
    parser.add_argument("--push-duplicate", type=int, default=0, help="extra copies of every push")
    parser.add_argument("--push-delay", type=float, default=0.0, help="seconds each push waits")
    parser.add_argument("--push-reorder", action="store_true", help="send waiting pushes in random order")
    parser.add_argument(
        "--stats", action="store_true", help="on exit, print what it saw as one JSON line (see Smsc.stats)"
    )
    args = parser.parse_args(argv)

    accounts = {args.login: args.password, **dict(args.account)}
    api_keys = {args.api_key: args.login} if args.api_key else {}
    smsc = Smsc(
        accounts,
        api_keys,
        latency=args.latency,
        timeline_for=scaled(default_timeline, args.timeline_scale),
    )
    server = SimulatorServer(smsc, args.host, args.port, apikey_wsdl=bool(args.api_key)).start()
    logins = ", ".join(map(repr, accounts))
    print(f"SMSC simulator at {server.endpoint} (WSDL: {server.wsdl_url}); logins {logins}", flush=True)
    pusher = None
    if args.callback_url:
        callbacks = {login or args.login: url for login, url in args.callback_url}
        pusher = Pusher(
            smsc,
            callbacks,
            secrets=dict.fromkeys(callbacks, args.push_secret) if args.push_secret else None,
            drop=args.push_drop,
            duplicate=args.push_duplicate,
            delay=args.push_delay,
            reorder=args.push_reorder,
        ).start()
        print(f"pushing status changes of {', '.join(map(repr, callbacks))}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    if pusher is not None:
        pusher.stop()
    server.stop()
    if args.stats:
        print(json.dumps(smsc.stats()), flush=True)


if __name__ == "__main__":
    main()
