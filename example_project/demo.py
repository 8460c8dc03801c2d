#!/usr/bin/env python3
"""The demo: ``python3 example_project/demo.py`` from a fresh clone.

Creates ``.venv`` if needed (as the test command does), then: a fresh SQLite database, two SMSC
sites simulated (smsc.ru for the account "default", smsc.kz for "kz", each with its own login and
port), demo messages of both accounts, an admin login, a django-q2 worker with the sweep
schedule, and the dev server. Pending messages move to delivered (or fail) over the next two
minutes on their own; the simulators push each change to the site (as SMSC does), so the app
asks and knows within about a second. Ctrl-C stops everything.

``--check`` brings it all up, waits until the admin and the API answer, the worker has
refreshed every message of both accounts and a push has made it learn a one-time code's
delivery, then exits (the test suite runs this).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin"  # a local demo login
OTP_PHONE = "79161110020"


def bootstrap() -> None:
    """Run again inside the project's .venv, creating it first if needed."""
    sys.path.insert(0, str(ROOT))
    from runtests import PYTHON, ensure_venv

    if Path(sys.prefix).resolve() != PYTHON.parent.parent.resolve():
        ensure_venv()
        os.execv(str(PYTHON), [str(PYTHON), __file__, *sys.argv[1:]])


def wait_for(url: str, timeout: float = 60, auth: bool = False) -> bytes:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    while True:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def seed(simulator, simulator_kz) -> int:
    """Messages of both accounts in several states; the pending ones move on over the next two
    minutes."""
    from django.contrib.auth import get_user_model

    from django_smsc_status import service, tasks
    from django_smsc_status.simulator import timeline

    user_model = get_user_model()
    if not user_model.objects.filter(username=ADMIN_USER).exists():
        user_model.objects.create_superuser(ADMIN_USER, "admin@example.com", ADMIN_PASSWORD)

    hour_ago = time.time() - 3600
    history = [  # sent an hour ago, already final
        ("79161110001", timeline((-1,), (0, 0, 5), (1, 0, 20)), "Заказ №1042 доставлен"),
        ("79161110002", timeline((-1,), (0, 0, 5), (20, 1, 30)), "Ваш код: 5531"),
        ("79161110003", timeline((-1,), (0, 0, 5), (3, 0, 600)), "Напоминание о записи"),
        ("79161110004", timeline((-1,), (0, 0, 5), (22, 249, 10)), "Bad number example"),
    ]
    for phone, steps, text in history:
        sent = simulator.smsc.add_message(phone, steps=steps, text=text, sender="DemoShop", sent_at=hour_ago)
        service.register(sent.smsc_id, phone, text=text, sender="DemoShop")
    # Sent now, through the service, as an app would: delivered within ~2 min, one fails.
    service.send(
        ["79161110010", "79161110011", "79161110012"], "Ваш заказ передан в доставку", sender="DemoShop"
    )
    service.send(["79161110100"], "This one will fail: subscriber does not exist", sender="DemoShop")
    # A one-time code, delivered 3 s after sending: its push makes it known a second later.
    code = simulator.smsc.add_message(
        OTP_PHONE, steps=timeline((-1,), (1, 0, 3)), text="Ваш код: 4821", sender="DemoShop"
    )
    service.register(code.smsc_id, OTP_PHONE, text=code.text, sender="DemoShop")
    # The "kz" account, at smsc.kz: its own login, numbers read as Kazakh ones (DEFAULT_REGION).
    sent = simulator_kz.smsc.add_message(
        "77015550001", steps=history[0][1], text="Тапсырыс жеткізілді", sender="DemoKZ", sent_at=hour_ago
    )
    service.register(sent.smsc_id, "+7 701 555 0001", text=sent.text, sender="DemoKZ", account="kz")
    service.send(["8 701 555 0010", "+7 702 555 0011"], "Заказ в пути", sender="DemoKZ", account="kz")
    service.send(["87015550100"], "This one will fail too", sender="DemoKZ", account="kz")
    tasks.ensure_schedule(1)
    return len(history) + 5 + 4


def _stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


