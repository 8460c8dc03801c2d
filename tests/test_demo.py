"""The README's demo command, in its non-interactive ``--check`` mode."""

import itertools
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # the demo runs on its own SQLite file, whatever the suite's database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_comes_up_and_the_worker_refreshes(tmp_path):
    env = {**os.environ, "DEMO_DB": str(tmp_path / "demo.sqlite3")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "example_project" / "demo.py"),
            "--check",
            "--port",
            str(free_port()),
            "--smsc-port",
            str(free_port()),
            "--smsc-kz-port",
            str(free_port()),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "login admin / admin" in output
    assert "check passed" in output
    assert "refreshed 13 messages (default 9, kz 4)" in output  # both accounts, each at its own site
    assert "a push made it learn the code's delivery" in output


def child_pids(pid: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_every_child_and_the_printed_command_works(tmp_path):
    port, smsc_port, smsc_kz_port = free_port(), free_port(), free_port()
    env = {**os.environ, "DEMO_DB": str(tmp_path / "demo.sqlite3")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    demo = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "example_project" / "demo.py"),
            "--port",
            str(port),
            "--smsc-port",
            str(smsc_port),
            "--smsc-kz-port",
            str(smsc_kz_port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(demo.stdout), daemon=True).start()
        deadline = time.monotonic() + 120
        while not any("Ctrl-C stops everything" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        hint = next((line.strip() for line in lines if "smsc_status refresh" in line), "")
        assert f"DEMO_SMSC_PORT={smsc_port}" in hint, "".join(lines)
        assert f"DEMO_SMSC_KZ_PORT={smsc_kz_port}" in hint, "".join(lines)
        children = child_pids(demo.pid)
        assert len(children) >= 2  # qcluster and runserver
        # The printed command line, as a user would paste it, talks to the running demo.
        words = shlex.split(hint)
        assignments = [w for w in itertools.takewhile(lambda w: "=" in w, words)]
        command_env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        command_env.update(w.split("=", 1) for w in assignments)
        ran = subprocess.run(
            words[len(assignments) :], cwd=ROOT, capture_output=True, text=True, timeout=60, env=command_env
        )
        assert ran.returncode == 0, ran.stderr
        assert "messages" in ran.stdout
        # It reached the demo's simulators: the command exits 0 and says "N messages" even when
        # every request failed (a wrong port gives "12 messages: 12 SMSC could not be reached");
        # the one-time code may be known already (delivered 3 s after sending, then pushed).
        assert re.match(r"1[23] messages: ", ran.stdout), ran.stdout
        assert "could not be reached" not in ran.stdout and "refused" not in ran.stdout, ran.stdout
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(60) == 0
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if alive(pid)]
        for stopped in (port, smsc_port, smsc_kz_port):  # runserver and both simulated sites
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", stopped)) != 0, stopped
    finally:
        if demo.poll() is None:
            demo.kill()
