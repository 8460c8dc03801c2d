"""A schedule shaped like real deliveries (issue 19): the first check seconds after sending, a
sweep that follows what becomes due, and a way to wait for a status. Counted at the server
(the simulator); real waits are small parameters (floors lifted), never long sleeps."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_smsc_status import service
from django_smsc_status.models import SentMessage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paced(fast_polling):
    """Floors lifted, but a message is asked at most every 0.3 s: the limits still bite."""
    fast_polling.update(MIN_CHECK_INTERVAL=0.3, BACKOFF_INITIAL=0.3)
    return fast_polling


def checks(smsc, message) -> list[float]:
    return smsc.status_checks.get((message.smsc_id, message.phone), [])


def due_in(message, seconds: float):
    """Make ``message`` due ``seconds`` from now; returns that moment."""
    at = timezone.now() + timedelta(seconds=seconds)
    SentMessage.objects.filter(pk=message.pk).update(next_check_at=at)
    return at


# -- the first check ------------------------------------------------------------------------------


def test_a_sent_message_is_first_checked_seconds_after_sending(smsc_settings, smsc_simulator):
    (message,) = service.send("79991234567", "Your code is 1234")
    assert message.next_check_at - message.sent_at == timedelta(seconds=5)  # FIRST_CHECK_AFTER


# -- polling while status pushes arrive ----------------------------------------------------------

PUSH_TOKEN = "pUsh-T0ken-for-schedule_0123456789"


def matched_push(message, status: int = 1, **received):
    """A status push the endpoint matched to ``message`` (as ``push.handle`` records it)."""
    from django_smsc_status import push
    from django_smsc_status.conf import get_settings
    from django_smsc_status.models import ReceivedPush

    config = get_settings(message.account)
    push.record(config, push.Kind.MATCHED, {"id": message.smsc_id, "status": str(status)}, message)
    if received:
        ReceivedPush.objects.update(**received)


@pytest.fixture
def pushes_arrive(smsc_settings, smsc_simulator, tracked):
    """Pushes on for the default account, one matched a message a moment ago; no jitter."""
    smsc_settings.update(PUSH_TOKEN=PUSH_TOKEN, BACKOFF_JITTER=0)
    matched_push(tracked((1,)))
    return smsc_settings


def test_with_pushes_arriving_the_first_check_comes_later(pushes_arrive, smsc_simulator):
    """The push is expected first; the first poll (PUSH_FIRST_CHECK_AFTER) only catches a
    lost one."""
    (message,) = service.send("79991234567", "Your code is 1234")
    assert message.next_check_at - message.sent_at == timedelta(seconds=15)


@pytest.mark.parametrize("why", ["no token", "push a day old", "no push matched"])
def test_without_pushes_arriving_the_first_check_is_as_ever(pushes_arrive, smsc_simulator, why):
    from django_smsc_status.models import ReceivedPush

    if why == "no token":
        pushes_arrive["PUSH_TOKEN"] = ""
    elif why == "push a day old":
        ReceivedPush.objects.update(received_at=timezone.now() - timedelta(hours=24, seconds=1))
    else:
        ReceivedPush.objects.update(kind="unknown")
    (message,) = service.send("79991234567", "Your code is 1234")
    assert message.next_check_at - message.sent_at == timedelta(seconds=5)


@pytest.mark.parametrize(("pushes", "after_change", "after_unchanged"), [(True, 30, 60), (False, 15, 20)])
def test_with_pushes_arriving_polling_backs_off_further(
    pushes_arrive, smsc_simulator, tracked, pushes, after_change, after_unchanged
):
    """After an answer: PUSH_BACKOFF_INITIAL (30 s) doubling, instead of BACKOFF_INITIAL (10 s,
    raised to MIN_CHECK_INTERVAL) doubling. Each request is still the sweep's claim, spaced
    by MIN_CHECK_INTERVAL."""
    from django_smsc_status.models import ReceivedPush

    if not pushes:
        ReceivedPush.objects.all().delete()
    message = tracked((-1,))
    for delay in (after_change, after_unchanged):  # -1 is a change from nothing, then unchanged
        before = timezone.now()
        service.refresh(message)
        message.refresh_from_db()
        assert before + timedelta(seconds=delay) <= message.next_check_at
        assert message.next_check_at <= timezone.now() + timedelta(seconds=delay)
        SentMessage.objects.filter(pk=message.pk).update(last_checked_at=before - timedelta(minutes=1))
    assert len(checks(smsc_simulator.smsc, message)) == 2


# -- the following sweep --------------------------------------------------------------------------


def test_a_following_sweep_asks_each_message_as_it_becomes_due(fast_polling, smsc_simulator, tracked):
    smsc = smsc_simulator.smsc
    messages = [tracked((1,)) for _ in range(3)]
    due = [due_in(m, s) for m, s in zip(messages, (0.3, 0.8, 1.3), strict=True)]
    assert service.refresh_due().total == 0  # a single pass: nothing is due yet

    report = service.refresh_due(follow=2.3)  # ends within 1 s after the last one is due

    assert report.total == 3 and not report.out_of_time
    for message, at in zip(messages, due, strict=True):
        (asked,) = checks(smsc, message)  # asked exactly once (final at the first answer)
        assert asked >= at.timestamp()  # and not before it was due
    assert SentMessage.objects.filter(is_final=True).count() == 3


def test_a_following_sweep_with_nothing_due_sleeps_instead_of_spinning(fast_polling, smsc_simulator):
    with CaptureQueriesContext(connection) as queries:
        service.refresh_due(follow=1.5)
    assert len(queries) < 40  # a pause growing to 1 s: a handful of lookups, not thousands
    assert smsc_simulator.smsc.calls["get_status"] == 0


def test_a_following_sweep_stops_at_its_time_limit(fast_polling, smsc_simulator, tracked):
    """A round that could not send before the worker's timeout is never started."""
    fast_polling.update(TIMEOUT=0.5, CONNECT_TIMEOUT=0.5)
    message = tracked((1,))
    due_in(message, 30)
    report = service.refresh_due(follow=60, time_limit=4.0)  # 1 s a request, 2 s to finish
    assert report.total == 0 and not checks(smsc_simulator.smsc, message)


