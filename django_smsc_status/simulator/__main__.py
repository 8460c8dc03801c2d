"""``python -m django_smsc_status.simulator``: run the simulated SMSC until Ctrl-C.

One process is one SMSC site; it serves every login given (each ``--login LOGIN:PASSWORD``, or
``--login LOGIN`` with ``--password``; ``demo:demo`` if none). For two sites, e.g. smsc.ru and
smsc.kz, run it twice::

    python -m django_smsc_status.simulator --port 8765 --login demo --password demo
    python -m django_smsc_status.simulator --port 8766 --login demo-kz --password demo-kz
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading

from .push import Pusher
from .server import SimulatorServer
from .smsc import Smsc, Step, default_timeline


def scaled(timeline_for, factor: float):
    """``timeline_for`` with every step's time multiplied by ``factor``."""

    def wrapped(phone: str, text: str) -> tuple[Step, ...]:
        return tuple(Step(s.status, s.err, s.after * factor) for s in timeline_for(phone, text))

    return wrapped


def login_value(value: str) -> tuple[str, str | None]:
    """``LOGIN[:PASSWORD]`` as a pair, None for a password not given (the password may contain
    colons, the login may not)."""
    name, colon, password = value.partition(":")
    if not name:
        raise argparse.ArgumentTypeError(f"expected LOGIN[:PASSWORD], got {value!r}")
    return name, password if colon else None


def login_and_password_value(value: str) -> tuple[str, str]:
    """``LOGIN:PASSWORD`` as a pair: the deprecated ``--account``'s, whose password is required."""
    name, password = login_value(value)
    if password is None:
        raise argparse.ArgumentTypeError(f"expected LOGIN:PASSWORD, got {value!r}")
    return name, password


def callback(value: str) -> tuple[str, str]:
    """``[LOGIN=]URL`` as ``(login, url)``; without a login, ``""`` (the first login)."""
    login, equals, url = value.partition("=")
    if equals and login and not any(c in login for c in "/:?"):
        return login, url
    return "", value


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m django_smsc_status.simulator",
        description="A local SMS Center (SMSC) SOAP simulator: one site.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--login",
        type=login_value,
        action="append",
        default=[],
        metavar="LOGIN[:PASSWORD]",
        help="a login of this site (repeatable; default demo); the first is the API key's",
    )
    parser.add_argument("--password", default="demo", help="the password of a --login given without one")
    # Deprecated (0.2.0): --login LOGIN:PASSWORD. Hidden; still adds a login after the --login ones.
    parser.add_argument(
        "--account", type=login_and_password_value, action="append", default=[], help=argparse.SUPPRESS
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
    return parser.parse_args(argv)


def logins_of(args: argparse.Namespace) -> dict[str, str]:
    """Login -> password, the first login first (``demo`` if no ``--login`` was given, as
    before ``--account`` was renamed)."""
    if args.account:
        print("--account is deprecated: use --login LOGIN:PASSWORD", file=sys.stderr, flush=True)
    given = args.login or [("demo", None)]
    logins = {name: args.password if password is None else password for name, password in given}
    return {**logins, **dict(args.account)}


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    logins = logins_of(args)
    first_login = next(iter(logins))
    api_keys = {args.api_key: first_login} if args.api_key else {}
    smsc = Smsc(
        logins,
        api_keys,
        latency=args.latency,
        timeline_for=scaled(default_timeline, args.timeline_scale),
    )
    server = SimulatorServer(smsc, args.host, args.port, apikey_wsdl=bool(args.api_key)).start()
    names = ", ".join(map(repr, logins))
    print(f"SMSC simulator at {server.endpoint} (WSDL: {server.wsdl_url}); logins {names}", flush=True)
    pusher = None
    if args.callback_url:
        callbacks = {name or first_login: url for name, url in args.callback_url}
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
