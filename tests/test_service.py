"""service.py against the simulator: registering, sending, refreshing and its rules."""

import math
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_smsc_status import service
from django_smsc_status.exceptions import SmscAuthError, SmscCircuitOpen, SmscMalformedResponse, SmscTimeout
from django_smsc_status.models import LoginState, SentMessage, StatusSnapshot
from django_smsc_status.service import Outcome
from django_smsc_status.signals import status_changed

pytestmark = pytest.mark.django_db


def calls(sim) -> int:
    return sim.smsc.calls["get_status"]


# -- register ------------------------------------------------------------------------------------


def test_register_is_idempotent(smsc_settings):
    first, created = service.register("123", "+7 (999) 123-45-67", text="Hi")
    again, created_again = service.register(123, "79991234567")
    assert created and not created_again
    assert first.pk == again.pk and again.text == "Hi"
    assert first.phone == "79991234567"
    assert first.next_check_at is not None and first.status is None


@pytest.mark.parametrize("phone", ["", "12345", "7999abc4567", "+7 999 123 45 67 89 01 23 45"])
def test_register_rejects_bad_phone(smsc_settings, phone):
    with pytest.raises(ValidationError):
        service.register("1", phone)
    assert not SentMessage.objects.exists()


@pytest.mark.parametrize("smsc_id", ["", "  ", "1 2", "x" * 41])
def test_register_rejects_bad_id(smsc_settings, smsc_id):
    with pytest.raises(ValidationError):
        service.register(smsc_id, "79991234567")


def test_register_rejects_unknown_fields(smsc_settings):
    with pytest.raises(TypeError, match="statuz"):
        service.register("1", "79991234567", statuz=1)


# -- send ----------------------------------------------------------------------------------------


def test_send_records_one_message_per_phone(smsc_settings, smsc_simulator):
    messages = service.send(["+79991112233", "79991112244"], "Ваш код 1234", sender="Shop")
    assert len(messages) == 2
    assert {m.phone for m in messages} == {"79991112233", "79991112244"}
    assert len({m.smsc_id for m in messages}) == 1
    stored = SentMessage.objects.get(phone="79991112233")
    assert stored.text == "Ваш код 1234" and stored.sender == "Shop" and stored.sms_count == 1
    assert stored.next_check_at > timezone.now()


def test_send_failure_records_nothing(smsc_settings, smsc_simulator):
    smsc_settings["PASSWORD"] = "wrong"
    with pytest.raises(SmscAuthError):
        service.send("79991112233", "hi")
    smsc_settings["PASSWORD"] = "s3cret-Pa55"
    assert service.reset_breaker()  # error 2 opened it
    smsc_simulator.inject("timeout", delay=1.5)
    with pytest.raises(SmscTimeout):
        service.send("79991112233", "hi")
    assert not SentMessage.objects.exists()


def test_send_validates_input(smsc_settings, smsc_simulator):
    with pytest.raises(ValidationError):
        service.send([], "hi")
    with pytest.raises(ValidationError):
        service.send("79991112233", "")
    assert smsc_simulator.requests == 0


# -- refresh: the timeline test of the issue ----------------------------------------------------


def test_timeline_gives_three_snapshots_then_stops(fast_polling, smsc_simulator, tracked):
    message = tracked((-1,), (0,), (1,), by_checks=True)
    for _ in range(6):
        service.refresh_due()
    message.refresh_from_db()
    assert message.status == 1 and message.is_final and message.next_check_at is None
    history = list(message.snapshots.order_by("observed_at", "pk").values_list("status", flat=True))
    assert history == [-1, 0, 1]
    assert calls(smsc_simulator) == 3  # nothing asked once final


def test_refresh_outcomes_and_fields(smsc_settings, smsc_simulator, tracked):
    message = tracked((1, 0))
    result = service.refresh(message)
    assert result.outcome == Outcome.CHANGED and result.snapshot is not None
    stored = result.message
    assert stored.status == 1 and stored.err == 0 and stored.is_final
    assert stored.operator == "МТС" and stored.region == "Москва" and stored.cost is not None
    assert result.snapshot.raw["status"] == "1"
    assert "psw" not in result.snapshot.raw


