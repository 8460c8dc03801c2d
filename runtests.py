#!/usr/bin/env python3
"""Set up and run the whole test suite: ``python3 runtests.py [pytest args]``.

From a fresh clone it creates ``.venv``, installs the package with its ``test`` extra, runs
ruff, then pytest on SQLite, then pytest again on PostgreSQL (127.0.0.1:5432, database
``test``) with the Redis tests, when those servers answer. Under ``CI=true`` a missing
PostgreSQL, Redis or Chromium is an error instead of a skip.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".installed"
CI = os.environ.get("CI", "").lower() == "true"


def run(*cmd: str | Path, **env: str) -> int:
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env={**os.environ, **env})


def ensure_venv() -> None:
    """Create .venv and install ``.[test]``; re-install only when pyproject.toml changed."""
    if not PYTHON.exists() and run(sys.executable, "-m", "venv", VENV):
        sys.exit("could not create .venv")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        if run(PYTHON, "-m", "pip", "install", "-q", "--upgrade", "pip") or run(
            PYTHON, "-m", "pip", "install", "-q", "-e", ".[test]"
        ):
            sys.exit("pip install failed")
        STAMP.write_text(digest)


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def main(args: list[str]) -> int:
    ensure_venv()
    failed = []
    if run(PYTHON, "-m", "ruff", "check", "django_smsc_status", "tests", "example_project",
           "benchmarks", "runtests.py"):
        failed.append("ruff")
    if run(PYTHON, "-m", "django", "makemigrations", "django_smsc_status", "--check", "--dry-run",
           DJANGO_SETTINGS_MODULE="tests.settings"):
        failed.append("makemigrations --check")
    if run(PYTHON, "-m", "pytest", *args, SMSC_TEST_DB="sqlite"):
        failed.append("pytest (SQLite)")
    if reachable(5432):
        if run(PYTHON, "-m", "pytest", *args, SMSC_TEST_DB="postgres"):
            failed.append("pytest (PostgreSQL)")
    elif CI:
        failed.append("PostgreSQL at 127.0.0.1:5432 is required under CI=true")
    else:
        print("PostgreSQL not reachable at 127.0.0.1:5432: its pass is skipped", flush=True)
    if failed:
        print("FAILED: " + "; ".join(failed), flush=True)
        return 1
    print("All checks passed.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
