"""``python -m django_smsc_status.simulator``: run the simulated SMSC until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading

from .server import SimulatorServer
from .smsc import Smsc, Step, default_timeline


def scaled(timeline_for, factor: float):
    """``timeline_for`` with every step's time multiplied by ``factor``."""

    def wrapped(phone: str, text: str) -> tuple[Step, ...]:
        return tuple(Step(s.status, s.err, s.after * factor) for s in timeline_for(phone, text))

    return wrapped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local SMS Center (SMSC) SOAP simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--login", default="demo")
    parser.add_argument("--password", default="demo")
    parser.add_argument("--api-key", default="", help="also accept this API key (adds apikey to the WSDL)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--timeline-scale",
        type=float,
        default=1.0,
        help="stretch sent messages' timelines (default: delivered 15 s after sending)",
    )
    args = parser.parse_args(argv)

    api_keys = {args.api_key: args.login} if args.api_key else {}
    smsc = Smsc(
        {args.login: args.password},
        api_keys,
        latency=args.latency,
        timeline_for=scaled(default_timeline, args.timeline_scale),
    )
    server = SimulatorServer(smsc, args.host, args.port, apikey_wsdl=bool(args.api_key)).start()
    print(f"SMSC simulator at {server.endpoint} (WSDL: {server.wsdl_url}); login {args.login!r}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