def test_unchanged_answer_writes_no_snapshot(fast_polling, smsc_simulator, tracked):
    message = tracked((-1,))
    service.refresh(message)
    result = service.refresh(message)
    assert result.outcome == Outcome.UNCHANGED
    assert StatusSnapshot.objects.count() == 1
    assert result.message.check_attempts == 1


def test_refresh_moments_after_a_check_answers_from_the_database(smsc_settings, smsc_simulator, tracked):
    message = tracked((-1,))
    service.refresh(message)
    result = service.refresh(message)
    assert result.outcome == Outcome.TOO_SOON
    assert result.message.status == -1
    assert 0 < result.retry_after <= 15
    assert calls(smsc_simulator) == 1


# -- status never moves backwards ---------------------------------------------------------------


def test_non_final_after_final_is_ignored(fast_polling, smsc_simulator, tracked):
    from django_smsc_status.simulator import timeline

    message = tracked((1,))
    service.refresh(message)
    smsc_simulator.smsc.messages[(message.smsc_id, message.phone)].steps = timeline((0,))
    result = service.refresh(message)
    assert result.outcome == Outcome.UNCHANGED
    assert result.message.status == 1 and result.message.is_final
    assert StatusSnapshot.objects.count() == 1


def test_older_observation_is_ignored(fast_polling, smsc_simulator, tracked):
    message = tracked((0,))
    future = timezone.now() + timedelta(hours=1)
    SentMessage.objects.filter(pk=message.pk).update(status=-1, status_changed_at=future)
    result = service.refresh(message)
    assert result.outcome == Outcome.UNCHANGED
    assert result.message.status == -1 and result.message.status_changed_at == future


def test_smsc_time_is_compared_with_smsc_time_never_with_ours(fast_polling, smsc_simulator, tracked):
    """SMSC's clock runs an hour behind ours. A first answer without any date must not store our
    clock as SMSC's, or every later (newer) answer would look older and be dropped."""
    smsc_simulator.smsc.advance(-3600)
    message = tracked((0,), (1,), by_checks=True)
    smsc_simulator.inject("no_dates")
    first = service.refresh(message)
    assert first.outcome == Outcome.CHANGED and first.message.status_changed_at is None
    second = service.refresh(message)
    assert second.outcome == Outcome.CHANGED, second.detail
    assert second.message.status == 1
    assert second.message.status_changed_at < timezone.now() - timedelta(minutes=59)  # SMSC's clock


def test_final_to_final_is_recorded(fast_polling, smsc_simulator, tracked):
    from django_smsc_status.simulator import timeline

    message = tracked((1,))
    service.refresh(message)
    smsc_simulator.smsc.messages[(message.smsc_id, message.phone)].steps = timeline((4, 0, 0))
    result = service.refresh(message)
    assert result.outcome == Outcome.CHANGED and result.message.status == 4


# -- errors: stored state kept, bookkeeping updated ---------------------------------------------


def test_error_9_backs_off_without_failing(smsc_settings, smsc_simulator, tracked):
    message = tracked((-1,))
    service.refresh(message)
    SentMessage.objects.filter(pk=message.pk).update(last_checked_at=None)
    smsc_simulator.inject("error", code=9)
    result = service.refresh(message)
    assert result.outcome == Outcome.REQUEST_ERROR and result.error.code == 9
    stored = result.message
    assert stored.status == -1 and not stored.is_final
    assert "error 9" in stored.last_request_error
    # RATE_LIMIT_BACKOFF (60 s) from when SMSC answered, within BACKOFF_JITTER (0.1): stored
    # times against each other, not against the clock when the test gets here
    wait = (stored.next_check_at - stored.last_checked_at).total_seconds()
    assert 60 * 0.9 <= wait <= 60 * 1.1, wait
    assert result.retry_after == 60


def test_error_2_opens_the_breaker(smsc_settings, smsc_simulator, tracked):
    messages = [tracked((1,)) for _ in range(5)]
    smsc_settings["PASSWORD"] = "wrong"
    results = service.refresh_many(messages)
    assert {r.outcome for r in results} <= {Outcome.REQUEST_ERROR, Outcome.REFUSED}
    assert any(isinstance(r.error, SmscAuthError) for r in results)
    asked = smsc_simulator.requests
    assert asked <= 4  # the pool stops at the first error 2
    assert LoginState.objects.get(login="alex").pause_code == 2

    smsc_settings["PASSWORD"] = "s3cret-Pa55"
    SentMessage.objects.update(last_checked_at=None)
    later = service.refresh_many(messages)
    assert {r.outcome for r in later} == {Outcome.REFUSED}
    assert isinstance(later[0].error, SmscCircuitOpen) and later[0].retry_after > 1700
    assert smsc_simulator.requests == asked  # no further calls at all
    assert str(service.refresh_due()).startswith("not run")

    assert service.reset_breaker()
    assert service.refresh(messages[0]).outcome == Outcome.CHANGED


