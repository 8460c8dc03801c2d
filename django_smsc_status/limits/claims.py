"""Per message, at most 5 checks a minute: a claim stamps ``last_checked_at`` with a conditional
UPDATE, to the latest moment the request may reach SMSC (:func:`claim_horizon`), and moves the
stamp before it to ``previous_checked_at``.

A message may be claimed (:func:`free_at`, :func:`_claim_window`: one rule, in Python and SQL)

* ``MIN_CHECK_INTERVAL`` after its last request and twice that after the one before, or
* when a status push named it after its last request (``pushed_at``): as soon as that request
  is over, if the one before is :data:`PUSHED_PAIR` seconds old, so a final push is never held
  back by a poll that came moments before it.

Any three requests in a row then span at least 26 s, and no 60 s hold more than 5 of them
(``tests/test_claims.py`` checks every order of polls and pushes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..codes import MessageStatus
from ..conf import SmscSettings
from ..models import SentMessage
from .breaker import error_budget
from .slots import ERROR_RESERVE

CLAIM_VALID_FOR = 2.0  # a claimed message must be on its way to SMSC within this
#: Seconds between the request before the last one and a request a push asks for: more than
#: half a minute, so no five requests fit in one (see the module docstring).
PUSHED_PAIR = 31.0


def claim_horizon(config: SmscSettings) -> float:
    """Seconds after a claim by which its request has certainly reached SMSC or been dropped:
    a worker sends only within ``CLAIM_VALID_FOR``, and each endpoint it fails over to before
    the request could arrive costs at most ``CONNECT_TIMEOUT``."""
    return CLAIM_VALID_FOR + config.connect_timeout * len(config.endpoints)


def claim_messages(
    pks: list[int], config: SmscSettings
) -> tuple[datetime, list[SentMessage], list[SentMessage]]:
    """Claim the messages ``pks`` that may be asked about now: ``(stamp, claimed, not claimed)``.

    ``last_checked_at`` is set, with one conditional UPDATE, to ``stamp``: the latest moment
    the request may reach SMSC (:func:`claim_horizon`). A message may be claimed again only
    ``MIN_CHECK_INTERVAL`` after that, so two requests about one message are at least that far
    apart at SMSC however processes interleave and however long a claim waits for a slot. When
    the answer is written, the stamp becomes the moment the answer arrived (no later than
    the stamp, and no earlier than the request reached SMSC).
    """
    stamp, free = _claim_window(config)
    SentMessage.objects.filter(free, pk__in=pks).update(**_stamped(stamp))
    rows = SentMessage.objects.in_bulk(pks)
    claimed = [rows[pk] for pk in pks if pk in rows and rows[pk].last_checked_at == stamp]
    taken = [rows[pk] for pk in pks if pk in rows and rows[pk].last_checked_at != stamp]
    return stamp, claimed, taken


def asked_too_recently(pks: list[int], config: SmscSettings):
    """The messages of ``pks`` that may not be claimed now (asked about, or claimed, less than
    ``MIN_CHECK_INTERVAL`` ago), as a queryset."""
    return SentMessage.objects.filter(pk__in=pks).exclude(_claim_window(config)[1])


def free_at(message: SentMessage, config: SmscSettings) -> datetime | None:
    """When ``message`` (as in memory) may be claimed: None for now, whatever the time."""
    last, before = message.last_checked_at, message.previous_checked_at
    if last is None:
        return None

    def after(moment: datetime | None, seconds: float) -> datetime | None:
        return moment + timedelta(seconds=seconds) if moment is not None else None

    def latest(*moments: datetime | None) -> datetime:
        return max(m for m in moments if m is not None)

    gap = config.min_check_interval
    polled = latest(after(last, gap), after(before, 2 * gap))
    if message.pushed_at is not None and message.pushed_at > last:
        return min(polled, latest(last, after(before, PUSHED_PAIR)))
    return polled


def claimable_in(message: SentMessage, config: SmscSettings) -> float:
    """Seconds until ``message`` may be claimed again (zero or less: now)."""
    moment = free_at(message, config)
    return 0.0 if moment is None else (moment - timezone.now()).total_seconds()


def any_due(config: SmscSettings, due_by: datetime) -> bool:
    """Whether a message of the account due by ``due_by`` is free to be claimed now."""
    return SentMessage.objects.due(due_by).filter(_claim_window(config)[1], account=config.name).exists()


#: Messages that never had a good answer from SMSC (none yet, or "not found"): they may spend
#: the site's error budget only down to ``ERROR_RESERVE``.
UNPROVEN = Q(status__isnull=True) | Q(status=MessageStatus.NOT_FOUND)


def is_unproven(message: SentMessage) -> bool:
    """:data:`UNPROVEN` for a message in memory."""
    return message.status is None or message.status == MessageStatus.NOT_FOUND


def unproven_room(config: SmscSettings) -> int:
    """How many erroneous requests :data:`UNPROVEN` messages may still make now: the site's
    error budget down to ``ERROR_RESERVE`` (zero or less: none)."""
    return error_budget(config)[0] - ERROR_RESERVE


def claim_due(
    config: SmscSettings, count: int, due_by: datetime, unproven: int | None = None
) -> tuple[datetime, list[SentMessage]]:
    """Claim up to ``count`` of the account's messages due by ``due_by`` that nobody holds,
    most overdue first (as :func:`claim_messages`), at most ``unproven`` of them
    :data:`UNPROVEN`. Rows another process is claiming right now are skipped (``SKIP
    LOCKED``) instead of waited for, so concurrent sweeps share the due set."""
    stamp, free = _claim_window(config)
    due = SentMessage.objects.due(due_by).filter(free, account=config.name)

    def first(rows, n: int) -> list[tuple[datetime, int]]:
        rows = rows.order_by("next_check_at", "pk").select_for_update(skip_locked=True)
        return list(rows.values_list("next_check_at", "pk")[:n]) if n > 0 else []

    with transaction.atomic():
        if unproven is None or unproven >= count:
            found = first(due, count)
        else:
            found = sorted(first(due.exclude(UNPROVEN), count) + first(due.filter(UNPROVEN), unproven))[
                :count
            ]
        pks = [pk for _at, pk in found]
        SentMessage.objects.filter(pk__in=pks).update(**_stamped(stamp))
    rows = SentMessage.objects.in_bulk(pks)
    return stamp, [rows[pk] for pk in pks if pk in rows]


def _stamped(stamp: datetime) -> dict:
    """A claim's UPDATE: the last request becomes the one before (MySQL/MariaDB assign in
    order, reading the old ``last_checked_at`` first, as PostgreSQL and SQLite always do)."""
    return {"previous_checked_at": F("last_checked_at"), "last_checked_at": stamp}


def _claim_window(config: SmscSettings) -> tuple[datetime, Q]:
    """The stamp a claim writes now, and the condition of a message free to be claimed
    (:func:`free_at` in SQL)."""
    now = timezone.now()

    def older_than(field: str, seconds: float) -> Q:
        return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now - timedelta(seconds=seconds)})

    gap = config.min_check_interval
    polled = Q(last_checked_at__lt=now - timedelta(seconds=gap)) & older_than("previous_checked_at", 2 * gap)
    pushed = Q(pushed_at__gt=F("last_checked_at"), last_checked_at__lt=now) & older_than(
        "previous_checked_at", PUSHED_PAIR
    )
    free = Q(last_checked_at__isnull=True) | polled | pushed
    return now + timedelta(seconds=claim_horizon(config)), free
