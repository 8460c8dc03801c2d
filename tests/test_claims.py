"""The per-message rule (``limits.claims``): polls ``MIN_CHECK_INTERVAL`` apart, a pushed message
asked at once, and never more than SMSC's 5 requests of one message a minute, whatever the order.
"""

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from django.utils import timezone as dj_timezone

from django_smsc_status import limits
from django_smsc_status.conf import get_settings
from django_smsc_status.limits.claims import _claim_window
from django_smsc_status.models import SentMessage

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def requests_made(kinds: tuple[str, ...], config, answer: float = 0.3) -> list[datetime]:
    """The times of the requests the rule allows, each as early as it may be, for a sequence of
    "poll" (the message is due at once) and "push" (a push names it the moment the request
    before it is answered)."""
    row = SentMessage(last_checked_at=None, previous_checked_at=None, pushed_at=None)
    times: list[datetime] = []
    for kind in kinds:
        if kind == "push" and times:
            row.pushed_at = row.last_checked_at + timedelta(microseconds=1)
        at = limits.free_at(row, config) or (times[-1] if times else T0)
        at += timedelta(microseconds=1)  # the rule compares strictly
        times.append(at)
        # the claim: the last request becomes the one before; the answer comes ``answer`` later
        row.previous_checked_at, row.last_checked_at = row.last_checked_at, at + timedelta(seconds=answer)
    return times


def most_in_a_minute(times: list[datetime]) -> int:
    return max(sum(1 for t in times if start <= t < start + timedelta(seconds=60)) for start in times)


@pytest.mark.parametrize("interval", [13, 15, 60])
def test_no_order_of_polls_and_pushes_makes_six_requests_in_a_minute(smsc_settings, monkeypatch, interval):
    from django_smsc_status import conf

    monkeypatch.setitem(conf.defaults.FLOORS, "MIN_CHECK_INTERVAL", 13)  # the floor real settings keep
    smsc_settings["MIN_CHECK_INTERVAL"] = interval
    config = get_settings()
    worst = max(
        most_in_a_minute(requests_made(kinds, config))
        for kinds in itertools.product(("poll", "push"), repeat=10)
    )
    assert worst == (5 if interval == 13 else 4)  # 5 with polls 13 s apart: SMSC's own limit


def test_a_push_asks_at_once_after_a_poll_but_not_twice(smsc_settings):
    config = get_settings()
    times = requests_made(("poll", "push", "push", "push"), config)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert gaps[0] < 1  # the push right after a poll is not held back for MIN_CHECK_INTERVAL
    assert gaps[1] >= limits.PUSHED_PAIR - 1  # the next one waits for the pair rule
    polls = requests_made(("poll", "poll", "poll"), config)
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(polls)] == pytest.approx(
        [15.3, 15.3], abs=0.01
    )


@pytest.mark.django_db
def test_the_sql_rule_is_the_python_rule(smsc_settings):
    """``_claim_window`` (SQL, used by every claim) and ``free_at`` (Python, used by pushes and
    the "too soon" answers) agree on rows of every shape."""
    config = get_settings()
    now = dj_timezone.now()
    moments = [
        None,
        *(now + timedelta(seconds=s) for s in (-120, -40, -31.5, -30, -20, -16, -14, -5, -0.5, 3)),
    ]
    SentMessage.objects.bulk_create(
        SentMessage(
            smsc_id=str(n),
            phone="79990000001",
            last_checked_at=last,
            previous_checked_at=before,
            pushed_at=pushed,
        )
        for n, (last, before, pushed) in enumerate(itertools.product(moments, repeat=3))
    )
    _stamp, free = _claim_window(config)
    in_sql = set(SentMessage.objects.filter(free).values_list("pk", flat=True))
    free_at = {row.pk: limits.free_at(row, config) for row in SentMessage.objects.all()}
    in_python = {pk for pk, at in free_at.items() if at is None or at < now}
    # free right about now: the two rules read the clock moments apart
    unsure = {pk for pk, at in free_at.items() if at is not None and abs((at - now).total_seconds()) < 1}
    assert len(free_at) == 11**3 and len(in_sql) > 300 and len(free_at) - len(in_sql) > 300
    assert in_sql - unsure == in_python - unsure


@pytest.mark.django_db
def test_a_claim_moves_the_last_request_to_the_one_before(smsc_settings, tracked):
    config = get_settings()
    message = tracked()
    long_ago = datetime.now(timezone.utc) - timedelta(minutes=5)
    SentMessage.objects.filter(pk=message.pk).update(last_checked_at=long_ago)
    stamp, claimed, _taken = limits.claim_messages([message.pk], config)
    message.refresh_from_db()
    assert [m.pk for m in claimed] == [message.pk]
    assert (message.previous_checked_at, message.last_checked_at) == (long_ago, stamp)
