#!/usr/bin/env python3
"""Set up and run the test suite.

``python3 runtests.py [pytest args]`` is the everyday loop: from a fresh clone it creates
``.venv``, installs the package with its ``test`` and ``typecheck`` extras and tox, runs ruff
(check and format --check), mypy and ``makemigrations --check``, then the fast tier (every test
not marked ``slow``) on SQLite and again on PostgreSQL (127.0.0.1:5432, database ``test``) with
the Redis tests, both cores busy (pytest-xdist), under coverage.py.

``python3 runtests.py --all`` is the whole suite, as CI runs it: the above, then the ``slow``
tier once (tests that wait in real time: real workers, the demo, leases outliving their length)
on PostgreSQL, then tox.ini's other environments (the other Python/Django pairs, a PostgreSQL
and a MariaDB env, lint, typecheck), with each pyenv interpreter's ``bin`` folder on ``PATH``
(tox does not find interpreters through pyenv's shims). It fails when line + branch coverage of
``django_smsc_status`` falls below the floor in ``pyproject.toml`` (``fail_under``).

Under ``CI=true`` a missing PostgreSQL, Redis or Chromium is an error instead of a skip.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".installed"
CI = os.environ.get("CI", "").lower() == "true"
SERVERS = {"postgres": 5432, "mariadb": 3306}  # tox factor -> port its env needs
LINTED = ("django_smsc_status", "tests", "example_project", "benchmarks", "docs", "runtests.py")
COVERAGE_DATA = ROOT / ".coverage-data"
CHECKS_ENVS = ("lint", "typecheck")  # tox envs for what checks() runs
WORKERS = "2"  # pytest-xdist processes: this machine's 2 cores (tests wait on I/O half the time)


def run(*cmd: str | Path, **env: str) -> int:
    print("+", " ".join(map(str, cmd)), flush=True)
    start = time.monotonic()
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT, env={**os.environ, **env})
    print(f"  ({time.monotonic() - start:.0f} s)", flush=True)
    return code


def ensure_venv() -> None:
    """Create .venv and install ``.[test]``; re-install only when pyproject.toml changed."""
    if not PYTHON.exists() and run(sys.executable, "-m", "venv", VENV):
        sys.exit("could not create .venv")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != digest:
        if run(PYTHON, "-m", "pip", "install", "-q", "--upgrade", "pip") or run(
            PYTHON, "-m", "pip", "install", "-q", "-e", ".[test,typecheck]", "tox>=4"
        ):
            sys.exit("pip install failed")
        STAMP.write_text(digest)


def reachable(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def postgres_problem() -> str | None:
    """Why the PostgreSQL pass cannot run, or None: it connects as the tests will, with the
    ``PG*`` environment variables (``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``,
    ``PGDATABASE``) over the defaults 127.0.0.1:5432, user ``postgres``, database ``test``."""
    host, port = os.environ.get("PGHOST", "127.0.0.1"), int(os.environ.get("PGPORT", "5432"))
    if not host.startswith("/") and not reachable(port, host):  # "/...": a socket folder
        return f"nothing answers on {host}:{port}"
    probe = subprocess.run(
        [
            PYTHON,
            "-c",
            "import os, psycopg; psycopg.connect(host=os.environ.get('PGHOST', '127.0.0.1'), "
            "port=os.environ.get('PGPORT', '5432'), user=os.environ.get('PGUSER', 'postgres'), "
            "password=os.environ.get('PGPASSWORD', ''), dbname=os.environ.get('PGDATABASE', 'test'), "
            "connect_timeout=5).close()",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode:
        lines = probe.stderr.strip().splitlines() or ["unknown error"]
        return f"cannot connect ({lines[-1]}); set PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE"
    return None


def pyenv_path() -> str:
    """``PATH`` with the ``bin`` folder of the newest pyenv install of each Python 3.x minor in
    front, so tox finds ``python3.10`` … ``python3.13`` (pyenv's shims hide them from tox)."""
    path = os.environ.get("PATH", "")
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return path
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True)
    newest: dict[tuple[int, int], tuple[int, str]] = {}
    for name in listed.stdout.split():
        found = re.fullmatch(r"3\.(\d+)\.(\d+)", name)  # CPython releases only
        if found:
            minor, patch = int(found[1]), int(found[2])
            if patch >= newest.get((3, minor), (-1, ""))[0]:
                newest[(3, minor)] = (patch, name)
    folders = []
    for _, name in newest.values():
        prefix = subprocess.run([pyenv, "prefix", name], capture_output=True, text=True)
        if prefix.returncode == 0:
            folders.append(str(Path(prefix.stdout.strip()) / "bin"))
    return os.pathsep.join([*folders, path])


