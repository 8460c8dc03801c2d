"""SMSC's limits hold exactly at the edges, counted at the server (the simulator).

Half-open logins and the authorisation budget (a wrong password never gets the IP blocked),
the lease heartbeat against a real SIGKILL, and per-message spacing with several OS processes
under slot starvation.
"""

import dataclasses
import signal
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from django_smsc_status import limits, service
from django_smsc_status.conf import get_settings
from django_smsc_status.exceptions import (
    SmscAuthError,
    SmscBusy,
    SmscCircuitOpen,
    SmscMalformedResponse,
    SmscNotFound,
)
from django_smsc_status.models import LoginState, RequestSlot, SentMessage
from django_smsc_status.service import Outcome


def errors_2_counted_at_the_site() -> int:
    """Errors 2 (certain or possible) the site's budget holds: each keeps a site slot."""
    site = get_settings().site
    return RequestSlot.objects.filter(kind="site", site=site, holder=limits.AUTH_ERROR_HOLDER).count()


def first_error_2_ends():
    """When the oldest error 2 counted at a site leaves the 30-minute window."""
    return RequestSlot.objects.filter(holder=limits.AUTH_ERROR_HOLDER).order_by("expires_at")[0].expires_at


@pytest.fixture
def wrong_password(smsc_simulator, monkeypatch):
    """Call it to change the password at SMSC (the app's settings keep the old one)."""
    return lambda: monkeypatch.setitem(smsc_simulator.smsc.logins, "alex", "changed-at-smsc")


@pytest.mark.django_db
def test_a_wrong_password_costs_one_call_not_four(smsc_settings, smsc_simulator, tracked, wrong_password):
    smsc_simulator.smsc.latency = 0.05
    messages = [tracked((1,)) for _ in range(10)]
    wrong_password()

    results = service.refresh_many(messages)

    assert smsc_simulator.smsc.calls["get_status"] == 1  # half-open: one request, not a pool's worth
    assert [r.outcome for r in results].count(Outcome.REQUEST_ERROR) == 1
    assert [r.outcome for r in results].count(Outcome.REFUSED) == 9
    assert LoginState.objects.get(login="alex").is_half_open


@pytest.mark.django_db
def test_resetting_the_breaker_never_gets_the_ip_blocked(
    fast_polling, smsc_simulator, tracked, wrong_password
):
    message = tracked((1,))
    wrong_password()
    outcomes = []
    for _ in range(8):  # an impatient admin resets the breaker again and again
        service.reset_breaker()
        outcomes.append(service.refresh(message))

    sim = smsc_simulator.smsc
    assert sim.errors_answered["2"] == 4  # four tries, never the fifth
    assert sim.blocked_until == {}  # SMSC never blocked the IP
    assert [type(r.error) for r in outcomes[:4]] == [SmscAuthError] * 4
    refused = outcomes[4:]
    assert {r.outcome for r in refused} == {Outcome.REFUSED}
    assert refused[0].error.until == first_error_2_ends()
    assert 29 * 60 < refused[0].retry_after <= 30 * 60  # the outcome says when to try again
    with pytest.raises(SmscCircuitOpen, match="a fifth would get this server's IP blocked"):
        service.balance()
    assert sim.calls["get_balance"] == 0


@pytest.mark.django_db
def test_a_password_changed_mid_sweep_is_paid_for_by_at_most_the_requests_in_flight(
    fast_polling, smsc_simulator, tracked, wrong_password
):
    smsc_simulator.smsc.latency = 0.05
    messages = [tracked((-1,)) for _ in range(20)]
    service.refresh(messages[0])  # the login proves itself: four requests at a time from now on
    wrong_password()

    service.refresh_many(messages)
    errors_in_the_sweep = smsc_simulator.smsc.errors_answered["2"]
    for _ in range(6):
        service.reset_breaker()
        service.refresh_many(messages)

    assert 1 <= errors_in_the_sweep <= 4
    assert smsc_simulator.smsc.errors_answered["2"] == 4
    assert smsc_simulator.smsc.blocked_until == {}


@pytest.mark.django_db
def test_an_error_2_in_another_namespace_stops_a_half_open_login(
    fast_polling, smsc_simulator, tracked, wrong_password
):
    smsc_simulator.smsc.latency = 0.02
    for _ in range(20):
        tracked((-1,))
    wrong_password()
    smsc_simulator.inject("wrong_namespace", times=100)
    per_sweep = []
    for _ in range(6):  # an impatient admin resets the breaker before every sweep
        before = smsc_simulator.smsc.calls["get_status"]
        service.refresh_due()
        per_sweep.append(smsc_simulator.smsc.calls["get_status"] - before)
        service.reset_breaker()

    assert max(per_sweep) == 1 and sum(per_sweep) == 4  # one per sweep, never the fifth
    assert smsc_simulator.smsc.errors_answered == {"2": 4}
    assert smsc_simulator.smsc.blocked_until == {}


