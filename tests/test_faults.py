"""Every fault SMSC or the network can produce, at the service level: a typed outcome, the
stored state untouched, the bookkeeping right, nothing lost."""

from datetime import timedelta

import pytest
from django.utils import timezone

from django_smsc_status import exceptions, service
from django_smsc_status.models import SentMessage, StatusSnapshot
from django_smsc_status.service import Outcome

pytestmark = pytest.mark.django_db

FAULTS = [
    # (inject kind, options, outcome, exception type)
    ("timeout", {"delay": 1.5}, Outcome.TRANSPORT_ERROR, exceptions.SmscTimeout),
    ("drip", {"delay": 0.3}, Outcome.TRANSPORT_ERROR, exceptions.SmscTimeout),  # TIMEOUT 1 s in all
    ("huge", {"size": 2 * 1024 * 1024}, Outcome.TRANSPORT_ERROR, exceptions.SmscAnswerTooLarge),
    ("reset", {}, Outcome.TRANSPORT_ERROR, exceptions.SmscConnectionError),
    ("http500", {}, Outcome.TRANSPORT_ERROR, exceptions.SmscHttpError),
    ("malformed", {}, Outcome.TRANSPORT_ERROR, exceptions.SmscMalformedResponse),
    ("wrong_namespace", {}, Outcome.TRANSPORT_ERROR, exceptions.SmscMalformedResponse),
    ("soap_fault", {}, Outcome.TRANSPORT_ERROR, exceptions.SmscSoapFault),
    ("empty", {}, Outcome.TRANSPORT_ERROR, exceptions.SmscMalformedResponse),
    ("error", {"code": 1}, Outcome.REQUEST_ERROR, exceptions.SmscBadParameters),
    ("error", {"code": 2}, Outcome.REQUEST_ERROR, exceptions.SmscAuthError),
    ("error", {"code": 3}, Outcome.REQUEST_ERROR, exceptions.SmscNotFound),
    ("error", {"code": 4}, Outcome.REQUEST_ERROR, exceptions.SmscIpBlocked),
    ("error", {"code": 9}, Outcome.REQUEST_ERROR, exceptions.SmscTooManyRequests),
    ("error", {"code": 77}, Outcome.REQUEST_ERROR, exceptions.SmscRequestError),
]


@pytest.mark.parametrize(
    ("kind", "options", "outcome", "error_type"),
    FAULTS,
    ids=[f"{f[0]}{f[1].get('code', '')}" for f in FAULTS],
)
def test_fault_keeps_stored_state(fast_polling, smsc_simulator, tracked, kind, options, outcome, error_type):
    fast_polling.update(BACKOFF_INITIAL=60)
    message = tracked((-1,), (1,), by_checks=True, text="Привет 👋")
    before = service.refresh(message).message
    started = timezone.now()
    smsc_simulator.inject(kind, **options)

    result = service.refresh(message)

    assert result.outcome == outcome and type(result.error) is error_type
    after = SentMessage.objects.get(pk=message.pk)
    for field in ("status", "err", "status_changed_at", "is_final", "text", "operator", "cost"):
        assert getattr(after, field) == getattr(before, field), field
    assert after.text == "Привет 👋"
    assert StatusSnapshot.objects.filter(message=message).count() == 1
    assert after.last_checked_at >= started
    assert after.last_request_error == str(result.error)[:200]
    assert after.check_attempts == before.check_attempts + 1
    assert after.next_check_at > timezone.now() + timedelta(seconds=30)  # due again, later
    if kind == "error" and options["code"] in (2, 4):
        service.reset_breaker()
    assert service.refresh(message).message.status == 1  # and nothing was lost


def test_connection_refused_keeps_stored_state(fast_polling, smsc_simulator, tracked):
    message = tracked((-1,))
    service.refresh(message)
    fast_polling["ENDPOINT"] = "http://127.0.0.1:9/sys/soap.php"
    result = service.refresh(message)
    assert result.outcome == Outcome.TRANSPORT_ERROR
    assert isinstance(result.error, exceptions.SmscConnectionError)
    assert result.message.status == -1 and "refused" in result.message.last_request_error


def test_cyrillic_and_emoji_round_trip(smsc_settings, smsc_simulator):
    text = "Заказ №42 готов 🎉 — ждём вас!"
    message = service.send("79991234567", text, sender="Магазин")[0]
    stored = service.refresh(message).message
    assert stored.text == text and stored.sender == "Магазин"
    assert stored.snapshots.get().raw["message"] == text


def test_unknown_codes_are_stored_not_failed(fast_polling, tracked):
    result = service.refresh(tracked((-1,), (31, 1234), by_checks=True))
    assert result.message.status == -1
    result = service.refresh(result.message)
    assert result.outcome == Outcome.CHANGED
    assert (result.message.status, result.message.err) == (31, 1234)
    assert result.message.status_info.label == "Unknown code 31"
