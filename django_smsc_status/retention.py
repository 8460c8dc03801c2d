"""Retention: keep the history tables small without losing what matters.

:func:`prune` deletes, for **final** messages only, the snapshots observed more than
``snapshot_days`` ago, except each message's first and latest snapshot (so the admin still
shows where a message started and how it ended). Pending messages keep their whole history.
With ``message_days`` it also deletes final messages created more than ``message_days`` ago,
with their history.

It walks the messages in primary-key order, ``batch_size`` at a time, and deletes each batch in
its own short transaction: memory stays flat and row locks are short however big the tables
are. "First" and "latest" are by primary key, which is observation order (snapshots are
append-only). A batch of messages to delete is locked first, so a refresh writing a snapshot
of one of them meanwhile waits (and then finds the message gone) instead of failing the batch.

With ``time_limit`` a prune stops between batches before that many seconds have passed
(the scheduled task passes the worker's timeout: django-q2 never kills it halfway), and with
``resume`` it starts where the last stopped prune left off (:class:`~.models.PruneProgress`),
so at any table size each run makes progress and a pass reaches every message.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import PruneProgress, SentMessage, StatusSnapshot

DEFAULT_BATCH_SIZE = 1000
MAX_DAYS = 36500  # a hundred years: any cutoff stays a date every database can hold
MAX_BATCH_SIZE = 100_000


@dataclass
class PruneReport:
    """What :func:`prune` did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    snapshots: int = 0
    messages: int = 0
    message_snapshots: int = 0  # history deleted along with those messages
    batches: int = 0
    seconds: float = field(default=0.0, compare=False)
    with_messages: bool = False  # old messages were looked for (message_days given)
    stopped_at: int | None = None  # stopped for time before this message pk (None: done)

    def __str__(self) -> str:
        what = ngettext(
            "%(count)d old snapshot of final messages",
            "%(count)d old snapshots of final messages",
            self.snapshots,
        ) % {"count": self.snapshots}
        if self.with_messages:
            messages = ngettext(
                "%(count)d old final message", "%(count)d old final messages", self.messages
            ) % {"count": self.messages}
            history = ngettext(
                "with %(count)d snapshot", "with %(count)d snapshots", self.message_snapshots
            ) % {"count": self.message_snapshots}
            what = _("%(snapshots)s, and %(messages)s %(history)s") % {
                "snapshots": what,
                "messages": messages,
                "history": history,
            }
        batches = ngettext("%(count)d batch", "%(count)d batches", self.batches) % {"count": self.batches}
        verb = _("Would delete %(what)s") if self.dry_run else _("Deleted %(what)s")
        text = f"{verb % {'what': what}} ({batches}, {self.seconds:.1f} s)."
        if self.stopped_at is not None:
            text += " " + _("Stopped for time; the next run goes on from message #%(pk)d.") % {
                "pk": self.stopped_at
            }
        return text


class Phase(enum.Enum):
    MESSAGES = "messages"  # old final messages, with their history
    SNAPSHOTS = "snapshots"  # old snapshots of final messages


class _Clock:
    """Whether another batch fits in ``limit`` seconds: one more batch as long as the longest
    so far, twice over, must end within it. The first batch always runs (progress)."""

    def __init__(self, limit: float | None) -> None:
        self.limit, self.started, self.longest, self.batches = limit, time.monotonic(), 0.0, 0

    def another_fits(self) -> bool:
        if self.limit is None or not self.batches:
            return True
        return time.monotonic() - self.started + 2 * self.longest <= self.limit

    def timed(self, work: Callable[[list[int]], None], pks: list[int]) -> None:
        began = time.monotonic()
        try:
            work(pks)
        finally:
            self.longest = max(self.longest, time.monotonic() - began)
            self.batches += 1


