"""Shared set-up: Django on a fresh benchmark database, a simulator, timing helpers."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")


def setup_django(fresh: bool = True) -> None:
    import django
    from django.conf import settings

    db = settings.DATABASES["default"]
    if fresh and db["ENGINE"].endswith("sqlite3"):
        Path(db["NAME"]).unlink(missing_ok=True)
    if fresh and db["ENGINE"].endswith("postgresql"):
        import psycopg

        with psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}"')
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def configure_smsc(endpoint: str, **extra) -> None:
    from django.conf import settings

    settings.SMSC_STATUS = {
        "LOGIN": "bench",
        "PASSWORD": "bench-pw",
        "ENDPOINT": endpoint,
        "TIMEOUT": 10.0,
        **extra,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SimulatorProcess:
    """A simulated SMSC site in its own process (SMSC is another machine: its CPU is not ours)."""

    process: subprocess.Popen
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/sys/soap.php"

    def stop(self) -> dict:
        """Stop it; what it saw (``Smsc.stats()``: calls, errors, in flight per login, asked)."""
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        return json.loads(out.strip().splitlines()[-1])


def start_simulator(
    login: str = "bench", password: str = "bench-pw", *, latency: float = 0.0, port: int | None = None
) -> SimulatorProcess:
    """``python -m django_smsc_status.simulator`` on ``port`` (a free one by default), answering
    after ``latency`` seconds; returns once it listens."""
    port = port or free_port()
    command = [sys.executable, "-m", "django_smsc_status.simulator", "--port", str(port)]
    command += ["--login", login, "--password", password, "--latency", str(latency), "--stats"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    process.stdout.readline()  # "SMSC simulator at ..."
    return SimulatorProcess(process, port)


def machine() -> str:
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"


def median_time(func, repeat: int = 7) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)
