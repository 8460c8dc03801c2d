"""Real ``qcluster`` processes (2 workers) refreshing against the simulator.

ORM broker always; Redis broker where 127.0.0.1:6379 answers (required under CI=true).
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import django_q.conf
import pytest
from django.db import connection

from django_smsc_status import tasks
from django_smsc_status.models import SentMessage, StatusSnapshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI", "").lower() == "true"


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["orm", "redis"])
def qcluster(request, smsc_settings, smsc_simulator, monkeypatch):
    broker = request.param
    if broker == "redis":
        if not redis_up():
            if CI:
                pytest.fail("Redis at 127.0.0.1:6379 is required under CI=true")
            pytest.skip("Redis not reachable at 127.0.0.1:6379")
        monkeypatch.setattr(django_q.conf.Conf, "ORM", None)
        monkeypatch.setattr(django_q.conf.Conf, "REDIS", {"host": "127.0.0.1", "port": 6379, "db": 0})
        from django_q.brokers import get_broker

        get_broker().purge_queue()
    monkeypatch.setattr(django_q.conf.Conf, "SYNC", False)
    smsc_settings["CHUNK_SIZE"] = 5
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SMSC_Q_SYNC": "0",
        "SMSC_Q_BROKER": broker,
        "SMSC_TEST_ENDPOINT": smsc_simulator.endpoint,
        "SMSC_TEST_CHUNK": "5",
        "SMSC_TEST_SQLITE": str(db["NAME"]),
        "PGDATABASE": str(db["NAME"]),
        "SMSC_TEST_MARIADB_DB": str(db["NAME"]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    request.node.qcluster_output = output.decode(errors="replace")


def wait_for(condition, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_workers_refresh_everything_within_limits(qcluster, smsc_simulator, tracked):
    smsc_simulator.smsc.latency = 0.05
    messages = [tracked((-1,), (1, 0, 0), by_checks=True) for _ in range(40)]
    assert tasks.enqueue_refresh(messages) == 40
    assert tasks.enqueue_refresh(messages) == 0  # already queued: not queued twice
    done = wait_for(
        lambda: (
            not SentMessage.objects.filter(status__isnull=True).exists()
            and not SentMessage.objects.filter(refresh_queued_at__isnull=False).exists()
        )
    )
    assert done, f"workers did not finish; qcluster alive: {qcluster.poll() is None}"

    assert SentMessage.objects.filter(status=-1).count() == 40
    assert StatusSnapshot.objects.count() == 40  # one per message: no duplicates
    sim = smsc_simulator.smsc
    assert sim.calls["get_status"] == 40  # nobody was asked about twice
    assert sim.max_in_flight["alex"] <= 4
    assert max(sim.checks_within(m.smsc_id, m.phone) for m in messages) <= 5
    assert sim.max_in_flight["alex"] >= 2  # requests overlapped (a worker runs up to 4 at once)


def test_one_sweep_task_on_a_worker_asks_messages_as_they_become_due(qcluster, smsc_simulator, tracked):
    """One ``sweep_task`` run by a real worker follows: messages that become due one after
    another while it runs are each asked once, after they were due, by that one task."""
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import Task
    from django_q.tasks import async_task

    sim = smsc_simulator.smsc
    messages = [tracked((1,)) for _ in range(5)]
    SentMessage.objects.update(next_check_at=timezone.now() + timedelta(days=1))
    async_task("django_smsc_status.tasks.sweep_task", follow=12)
    start = timezone.now()
    due = {m.pk: start + timedelta(seconds=4 + i) for i, m in enumerate(messages)}  # 4 .. 8 s
    for message in messages:
        SentMessage.objects.filter(pk=message.pk).update(next_check_at=due[message.pk])

    assert wait_for(lambda: SentMessage.objects.filter(is_final=True).count() == 5, timeout=60)
    asks = []
    for message in messages:
        (asked,) = sim.status_checks[(message.smsc_id, message.phone)]  # once each
        assert asked >= due[message.pk].timestamp()
        asks.append(asked)
    assert max(asks) - min(asks) > 1.5  # not one pass at the end: asked as each came due
    assert wait_for(lambda: Task.objects.filter(func__endswith="sweep_task").exists(), timeout=30)
    assert Task.objects.filter(func__endswith="sweep_task").count() == 1