def _final_pk_batches(size: int, start: int = 0, **filters) -> Iterator[list[int]]:
    """Primary keys of final messages from ``start``, ``size`` at a time (keyset pagination:
    no OFFSET)."""
    last = start - 1
    while True:
        pks = list(
            SentMessage.objects.final()
            .filter(pk__gt=last, **filters)
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        if not pks:
            return
        yield pks
        last = pks[-1]


def _prune_history(pks: list[int], cutoff, dry_run: bool) -> int:
    ends = (
        StatusSnapshot.objects.filter(message_id__in=pks)
        .order_by()
        .values("message_id")
        .annotate(first=Min("pk"), last=Max("pk"))
    )
    keep = {pk for row in ends for pk in (row["first"], row["last"])}
    doomed = StatusSnapshot.objects.filter(message_id__in=pks, observed_at__lt=cutoff).exclude(pk__in=keep)
    if dry_run:
        return doomed.count()
    with transaction.atomic():
        return doomed.delete()[0]


def _delete_messages(pks: list[int], dry_run: bool) -> tuple[int, int]:
    if dry_run:
        return len(pks), StatusSnapshot.objects.filter(message_id__in=pks).count()
    with transaction.atomic():
        # locked first: a refresh of one of them (it locks its row too) waits, then finds it gone
        doomed = list(
            SentMessage.objects.select_for_update()
            .filter(pk__in=pks, is_final=True)
            .values_list("pk", flat=True)
        )
        snapshots = StatusSnapshot.objects.filter(message_id__in=doomed).delete()[0]  # before the
        SentMessage.objects.filter(pk__in=doomed).delete()  # messages: their cascade finds nothing
    return len(doomed), snapshots


def _start(phase: Phase, resume: bool) -> int:
    if not resume:
        return 0
    return PruneProgress.objects.filter(phase=phase.value).values_list("next_pk", flat=True).first() or 0


def _save_progress(phase: Phase, next_pk: int) -> None:
    PruneProgress.objects.update_or_create(phase=phase.value, defaults={"next_pk": next_pk})


def prune(
    snapshot_days: int | None,
    message_days: int | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[PruneReport], None] | None = None,
    time_limit: float | None = None,
    resume: bool = False,
) -> PruneReport:
    """Delete old history (and, with ``message_days``, old final messages); see the module doc.

    ``dry_run`` only counts. ``progress`` is called after every batch. ``time_limit``
    (seconds) stops between batches in time; ``resume`` starts where the last prune stopped
    for time (a dry run neither resumes nor records where it stopped).
    """
    for name, days in (("snapshot_days", snapshot_days), ("message_days", message_days)):
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS
        ):
            raise ValueError(f"{name} must be a whole number of days from 1 to {MAX_DAYS}, got {days!r}")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be from 1 to {MAX_BATCH_SIZE}, got {batch_size!r}")
    clock, now = _Clock(time_limit), timezone.now()
    resume = resume and not dry_run
    report = PruneReport(dry_run=dry_run, with_messages=message_days is not None)
    younger: dict = {}
    phases: list[tuple[Phase, dict, Callable[[list[int]], None]]] = []
    if message_days is not None:
        # Messages first: their history goes with them and need not be pruned one by one.
        old = now - timedelta(days=message_days)
        younger = {"created_at__gte": old}

        def delete_messages(pks: list[int]) -> None:
            messages, snapshots = _delete_messages(pks, dry_run)
            report.messages += messages
            report.message_snapshots += snapshots

        phases.append((Phase.MESSAGES, {"created_at__lt": old}, delete_messages))
    if snapshot_days is not None:
        cutoff = now - timedelta(days=snapshot_days)

        def prune_history(pks: list[int]) -> None:
            report.snapshots += _prune_history(pks, cutoff, dry_run)

        phases.append((Phase.SNAPSHOTS, younger, prune_history))  # (not the messages counted above)
    for phase, filters, work in phases:
        for pks in _final_pk_batches(batch_size, _start(phase, resume), **filters):
            if not clock.another_fits():
                report.stopped_at = pks[0]
                break
            clock.timed(work, pks)
            report.batches += 1
            if progress:
                progress(report)
        if resume:  # where the next run begins: here if stopped, else from the start
            _save_progress(phase, report.stopped_at or 0)
        if report.stopped_at is not None:
            break
    report.seconds = time.monotonic() - clock.started
    return report
