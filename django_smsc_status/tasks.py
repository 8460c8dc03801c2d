"""django-q2 tasks: queued refreshes and the periodic sweep, all through ``service``.

* :func:`enqueue_refresh` is the one way to queue work (the admin and the API use it). It
  stamps ``refresh_queued_at`` on the messages with a conditional UPDATE and queues only those
  it stamped, after the surrounding transaction commits: a message queued twice is asked about
  once, and a task never runs before its rows exist.
* :func:`ensure_schedule` creates or updates the one sweep ``Schedule`` (idempotent);
  :func:`ensure_prune_schedule` does the same for the daily prune of ``RETENTION``.
* Backoff and give-up live on the message rows (django-q2 has no per-task backoff); a task that
  meets a transport failure leaves its messages due again later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from . import service
from .conf import get_settings
from .models import SentMessage

logger = logging.getLogger(__name__)

SCHEDULE_NAME = "django_smsc_status.sweep"
PRUNE_SCHEDULE_NAME = "django_smsc_status.prune"
#: A queued marker older than this is considered lost (a worker died): the message may be
#: queued again.
QUEUED_TTL = timedelta(minutes=15)


def refresh_messages_task(pks: list[int]) -> str:
    """Task: refresh these messages, then clear their queued marker."""
    try:
        return str(service.refresh_selection(pks))
    finally:
        SentMessage.objects.filter(pk__in=pks).update(refresh_queued_at=None)


#: django-q2's scheduler queues due schedules every 30 s or so (its guard loop): a run may
#: start up to that much after its time, so each sweep follows for that much longer.
SCHEDULER_TICK = 30


def sweep_task(limit: int | None = None, time_limit: float | None = None, follow: float | None = None) -> str:
    """Task: the periodic sweep over due messages (``SWEEP_LIMIT`` at most per run), over
    within ``time_limit`` seconds: by default the worker's timeout (:func:`worker_timeout`),
    so django-q2 never kills a sweep halfway.

    It keeps following what becomes due (``service.refresh_due(follow=...)``) for the
    schedule's interval and :data:`SCHEDULER_TICK` more, so the next run takes over without a
    gap: with a timeout long enough for that (README: 110 s for a one-minute interval), every
    message is asked within about a second of being due."""
    time_limit = time_limit or worker_timeout()
    follow = follow_seconds() if follow is None else follow
    report = service.refresh_due(limit or get_settings().sweep_limit, time_limit=time_limit, follow=follow)
    fold_tallies()
    return str(report)


def fold_tallies() -> None:
    """Fold the stats deltas into the tallies (PostgreSQL), after a sweep or a prune: reads stay
    fast however many changes there were. A failure is logged; the deltas wait for the next run."""
    from . import tallies

    try:
        tallies.compact()
    except Exception:
        logger.exception("folding the stats deltas failed; the next run tries again")


def follow_seconds() -> float:
    """How long a scheduled sweep follows: the sweep schedule's interval (as set, e.g. by
    ``smsc_status schedule --minutes N``; else ``SWEEP_INTERVAL_MINUTES``) and
    :data:`SCHEDULER_TICK` more."""
    from django_q.models import Schedule

    minutes = Schedule.objects.filter(name=SCHEDULE_NAME).values_list("minutes", flat=True).first()
    return (minutes or get_settings().sweep_interval_minutes) * 60 + SCHEDULER_TICK


def worker_timeout() -> float | None:
    """django-q2's task timeout (``Q_CLUSTER["timeout"]``) as the worker read it at start
    (django-q2 reads ``Q_CLUSTER`` once, at import); None when tasks may run forever."""
    from django_q.conf import Conf

    return Conf.TIMEOUT or None


#: The share of the worker's timeout a scheduled prune may use (the rest: the last batch's
#: commit and django-q2's own bookkeeping).
PRUNE_SHARE_OF_TIMEOUT = 0.9


def prune_task() -> str:
    """Task: delete old history as ``SMSC_STATUS["RETENTION"]`` says (nothing if unset),
    within the worker's timeout, going on where the last run stopped for time."""
    retention = get_settings().retention
    if retention is None:
        return "RETENTION is not set: nothing pruned."
    timeout = worker_timeout()
    report = service.prune(
        retention.snapshot_days,
        retention.message_days,
        batch_size=retention.batch_size,
        time_limit=None if timeout is None else timeout * PRUNE_SHARE_OF_TIMEOUT,
        resume=True,
    )
    fold_tallies()
    return str(report)


def enqueue_refresh(messages: Iterable[SentMessage | int] | QuerySet) -> int:
    """Queue refreshes (chunked) after the current transaction commits; returns how many.

    Messages already queued (and not yet run) are left out.
    """
    from django_q.tasks import async_task

    total = 0
    for pks in service.pk_chunks(messages, get_settings().chunk_size):
        now = timezone.now()
        free = Q(refresh_queued_at__isnull=True) | Q(refresh_queued_at__lt=now - QUEUED_TTL)
        SentMessage.objects.filter(free, pk__in=pks).update(refresh_queued_at=now)
        chunk = list(
            SentMessage.objects.filter(pk__in=pks, refresh_queued_at=now)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if chunk:
            transaction.on_commit(
                partial(
                    async_task,
                    "django_smsc_status.tasks.refresh_messages_task",
                    chunk,
                    task_name=f"smsc refresh {len(chunk)} messages",
                )
            )
            total += len(chunk)
    return total


def ensure_schedule(minutes: int | None = None):
    """Create or update the sweep schedule; returns ``(schedule, created)``."""
    from django_q.models import Schedule

    return Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "django_smsc_status.tasks.sweep_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes or get_settings().sweep_interval_minutes,
            "repeats": -1,
        },
    )


def ensure_prune_schedule():
    """Create or update the daily prune schedule if ``RETENTION`` is set, else remove it.

    Returns ``(schedule, created)``; ``(None, False)`` when retention is off.
    """
    from django_q.models import Schedule

    if get_settings().retention is None:
        Schedule.objects.filter(name=PRUNE_SCHEDULE_NAME).delete()
        return None, False
    return Schedule.objects.update_or_create(
        name=PRUNE_SCHEDULE_NAME,
        defaults={
            "func": "django_smsc_status.tasks.prune_task",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
        },
    )
