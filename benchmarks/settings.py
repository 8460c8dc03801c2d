"""Settings for the benchmarks: a throw-away database (SQLite file, or PostgreSQL with
``BENCH_DB=postgres``), the app, the admin and the API."""

import os
import tempfile

from tests.settings import *  # noqa: F403 - same apps, middleware, templates, REST settings

if os.environ.get("BENCH_DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": "127.0.0.1",
            "PORT": "5432",
            "NAME": os.environ.get("BENCH_PGDATABASE", "smsc_bench"),
            "USER": "postgres",
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE", os.path.join(tempfile.gettempdir(), "smsc-bench.sqlite3")),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
        }
    }
DEBUG = False
ROOT_URLCONF = "benchmarks.urls"  # adds B3's fair baseline (benchmarks/baseline.py)