def manage_hint(smsc_port: int, smsc_kz_port: int) -> str:
    """How to run ``manage.py smsc_status`` against this demo: its Python, database and ports."""
    env = []
    if smsc_port != 8765:
        env.append(f"DEMO_SMSC_PORT={smsc_port}")
    if smsc_kz_port != 8766:
        env.append(f"DEMO_SMSC_KZ_PORT={smsc_kz_port}")
    if os.environ.get("DEMO_DB"):
        env.append(f"DEMO_DB={shlex.quote(os.environ['DEMO_DB'])}")
    python = os.path.relpath(sys.executable, ROOT) if sys.prefix.startswith(str(ROOT)) else sys.executable
    return " ".join([*env, python, "example_project/manage.py", "smsc_status", "refresh", "--all"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="dev server port")
    parser.add_argument("--smsc-port", type=int, default=8765, help="simulated smsc.ru's port")
    parser.add_argument("--smsc-kz-port", type=int, default=8766, help="simulated smsc.kz's port")
    parser.add_argument("--check", action="store_true", help="start, verify, stop")
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    os.environ["DEMO_SMSC_PORT"] = str(args.smsc_port)
    os.environ["DEMO_SMSC_KZ_PORT"] = str(args.smsc_kz_port)
    sys.path.insert(0, str(HERE))
    db = Path(os.environ.get("DEMO_DB", HERE / "db.sqlite3"))
    db.unlink(missing_ok=True)  # the simulator starts empty, so the database does too

    import django

    django.setup()
    from django.core.management import call_command

    from django_smsc_status.conf import get_settings
    from django_smsc_status.simulator import Pusher, SimulatorServer, Smsc, Step, default_timeline

    def slow_timeline(phone: str, text: str):  # stretched so you can watch it move
        return tuple(Step(s.status, s.err, s.after * 6) for s in default_timeline(phone, text))

    simulator = SimulatorServer(Smsc({"demo": "demo"}, timeline_for=slow_timeline), port=args.smsc_port)
    simulator_kz = SimulatorServer(
        Smsc({"demo-kz": "demo-kz"}, timeline_for=slow_timeline), port=args.smsc_kz_port
    )
    simulators = [simulator.start(), simulator_kz.start()]
    children: list[subprocess.Popen] = []
    pushers: list[Pusher] = []
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # `kill PID` stops everything, as Ctrl-C does
    try:
        call_command("migrate", verbosity=0)
        count = seed(simulator, simulator_kz)
        env = {**os.environ, "PYTHONPATH": str(HERE)}
        manage = [sys.executable, str(HERE / "manage.py")]
        children.append(subprocess.Popen([*manage, "qcluster"], env=env))
        children.append(
            subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{args.port}"], env=env)
        )
        base = f"http://127.0.0.1:{args.port}"
        hint = manage_hint(args.smsc_port, args.smsc_kz_port)
        wait_for(f"{base}/admin/login/")
        pushers = [
            Pusher(server.smsc, {login: f"{base}/smsc/push/{get_settings(name).push_token}/"}).start()
            for server, login, name in ((simulator, "demo", "default"), (simulator_kz, "demo-kz", "kz"))
        ]
        print(
            f"\nSMSC simulators: {simulator.endpoint} (account default, login demo)\n"
            f"                 {simulator_kz.endpoint} (account kz, login demo-kz)\nAdmin: {base}/admin/  "
            f"(login {ADMIN_USER} / {ADMIN_PASSWORD})\nAPI:   {base}/api/smsc/messages/\n"
            f"Statuses change on their own over the next two minutes; SMSC's pushes of each change\n"
            f"(to {base}/smsc/push/<PUSH_TOKEN>/) make the app know in seconds. Ctrl-C stops everything.\n"
            f"Command line (another terminal, from {ROOT}):\n  {hint}\n",
            flush=True,
        )
        if args.check:
            from django.db.models import Count

            from django_smsc_status.models import PushCounter, SentMessage
            from django_smsc_status.tasks import enqueue_refresh

            enqueue_refresh(SentMessage.objects.all())
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                body = json.loads(wait_for(f"{base}/api/smsc/messages/", auth=True))
                by_account = dict(
                    SentMessage.objects.filter(status__isnull=False)
                    .values_list("account")
                    .annotate(n=Count("pk"))
                    .order_by("account")
                )
                pushed = PushCounter.objects.filter(account="default", matched__gte=1).exists()
                if (
                    body["count"] == count
                    and all(m["status"]["code"] is not None for m in body["results"])
                    and sum(by_account.values()) == count
                    and pushed
                    and SentMessage.objects.filter(phone=OTP_PHONE, status=1).exists()
                ):
                    accounts = ", ".join(f"{name} {n}" for name, n in by_account.items())
                    print(
                        f"check passed: admin and API answer; the worker refreshed {count} messages "
                        f"({accounts}); a push made it learn the code's delivery"
                    )
                    return 0
                time.sleep(1)
            print("check failed: the worker did not refresh every message in time", file=sys.stderr)
            return 1
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…")
        return 0
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
        for pusher in pushers:
            pusher.stop()
        for server in simulators:
            server.stop()


if __name__ == "__main__":
    bootstrap()
    sys.exit(main())
