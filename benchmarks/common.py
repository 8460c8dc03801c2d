"""Shared set-up: Django on a fresh benchmark database, a simulator, timing helpers."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
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


def machine() -> str:
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"


def median_time(func, repeat: int = 7) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)