def test_error_4_pauses_the_login(smsc_settings, smsc_simulator, tracked):
    message = tracked((1,))
    smsc_simulator.inject("error", code=4)
    result = service.refresh(message)
    assert result.error.code == 4
    state = LoginState.objects.get(login="alex")
    assert state.pause_code == 4 and state.is_paused
    assert 500 < (state.paused_until - timezone.now()).total_seconds() <= 600


@pytest.mark.parametrize("fault", ["timeout", "reset", "http500", "malformed", "soap_fault"])
def test_transport_failure_keeps_state_and_reschedules(fast_polling, smsc_simulator, tracked, fault):
    fast_polling.update(BACKOFF_INITIAL=60)
    message = tracked((-1,), (1, 0, 0), by_checks=True)
    service.refresh(message)
    smsc_simulator.inject(fault, delay=1.5)
    result = service.refresh(message)
    assert result.outcome == Outcome.TRANSPORT_ERROR
    stored = result.message
    assert stored.status == -1 and stored.last_request_error
    assert stored.next_check_at > timezone.now() + timedelta(seconds=60)
    assert StatusSnapshot.objects.count() == 1
    assert service.refresh(message).message.status == 1  # and it recovers


def test_unknown_status_is_stored_and_polled(smsc_settings, tracked):
    result = service.refresh(tracked((77, 999)))
    assert result.message.status == 77 and result.message.err == 999
    assert not result.message.is_final and result.message.next_check_at is not None


# -- polling policy -------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap(fast_polling, tracked):
    fast_polling.update(BACKOFF_INITIAL=60, BACKOFF_MAX=300)
    message = tracked((-1,))
    waits = []
    for _ in range(5):
        message = service.refresh(message).message
        waits.append(round((message.next_check_at - message.last_checked_at).total_seconds()))
    assert waits == [60, 120, 240, 300, 300]


def test_give_up_after_age(fast_polling, smsc_simulator, tracked):
    message = tracked((-1,), sent_at=timezone.now() - timedelta(days=3))
    smsc_simulator.smsc.messages[(message.smsc_id, message.phone)].sent_at -= 3 * 86400
    result = service.refresh(message)
    assert result.message.status == -1
    assert result.message.next_check_at is None and result.message.is_given_up
    assert not SentMessage.objects.due().exists()
    assert SentMessage.objects.given_up().count() == 1


def test_jitter_spreads_checks(fast_polling, tracked):
    fast_polling.update(BACKOFF_INITIAL=100, BACKOFF_JITTER=0.5)
    messages = [tracked((-1,)) for _ in range(20)]
    results = service.refresh_many(messages)
    waits = {round((r.message.next_check_at - r.message.last_checked_at).total_seconds()) for r in results}
    assert len(waits) > 5 and all(50 <= w <= 150 for w in waits)


# -- signal --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_status_changed_signal_after_commit(smsc_settings, tracked):
    message = tracked((1,))
    seen = []

    def receiver(sender, message, old_status, new_status, snapshot, **kwargs):
        seen.append((message.pk, old_status, new_status, snapshot.pk))

    status_changed.connect(receiver)
    try:
        service.refresh(message)
    finally:
        status_changed.disconnect(receiver)
    assert len(seen) == 1
    pk, old, new, snapshot_pk = seen[0]
    assert (pk, old, new) == (message.pk, None, 1) and snapshot_pk is not None


@pytest.mark.django_db(transaction=True)
def test_no_signal_when_transaction_rolls_back(smsc_settings, tracked):
    message = tracked((1,))
    seen = []

    def receiver(sender, message, **kwargs):
        seen.append(message.pk)

    status_changed.connect(receiver)
    try:
        with pytest.raises(RuntimeError, match=r"^roll back$"), transaction.atomic():
            service.refresh(message)
            assert SentMessage.objects.get(pk=message.pk).status == 1  # changed, uncommitted
            assert seen == []  # not sent inside the transaction
            raise RuntimeError("roll back")
    finally:
        status_changed.disconnect(receiver)
    assert seen == []
    assert SentMessage.objects.get(pk=message.pk).status is None