def venv_pair() -> str:
    """The tox env name of the .venv's own pair, e.g. ``py311-django52`` (run in full above)."""
    return subprocess.run(
        [
            PYTHON,
            "-c",
            "import sys, django; v = sys.version_info; "
            "print(f'py{v[0]}{v[1]}-django{django.VERSION[0]}{django.VERSION[1]}')",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def matrix() -> list[str]:
    """Run tox.ini's environments except the one the passes above already were."""
    env = {"PATH": pyenv_path()}
    tox_envs = subprocess.run(
        [PYTHON, "-m", "tox", "list", "--no-desc", "-q"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    own = venv_pair()
    failed = []
    for name in tox_envs:
        if name == own or name in CHECKS_ENVS:
            print(f"tox env {name}: the passes above ran it", flush=True)
            continue
        server = next((port for factor, port in SERVERS.items() if factor in name.split("-")), None)
        if server and not reachable(server):
            if CI:
                failed.append(f"tox -e {name}: nothing answers on 127.0.0.1:{server}")
            else:
                print(f"tox env {name}: skipped, nothing answers on 127.0.0.1:{server}", flush=True)
            continue
        code = run(PYTHON, "-m", "tox", "run", "-e", name, **env)
        if code:
            failed.append(f"tox -e {name}")
    return failed


def checks() -> list[str]:
    failed = []
    if run(PYTHON, "-m", "ruff", "check", *LINTED):
        failed.append("ruff check")
    if run(PYTHON, "-m", "ruff", "format", "--check", *LINTED):
        failed.append("ruff format --check")
    if run(PYTHON, "-m", "mypy", "django_smsc_status", DJANGO_SETTINGS_MODULE="tests.settings"):
        failed.append("mypy")
    if run(
        PYTHON,
        "-m",
        "django",
        "makemigrations",
        "django_smsc_status",
        "--check",
        "--dry-run",
        DJANGO_SETTINGS_MODULE="tests.settings",
    ):
        failed.append("makemigrations --check")
    return failed


def pytest(label: str, database: str, markers: str, args: list[str]) -> list[str]:
    """One pytest pass under coverage (every process it starts is measured too)."""
    code = run(
        PYTHON,
        *("-m", "coverage", "run", "-m", "pytest", "-n", WORKERS, "-m", markers, *args),
        SMSC_TEST_DB=database,
    )
    # pytest's 5: no test selected (e.g. -k matched only tests of the other tier)
    return [] if code in (0, 5) else [f"pytest {label}"]


def coverage(enforce: bool) -> list[str]:
    """Combine the passes' data and print line + branch coverage; under ``--all`` hold the floor."""
    if run(PYTHON, "-m", "coverage", "combine", "-q"):
        return ["coverage combine"]
    floor = [] if enforce else ["--fail-under=0"]
    if run(PYTHON, "-m", "coverage", "report", *floor):
        return ["coverage below the floor in pyproject.toml ([tool.coverage.report] fail_under)"]
    return []


def main(args: list[str]) -> int:
    whole = "--all" in args
    args = [a for a in args if a != "--all"]
    ensure_venv()
    shutil.rmtree(COVERAGE_DATA, ignore_errors=True)
    COVERAGE_DATA.mkdir()
    failed = checks()
    failed += pytest("(SQLite)", "sqlite", "not slow", args)
    problem = postgres_problem()
    postgres = problem is None
    if postgres:
        failed += pytest("(PostgreSQL)", "postgres", "not slow", args)
    elif CI:
        failed.append(f"PostgreSQL is required under CI=true: {problem}")
    else:
        print(f"PostgreSQL pass skipped: {problem}", flush=True)
    if whole and postgres:
        failed += pytest("slow tier (PostgreSQL)", "postgres", "slow", args)
    # The floor holds for the whole suite on both databases, not for a subset or one database.
    failed += coverage(enforce=whole and postgres and not args)
    if whole:
        failed += matrix()
    if failed:
        print("FAILED: " + "; ".join(failed), flush=True)
        return 1
    print("All checks passed.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