def test_a_following_sweep_ends_when_the_login_is_paused(fast_polling, smsc_simulator, tracked, caplog):
    """No retry every second against a pause: the sweep stops following, the next run tries."""
    from django_smsc_status import limits
    from django_smsc_status.conf import get_settings

    due_in(tracked((1,)), 0)
    limits.pause(get_settings(), 4, 60)
    report = service.refresh_due(follow=30)
    assert report.paused and report.total == 0
    assert smsc_simulator.smsc.calls["get_status"] == 0
    assert sum("sweep skipped account" in r.getMessage() for r in caplog.records) == 1


def test_two_following_sweeps_at_once_ask_each_message_once(fast_polling, smsc_simulator, tracked, spawn):
    smsc = smsc_simulator.smsc
    messages = [tracked((1,)) for _ in range(20)]
    SentMessage.objects.update(next_check_at=timezone.now() + timedelta(days=1))
    sweeps = [spawn("follow", 2.0) for _ in range(2)]
    for i, message in enumerate(messages):
        due_in(message, 0.3 + i * 0.05)  # due one after another while both sweeps follow
    for sweep in sweeps:
        assert sweep.wait(30) == 0
    assert [len(checks(smsc, m)) for m in messages] == [1] * 20
    assert SentMessage.objects.filter(is_final=True).count() == 20


# -- waiting --------------------------------------------------------------------------------------


def test_wait_returns_on_a_final_status_asking_within_the_limits(paced, smsc_simulator, tracked):
    smsc = smsc_simulator.smsc
    message = tracked((-1,), (-1,), (1,), by_checks=True)  # final at the third check
    stored = service.wait_for_status(message, timeout=4)
    assert stored.is_final and stored.status == 1
    assert len(checks(smsc, message)) == 3
    assert smsc.closest_checks(message.smsc_id, message.phone) >= 0.3  # MIN_CHECK_INTERVAL


def test_wait_times_out_cleanly(paced, smsc_simulator, tracked):
    smsc = smsc_simulator.smsc
    message = tracked((-1,))  # never final
    stored = service.wait_for_status(message, timeout=1.0)
    assert not stored.is_final and stored.status == -1
    asked = len(checks(smsc, message))
    assert 1 <= asked <= 4 and smsc.closest_checks(message.smsc_id, message.phone) >= 0.3
    assert smsc.calls["get_status"] == asked


def test_wait_for_any_new_status(paced, smsc_simulator, tracked):
    message = tracked((-1,), (1,), by_checks=True)
    stored = service.wait_for_status(message, timeout=4, final=False)
    assert stored.status == -1 and len(checks(smsc_simulator.smsc, message)) == 1


def test_wait_returns_at_once_for_a_message_nobody_polls(paced, smsc_simulator, tracked):
    message = tracked((-1,))
    SentMessage.objects.filter(pk=message.pk).update(next_check_at=None)  # given up
    assert service.wait_for_status(message, timeout=5).next_check_at is None
    assert smsc_simulator.smsc.calls["get_status"] == 0


def test_wait_while_a_worker_sweeps(paced, smsc_simulator, tracked, spawn):
    """The worker and the waiter share the asking: each request is the claim of one of them,
    never both (as many requests as the timeline needs, spaced by MIN_CHECK_INTERVAL)."""
    smsc = smsc_simulator.smsc
    message = tracked((-1,), (-1,), (1,), by_checks=True)
    SentMessage.objects.filter(pk=message.pk).update(next_check_at=timezone.now() + timedelta(days=1))
    worker = spawn("follow", 3.0)
    due_in(message, 0.2)
    stored = service.wait_for_status(message, timeout=4)
    assert stored.is_final
    assert len(checks(smsc, message)) == 3
    assert smsc.closest_checks(message.smsc_id, message.phone) >= 0.3
    assert worker.wait(30) == 0


def test_wait_while_the_login_is_paused_only_reads(paced, smsc_simulator, tracked):
    from django_smsc_status import limits
    from django_smsc_status.conf import get_settings

    message = tracked((1,))
    limits.pause(get_settings(), 4, 60)
    stored = service.wait_for_status(message, timeout=0.5)
    assert not stored.is_final and smsc_simulator.smsc.calls["get_status"] == 0


def test_wait_refuses_to_hold_a_transaction(paced, tracked):
    message = tracked((-1,))
    with pytest.raises(RuntimeError, match="transaction"), transaction.atomic():
        service.wait_for_status(message, timeout=1)
