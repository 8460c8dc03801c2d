"""Per message, at most 5 checks a minute: a claim stamps ``last_checked_at`` with a conditional
UPDATE, to the latest moment the request may reach SMSC (:func:`claim_horizon`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..codes import MessageStatus
from ..conf import SmscSettings
from ..models import SentMessage
from .breaker import error_budget
from .slots import ERROR_RESERVE

CLAIM_VALID_FOR = 2.0  # a claimed message must be on its way to SMSC within this


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
    SentMessage.objects.filter(free, pk__in=pks).update(last_checked_at=stamp)
    rows = SentMessage.objects.in_bulk(pks)
    claimed = [rows[pk] for pk in pks if pk in rows and rows[pk].last_checked_at == stamp]
    taken = [rows[pk] for pk in pks if pk in rows and rows[pk].last_checked_at != stamp]
    return stamp, claimed, taken


def asked_too_recently(pks: list[int], config: SmscSettings):
    """The messages of ``pks`` that may not be claimed now (asked about, or claimed, less than
    ``MIN_CHECK_INTERVAL`` ago), as a queryset."""
    return SentMessage.objects.filter(pk__in=pks).exclude(_claim_window(config)[1])


def claimable_in(message: SentMessage, config: SmscSettings) -> float:
    """Seconds until ``message`` may be claimed again (zero or less: now)."""
    if message.last_checked_at is None:
        return 0.0
    return config.min_check_interval - (timezone.now() - message.last_checked_at).total_seconds()


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
        SentMessage.objects.filter(pk__in=pks).update(last_checked_at=stamp)
    rows = SentMessage.objects.in_bulk(pks)
    return stamp, [rows[pk] for pk in pks if pk in rows]


def _claim_window(config: SmscSettings) -> tuple[datetime, Q]:
    """The stamp a claim writes now, and the condition of a message free to be claimed."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=config.min_check_interval)
    free = Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=cutoff)
    return now + timedelta(seconds=claim_horizon(config)), free