@pytest.mark.django_db
def test_an_unreadable_answer_to_a_half_open_login_counts_as_a_possible_error_2(
    fast_polling, smsc_simulator, tracked, wrong_password
):
    """SMSC answered error 2, but the answer could not be read (``empty``: SMSC counted the
    request, the answer's fields came blank)."""
    smsc_simulator.smsc.latency = 0.02
    for _ in range(20):
        tracked((-1,))
    wrong_password()
    smsc_simulator.inject("empty", times=100)
    reports, per_sweep = [], []
    for _ in range(6):
        before = smsc_simulator.smsc.calls["get_status"]
        reports.append(service.refresh_due())
        per_sweep.append(smsc_simulator.smsc.calls["get_status"] - before)

    assert per_sweep == [1, 1, 1, 1, 0, 0]  # one request a sweep, until the site's budget is used
    assert smsc_simulator.smsc.errors_answered == {"2": 4}  # never the fifth
    assert smsc_simulator.smsc.blocked_until == {}
    assert errors_2_counted_at_the_site() == 4
    assert LoginState.objects.get(login="alex").is_half_open  # never taken as proved
    assert "possible SMSC error 2" in str(reports[0])
    assert "a fifth would get this server's IP blocked" in str(reports[-1])
    smsc_simulator.faults.clear()
    with pytest.raises(SmscCircuitOpen):  # send and balance count the same budget
        service.balance()


@pytest.mark.django_db
def test_an_unreadable_answer_to_balance_from_a_half_open_login_is_counted(smsc_settings, smsc_simulator):
    smsc_simulator.inject("malformed")
    with pytest.raises(SmscMalformedResponse):
        service.balance()
    assert errors_2_counted_at_the_site() == 1
    assert service.balance() == Decimal("1000.00")  # the next call goes out and proves the login
    assert not LoginState.objects.get(login="alex").is_half_open


@pytest.mark.django_db
def test_auth_errors_in_the_window_narrow_the_slots(smsc_settings, smsc_simulator, tracked):
    smsc_simulator.smsc.latency = 0.05
    messages = [tracked((1,)) for _ in range(12)]
    limits.pause_after([SmscAuthError(code=2)] * 2, get_settings())  # two errors 2 at the site
    service.reset_breaker()
    service.refresh(messages[0])  # proved
    service.refresh_many(messages[1:])
    assert smsc_simulator.smsc.max_in_flight["alex"] == 2  # 4 - 2 earlier errors: never a fifth


@pytest.mark.django_db
def test_an_answer_other_than_2_or_4_proves_the_login(smsc_settings, smsc_simulator):
    assert limits.proves_login(SmscNotFound(code=3))
    assert not limits.proves_login(SmscAuthError(code=2))
    assert not limits.proves_login(SmscBusy())  # no answer at all
    service.balance()
    assert not LoginState.objects.get(login="alex").is_half_open