# -- scale: parallelism, queries, chunks ---------------------------------------------------------


def test_refresh_many_runs_in_parallel_within_the_limit(smsc_settings, smsc_simulator, tracked):
    smsc_simulator.smsc.latency = 0.05
    messages = [tracked((1,)) for _ in range(24)]
    results = service.refresh_many(messages)
    assert [r.message.pk for r in results] == [m.pk for m in messages]
    assert {r.outcome for r in results} == {Outcome.CHANGED}
    assert smsc_simulator.smsc.max_in_flight["alex"] == 4


def test_queries_grow_per_batch_not_per_message(smsc_settings, tracked):
    smsc_settings["CHUNK_SIZE"] = 10
    service.refresh(tracked((1,)))  # first use of the login creates its request-slot rows

    def queries_for(n):
        messages = [tracked((1,)) for _ in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            service.refresh_many(messages)
        return len(ctx)

    def bound(n):
        # once: too-soon check, login state, 4 site slots + 4 login slots leased, free
        # error tokens read + 4 leased, pause checked again, release = 17;
        # per claim (at least one message per slot): conditional UPDATE + SELECT;
        # per written batch (CHUNK_SIZE answers): lock, 2 savepoints + releases, update, insert
        return 17 + 2 * (math.ceil(n / 4) + 1) + 6 * math.ceil(n / 10)

    small, large = queries_for(10), queries_for(50)
    assert small <= bound(10) and large <= bound(50), (small, large)


def test_refresh_due_streams_in_chunks_and_honours_limit(fast_polling, smsc_simulator, tracked):
    fast_polling["CHUNK_SIZE"] = 5
    for _ in range(23):
        tracked((-1,))
    report = service.refresh_due(limit=12)
    assert report.total == 12 and report.counts[Outcome.CHANGED] == 12
    report = service.refresh_due()
    assert report.total == 23
    assert str(report).startswith("23 messages")


def test_refresh_due_skips_final_and_future(fast_polling, tracked):
    done = tracked((1,))
    service.refresh(done)
    later = tracked((-1,))
    SentMessage.objects.filter(pk=later.pk).update(next_check_at=timezone.now() + timedelta(hours=1))
    assert service.refresh_due().total == 0


def test_same_second_statuses_are_ordered_by_lifecycle(fast_polling, smsc_simulator, tracked):
    from django_smsc_status.simulator import timeline

    message = tracked((0,))
    service.refresh(message)
    same_second = smsc_simulator.smsc.messages[(message.smsc_id, message.phone)]
    same_second.steps = timeline((-1,))  # an answer from a slower request, same timestamp
    result = service.refresh(message)
    assert result.outcome == Outcome.UNCHANGED and result.message.status == 0


def test_send_refuses_control_characters(smsc_settings, smsc_simulator):
    with pytest.raises(ValidationError, match="control characters"):
        service.send("79991112233", "ring \x07")
    assert smsc_simulator.requests == 0


def test_error_2_from_send_or_balance_opens_the_breaker_too(smsc_settings, smsc_simulator):
    smsc_settings["PASSWORD"] = "wrong"
    with pytest.raises(SmscAuthError):
        service.balance()
    asked = smsc_simulator.requests
    smsc_settings["PASSWORD"] = "s3cret-Pa55"
    with pytest.raises(SmscCircuitOpen):
        service.send("79991112233", "hi")
    assert smsc_simulator.requests == asked and not SentMessage.objects.exists()
    assert LoginState.objects.get(login="alex").pause_code == 2


@pytest.mark.parametrize("smsc_id", ["9" * 41, "12 34"])
def test_send_answer_with_an_id_no_message_can_have_is_a_malformed_answer(
    smsc_settings, smsc_simulator, smsc_id
):
    """SMSC's id is the message's key: one too long for its column (or with white space, which
    no id has) would fail the row's write after the SMS went out; it is refused as an answer."""
    smsc_simulator.inject("fields", fields={"id": smsc_id})
    with pytest.raises(SmscMalformedResponse, match="message id no SMSC message has"):
        service.send("79991112233", "hi")
    assert not SentMessage.objects.exists()
