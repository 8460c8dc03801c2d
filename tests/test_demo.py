"""The README's demo command, in its non-interactive ``--check`` mode."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SMSC_TEST_DB") == "postgres",
                       reason="the demo runs on SQLite; once per test command is enough"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_comes_up_and_the_worker_refreshes(tmp_path):
    env = {**os.environ, "DEMO_DB": str(tmp_path / "demo.sqlite3")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "example_project" / "demo.py"), "--check",
         "--port", str(free_port()), "--smsc-port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "login admin / admin" in output
    assert "check passed" in output and "refreshed 8 messages" in output