# -- real OS processes ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_leases_outlive_their_length_while_alive_and_free_up_after_sigkill(fast_polling, spawn):
    """A live holder's heartbeat renews its slots past their lease; once it is SIGKILLed they
    are taken until the lease it renewed last runs out, and free at once after. ``SLOT_LEASE``
    is a parameter (2 s here, floors lifted), so the test waits seconds, not the default 12."""
    fast_polling["SLOT_LEASE"] = 2
    config = get_settings()
    impatient = dataclasses.replace(config, slot_wait=0.1)
    service.balance()  # the login proves itself: all four slots can be leased
    holder = spawn("hold", 4)
    slots = RequestSlot.objects.filter(kind="login", site=config.site, login=config.limits_login)
    first = dict(slots.exclude(holder="").values_list("number", "expires_at"))
    assert len(first) == 4

    time.sleep(config.slot_lease * 1.5)  # past the first lease: only the heartbeat keeps them
    renewed = dict(slots.exclude(holder="").values_list("number", "expires_at"))
    assert renewed.keys() == first.keys() and all(renewed[n] > first[n] for n in first)
    with pytest.raises(SmscBusy):
        limits.acquire_slots(impatient, 1)

    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    last = max(slots.exclude(holder="").values_list("expires_at", flat=True))
    if (last - timezone.now()).total_seconds() > 0.3:  # the dead holder's lease still runs
        with pytest.raises(SmscBusy):
            limits.acquire_slots(impatient, 1)
    time.sleep(max(0.0, (last - timezone.now()).total_seconds()) + 0.05)
    with limits.acquire_slots(impatient, 4) as lease:  # no waiting: free the moment it ran out
        assert sorted(lease.numbers) == sorted(first)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_per_message_spacing_across_processes_under_slot_starvation(
    smsc_settings, smsc_simulator, tracked, spawn
):
    """Three sweeping processes and one clicking "Refresh" share the one slot left free by three
    hanging requests, until those end after 16 s and free their slots; SMSC answers in 50 ms.
    Every message is due again a second after its check, so the processes compete for every
    message all the time, and whoever claimed many messages with one slot is overtaken."""
    sim = smsc_simulator.smsc
    sim.latency = 0.05
    smsc_settings.update(BACKOFF_INITIAL=1, BACKOFF_MAX=1, BACKOFF_JITTER=0, SLOT_WAIT=2.0, TIMEOUT=5.0)
    service.refresh(tracked((-1,)))  # the login proves itself
    hanging = [tracked((1,)) for _ in range(3)]  # delivered: not asked again once answered
    SentMessage.objects.filter(pk__in=[m.pk for m in hanging]).update(next_check_at=None)
    sim.latency_for.update({m.smsc_id: 16.0 for m in hanging})
    messages = [tracked((-1,)) for _ in range(400)]
    spawn("refresh_many", *[m.pk for m in hanging], MAX_CONCURRENT_REQUESTS=3, TIMEOUT=30.0)
    deadline = time.monotonic() + 10
    while sim.in_flight["alex"] < 3:
        assert time.monotonic() < deadline, "the hanging requests did not start"
        time.sleep(0.05)

    duration = 40
    workers = [spawn("sweep", duration) for _ in range(3)]
    workers.append(spawn("refresh", duration, *[m.pk for m in messages[:20]]))
    for worker in workers:
        assert worker.wait(duration + 60) == 0

    asked = [len(sim.status_checks.get((m.smsc_id, m.phone), [])) for m in messages]
    print(f"requests per message: {sum(asked)} in all, {sum(a >= 2 for a in asked)} asked again")
    assert sum(a >= 2 for a in asked) >= 100, "too little traffic to prove anything"
    assert sim.max_in_flight["alex"] <= 4
    closest = min(sim.closest_checks(m.smsc_id, m.phone) for m in messages)
    assert closest >= 12, f"one message was asked twice {closest:.2f} s apart"
    assert max(sim.checks_within(m.smsc_id, m.phone) for m in messages) <= 5
    assert sim.errors_answered.get("9", 0) == 0


@pytest.mark.django_db
def test_admin_and_command_say_when_a_call_is_allowed_again(
    fast_polling, smsc_simulator, tracked, wrong_password, admin_client
):
    from io import StringIO

    from django.core.management import call_command

    message = tracked((1,))
    wrong_password()
    for _ in range(4):
        service.reset_breaker()
        service.refresh(message)
    status = service.account_status()
    assert status.auth_errors == 4 and status.half_open
    assert status.next_call_at == max(status.paused_until, first_error_2_ends())

    out = StringIO()
    call_command("smsc_status", "reset-breaker", stdout=out)
    allowed_at = f"{first_error_2_ends():%Y-%m-%d %H:%M:%S} UTC"
    assert "4 authorisation errors" in out.getvalue() and allowed_at in out.getvalue()
    page = admin_client.get("/admin/django_smsc_status/loginstate/").content.decode()
    assert "Authorisation errors in 30 min" in page and 'class="field-auth_errors">4<' in page


@pytest.mark.django_db
def test_too_soon_and_claimable_are_one_rule(smsc_settings, tracked):
    """The messages ``asked_too_recently`` names are exactly those a claim leaves, and
    ``claimable_in`` says when each may be claimed; ``UNPROVEN`` is ``is_unproven`` in SQL."""
    from datetime import timedelta

    config = get_settings()
    now = timezone.now()
    rows = [tracked() for _ in range(4)]
    stamps = [None, now - timedelta(seconds=60), now - timedelta(seconds=5), now + timedelta(seconds=3)]
    for row, stamp, status in zip(rows, stamps, (None, 1, -3, -1), strict=True):
        SentMessage.objects.filter(pk=row.pk).update(last_checked_at=stamp, status=status)
    pks = [row.pk for row in rows]
    too_soon = set(limits.asked_too_recently(pks, config).values_list("pk", flat=True))
    waits = {row.pk: limits.claimable_in(row, config) for row in SentMessage.objects.filter(pk__in=pks)}
    _stamp, claimed, taken = limits.claim_messages(pks, config)
    assert too_soon == {row.pk for row in taken} == {rows[2].pk, rows[3].pk}
    assert {row.pk for row in claimed} == {pk for pk, wait in waits.items() if wait <= 0}
    assert 9 < waits[rows[2].pk] <= 10 and waits[rows[3].pk] > config.min_check_interval
    unproven = set(SentMessage.objects.filter(limits.UNPROVEN, pk__in=pks).values_list("pk", flat=True))
    assert unproven == {row.pk for row in SentMessage.objects.filter(pk__in=pks) if limits.is_unproven(row)}
