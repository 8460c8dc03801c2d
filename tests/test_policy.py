"""The polling rules on unsaved rows: no database, no HTTP (any query would fail these tests)."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from django_smsc_status import policy
from django_smsc_status.conf import get_settings
from django_smsc_status.exceptions import (
    SmscAuthError,
    SmscBusy,
    SmscCircuitOpen,
    SmscError,
    SmscInvalidRequest,
    SmscIpBlocked,
    SmscNotFound,
    SmscTimeout,
    SmscTooManyRequests,
)
from django_smsc_status.models import SentMessage
from django_smsc_status.outcomes import Outcome
from django_smsc_status.soap import StatusResult

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
T0 = NOW - timedelta(minutes=10)  # SMSC's time of the stored status


@pytest.fixture
def config(settings):
    settings.SMSC_STATUS = {
        "LOGIN": "a",
        "PASSWORD": "b",
        "BACKOFF_INITIAL": 60,
        "BACKOFF_MAX": 600,
        "BACKOFF_JITTER": 0,
        "GIVE_UP_AFTER": 86400,
    }
    return get_settings()


def row(status=None, changed_at=None, attempts=0, sent_ago=60, **fields) -> SentMessage:
    fields.setdefault("err", None if status is None else 0)
    message = SentMessage(
        smsc_id="1",
        phone="79991234567",
        status=status,
        status_changed_at=changed_at,
        check_attempts=attempts,
        sent_at=NOW - timedelta(seconds=sent_ago),
        is_final=status in (1, 2, 3, 4, 20, 22, 23, 24, 25),
        **fields,
    )
    return message


def answer(status, changed_at=T0, err=0, **fields) -> StatusResult:
    return StatusResult(status=status, err=err, changed_at=changed_at, **fields)


# -- apply_answer ---------------------------------------------------------------------------------

APPLY = [
    # (case, stored row, answer, applied?, status after, final after, next check in s or None)
    ("first answer", row(), answer(-1), True, -1, False, 60),
    ("delivered ends polling", row(0, T0), answer(1, T0 + timedelta(seconds=5)), True, 1, True, None),
    ("unchanged backs off", row(0, T0, attempts=2), answer(0, T0), False, 0, False, 480),
    ("backoff is capped", row(0, T0, attempts=9), answer(0, T0), False, 0, False, 600),
    ("older answer is ignored", row(1, T0), answer(0, T0 - timedelta(seconds=30)), False, 1, True, None),
    ("same second, earlier stage ignored", row(0, T0), answer(-1, T0), False, 0, False, 120),
    ("same second, later stage applied", row(-1, T0), answer(0, T0), True, 0, False, 60),
    (
        "pending after final is ignored",
        row(20, T0),
        answer(0, T0 + timedelta(seconds=9)),
        False,
        20,
        True,
        None,
    ),
    ("final after final is recorded", row(1, T0), answer(2, T0 + timedelta(seconds=9)), True, 2, True, None),
    ("no SMSC time: cannot be older", row(0, T0), answer(1, None), True, 1, True, None),
    ("never compared with our clock", row(0, None), answer(1, T0 - timedelta(hours=3)), True, 1, True, None),
]


@pytest.mark.parametrize(
    ("case", "stored", "seen", "applied", "status", "final", "next_in"), APPLY, ids=[c[0] for c in APPLY]
)
def test_apply_answer(config, case, stored, seen, applied, status, final, next_in):
    snapshot = policy.apply_answer(stored, seen, NOW, config)
    assert (snapshot is not None) == applied
    assert (stored.status, stored.is_final) == (status, final)
    if next_in is None:
        assert stored.next_check_at is None
    else:
        assert stored.next_check_at == NOW + timedelta(seconds=next_in)
    if applied:
        assert stored.check_attempts == 0 and stored.status_changed_at == seen.changed_at
        assert (snapshot.status, snapshot.changed_at, snapshot.observed_at) == (status, seen.changed_at, NOW)


def test_apply_answer_fits_fields_and_clears_errors(config):
    stored = row(last_request_error="SMSC error 9", quarantine_reason="'id' holds characters")
    seen = answer(1, sender="S" * 30, operator="O" * 150, cost=Decimal("1e20"), sms_count=2, text="hi")
    policy.apply_answer(stored, seen, NOW, config)
    assert (stored.sender, stored.operator, stored.cost) == ("S" * 19 + "…", "O" * 99 + "…", None)
    assert (stored.sms_count, stored.text) == (2, "hi")
    assert stored.last_request_error == "" and stored.quarantine_reason == ""


# -- record_error ---------------------------------------------------------------------------------

ERRORS = [
    # (error, outcome, attempts after, next check in s (None: not polled), status after)
    (SmscTimeout(), Outcome.TRANSPORT_ERROR, 3, 480, 0),
    (SmscTooManyRequests(code=9), Outcome.REQUEST_ERROR, 3, 60, 0),  # RATE_LIMIT_BACKOFF
    (SmscAuthError(code=2), Outcome.REQUEST_ERROR, 3, 480, 0),
    (SmscNotFound(code=3), Outcome.REQUEST_ERROR, 3, 480, 0),  # a known status stays
    (SmscBusy(), Outcome.REFUSED, 2, "unchanged", 0),  # not asked: no attempt counted
    (SmscInvalidRequest(parameter="id"), Outcome.QUARANTINED, 2, None, 0),
    (SmscError("could not save SMSC's answer"), Outcome.FAILED, 3, 480, 0),
]


@pytest.mark.parametrize(
    ("error", "outcome", "attempts", "next_in", "status"), ERRORS, ids=[type(e[0]).__name__ for e in ERRORS]
)
def test_record_error(config, error, outcome, attempts, next_in, status):
    stored = row(0, T0, attempts=2, next_check_at=NOW)
    result = policy.record_error(stored, error, NOW, config)
    assert result.outcome == outcome and result.error is error
    assert stored.check_attempts == attempts and stored.status == status
    assert stored.last_request_error == str(error)[:200]
    if next_in == "unchanged":
        assert stored.next_check_at == NOW
    elif next_in is None:
        assert stored.next_check_at is None and stored.is_quarantined
    else:
        assert stored.next_check_at == NOW + timedelta(seconds=next_in)


def test_not_found_on_a_message_never_seen_shows_as_not_found(config):
    stored = row()
    policy.record_error(stored, SmscNotFound(code=3), NOW, config)
    assert stored.status == -3 and stored.status_changed_at is None  # any real status wins later
    assert stored.next_check_at == NOW + timedelta(seconds=120)


# -- next_check and retry_after -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "delay", "expected"),
    [
        (row(0, attempts=0), None, 60),
        (row(0, attempts=3), None, 480),
        (row(0, attempts=30), None, 600),
        (row(0), 5, 15),  # never sooner than MIN_CHECK_INTERVAL
        (row(1), None, None),  # final
        (row(0, sent_ago=86401), None, None),  # given up
    ],
)
def test_next_check(config, stored, delay, expected):
    due = policy.next_check(stored, NOW, config, delay)
    assert due == (None if expected is None else NOW + timedelta(seconds=expected))


def test_default_ladder_checks_soon_then_less_and_less_often(settings):
    """The defaults: after an answer that changed the status, 15 s (BACKOFF_INITIAL 10, but
    never sooner than MIN_CHECK_INTERVAL), then doubling per unchanged answer to BACKOFF_MAX."""
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "BACKOFF_JITTER": 0}
    config = get_settings()
    delays = [(policy.next_check(row(0, attempts=n), NOW, config) - NOW).total_seconds() for n in range(10)]
    assert delays == [15, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert config.first_check_after == 5


def test_jitter_stays_within_its_fraction(settings):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "BACKOFF_INITIAL": 100, "BACKOFF_JITTER": 0.2}
    delays = {(policy.next_check(row(0), NOW, get_settings()) - NOW).total_seconds() for _ in range(200)}
    assert min(delays) >= 80 and max(delays) <= 120 and len(delays) > 50


@pytest.mark.parametrize(
    ("error", "seconds"),
    [
        (SmscTooManyRequests(code=9), 60),
        (SmscIpBlocked(code=4), 600),
        (SmscAuthError(code=2), 1800),
        (SmscBusy(), 10),
        (SmscTimeout(), None),
        (SmscCircuitOpen(until=None), None),
    ],
)
def test_retry_after(config, error, seconds):
    assert policy.retry_after(error, config) == seconds


def test_retry_after_a_pause_counts_down_to_its_end(config):
    until = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert 298 < policy.retry_after(SmscCircuitOpen(until=until), config) <= 300
