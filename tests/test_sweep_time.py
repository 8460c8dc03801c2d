"""A sweep ends within its worker's timeout, every answer it got written; a killed one loses
little. Counted at the server (the simulator) and in the database."""

import time

import pytest
from django.utils import timezone

from django_smsc_status import engine, service, tasks
from django_smsc_status.models import RequestSlot, SentMessage
from django_smsc_status.service import Outcome


@pytest.fixture
def slow_smsc(fast_polling, smsc_simulator, tracked, monkeypatch):
    """100 due messages, SMSC answering in 0.1 s: 2.5 s of work for 4 slots; a request may
    take 1 s (TIMEOUT + CONNECT_TIMEOUT), and a run keeps 0.5 s to finish."""
    fast_polling.update(TIMEOUT=0.5, CONNECT_TIMEOUT=0.5)
    monkeypatch.setattr(engine.loop, "FINISH_MARGIN", 0.5)  # read by the run and the sweep
    smsc_simulator.smsc.latency = 0.1
    for _ in range(100):
        tracked((-1,))
    return smsc_simulator.smsc


def _answered() -> int:
    return SentMessage.objects.filter(status=-1).count()


@pytest.mark.django_db
def test_a_sweep_stops_claiming_in_time_and_writes_every_answer_it_got(slow_smsc):
    started = time.monotonic()
    report = service.refresh_due(time_limit=2.5)
    took = time.monotonic() - started

    asked = slow_smsc.calls["get_status"]
    assert took < 2.5  # the contract: over before the worker's timeout
    assert 0 < asked < 100 and report.out_of_time
    assert "stopped for time" in str(report)
    assert report.counts[Outcome.CHANGED] == _answered() == asked  # nothing asked was lost
    unasked = SentMessage.objects.due(timezone.now()).filter(status__isnull=True)
    assert unasked.count() == 100 - asked  # the rest stays due


@pytest.mark.django_db(transaction=True)
def test_the_sweep_task_takes_the_worker_timeout(slow_smsc, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "TIMEOUT", 2)  # Q_CLUSTER["timeout"], as the worker read it
    summary = tasks.sweep_task()
    assert "stopped for time" in summary
    assert _answered() == slow_smsc.calls["get_status"] < 100


@pytest.mark.django_db
def test_answers_are_written_as_they_come_not_held_for_a_full_batch(slow_smsc):
    """CHUNK_SIZE is 200: before, the 100 answers were all held in memory until the sweep
    ended (a sweep killed then lost them all)."""
    asked_at_first_write = []

    def progress(report):
        if not asked_at_first_write:
            asked_at_first_write.append(slow_smsc.calls["get_status"])

    report = service.refresh_due(progress=progress)
    assert asked_at_first_write[0] < 80  # written within about a second of coming
    assert report.counts[Outcome.CHANGED] == 100 and not report.out_of_time


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "pause",
    [
        pytest.param(0, id="alarm-in-the-run"),  # the main thread mostly waits for answers
        pytest.param(0.05, id="alarm-in-the-caller"),  # it mostly sleeps in progress()
    ],
)
def test_a_sweep_killed_at_the_worker_timeout_writes_what_it_asked_and_frees_its_slots(
    smsc_settings, smsc_simulator, tracked, spawn, pause
):
    """What django-q2 does to a task at its timeout: SIGALRM, SystemExit in the main thread,
    wherever that thread is (in the run, or in the code consuming its results)."""
    smsc_simulator.smsc.latency = 0.1
    for _ in range(100):
        tracked((-1,))

    sweep = spawn("sweep_alarm", 1, pause)  # no time limit: the alarm comes mid-sweep
    sweep.wait(30)

    asked = smsc_simulator.smsc.calls["get_status"]
    assert 0 < asked < 100
    assert _answered() == asked  # every request made had its answer written
    assert not RequestSlot.objects.exclude(holder="").exists()  # slots free for the next tick


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("latency", [0.05 + step * 0.008 for step in range(12)])
def test_wherever_the_alarm_lands_every_answer_taken_is_written(
    smsc_settings, smsc_simulator, tracked, spawn, latency
):
    """The alarm at other moments of the run (SMSC's pace moves it): before the fix one run in
    twelve lost an answer taken off the queue just as the alarm came (26 written of 27 asked)."""
    smsc_simulator.smsc.latency = latency
    for _ in range(100):
        tracked((-1,))

    spawn("sweep_alarm", 1).wait(30)

    assert _answered() == smsc_simulator.smsc.calls["get_status"]
    assert not RequestSlot.objects.exclude(holder="").exists()


class _Alarm(Exception):
    pass


def test_the_runs_gate_holds_a_signal_until_it_waits_or_hands_out_a_result(monkeypatch):
    """The mechanism behind the two tests above, without timing: a signal that comes while the
    run moves answers or queries the database raises only once the run waits or yields. Sent
    while another thread runs too: Python runs the handler in the main thread whichever thread
    the kernel picks, so masking the signal would not hold it."""
    import os
    import signal
    import threading

    def alarm(signum, frame):
        raise _Alarm

    previous = signal.signal(signal.SIGALRM, alarm)
    other = threading.Thread(target=threading.Event().wait, args=(1,), daemon=True)
    other.start()
    try:
        gate, reached = engine.gate._Gate(), []
        with pytest.raises(_Alarm), gate.closed():
            os.kill(os.getpid(), signal.SIGALRM)
            sum(range(100_000))  # bytecodes run: an unheld handler would have raised by now
            reached.append("held")
            with gate.opened():
                reached.append("let in")
        assert reached == ["held"]  # raised as the gate opened, not before, not never
        assert signal.getsignal(signal.SIGALRM) is alarm  # the caller's handler is back

        gate, reached = engine.gate._Gate(), []
        with pytest.raises(_Alarm), gate.closed():
            os.kill(os.getpid(), signal.SIGALRM)
            sum(range(100_000))
            reached.append("held")
        assert reached == ["held"]  # one that came in the run's last steps raises as it ends
    finally:
        signal.signal(signal.SIGALRM, previous)
