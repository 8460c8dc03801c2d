"""B8: the test suite's own speed — one process vs pytest-xdist, in the same run.

Runs the fast tier (``-m "not slow"``) on one database once in a single process (the baseline)
and once per worker count given, and prints each wall time and its ratio to the baseline,
with the number of tests that passed (all runs must pass the same number). This is how the
test command's ``-n 2`` was chosen; tox.ini's budget comment and the README carry the result.

    .venv/bin/python benchmarks/bench_suite.py [--db sqlite|postgres] [--workers 2,3,4] [-- pytest args]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(workers: int, database: str, extra: list[str]) -> tuple[float, int]:
    """Wall seconds and passed tests of one run of the fast tier."""
    spread = ["-n", str(workers)] if workers > 1 else ["-p", "no:xdist"]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", *spread]
    start = time.monotonic()
    done = subprocess.run(
        [*command, *extra],
        cwd=ROOT,
        env={**os.environ, "SMSC_TEST_DB": database, "SMSC_SCREENSHOTS": ""},
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - start
    passed = re.search(r"(\d+) passed", done.stdout)
    if done.returncode or not passed:
        sys.exit(f"pytest failed with {workers} worker(s):\n{done.stdout[-3000:]}")
    return seconds, int(passed.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--workers", default="2,4", help="comma-separated xdist worker counts")
    parser.add_argument("extra", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"B8 test suite, fast tier on {args.db}, {os.cpu_count()} CPUs; baseline: one process", flush=True)
    baseline, tests = run(1, args.db, args.extra)
    print(f"  1 process   {baseline:7.1f} s  ratio 1.00  {tests} passed", flush=True)
    for workers in counts:
        seconds, passed = run(workers, args.db, args.extra)
        note = "" if passed == tests else f"  (differs from the baseline's {tests})"
        print(f"  -n {workers:<8} {seconds:7.1f} s  ratio {seconds / baseline:.2f}  {passed} passed{note}")


if __name__ == "__main__":
    main()
