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

With ``resume`` (the scheduled prune), history is walked through every final message once;
after that, each pass walks only the final messages last checked since the previous pass's
cutoff (less :data:`WALK_MARGIN`), by an index on ``last_checked_at``: a final message's
snapshots are all observed by its last check, so one last checked before a pass's cutoff has
nothing left to prune after that pass, and one asked again (a manual refresh) comes back into
the walk. A daily prune of ten million messages thus walks one day's worth, not the table.
The command's prune (no ``resume``) still walks every final message.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import PruneProgress, SentMessage, StatusSnapshot

DEFAULT_BATCH_SIZE = 1000
#: Walked again before a pass's cutoff: a snapshot is written moments after its request's
#: ``last_checked_at`` (the answer's time), never this long after.
WALK_MARGIN = timedelta(hours=1)
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


#: Where a walk is: what :class:`~.models.PruneProgress` keeps to resume at a batch.
Position = dict[str, Any]


def _final_pk_batches(size: int, start: int = 0, **filters) -> Iterator[tuple[Position, list[int]]]:
    """Primary keys of final messages from ``start``, ``size`` at a time (keyset pagination:
    no OFFSET), each batch with its position."""
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
        yield {"next_pk": pks[0], "next_checked_at": None}, pks
        last = pks[-1]


def _checked_batches(
    size: int, since: datetime, before: datetime, start: Position
) -> Iterator[tuple[Position, list[int]]]:
    """Primary keys of final messages last checked in ``[since, before)``, ``size`` at a time,
    in ``(last_checked_at, pk)`` order from ``start`` (keyset pagination on the partial index
    ``smsc_status_final_checked_idx``), each batch with its position."""
    rows = SentMessage.objects.final().filter(last_checked_at__gte=since, last_checked_at__lt=before)
    at, pk = start.get("next_checked_at"), start.get("next_pk") or 0
    while True:
        page = rows
        if at is not None:
            page = rows.filter(Q(last_checked_at__gt=at) | Q(last_checked_at=at, pk__gte=pk))
        found = list(page.order_by("last_checked_at", "pk").values_list("last_checked_at", "pk")[:size])
        if not found:
            return
        yield {"next_checked_at": found[0][0], "next_pk": found[0][1]}, [pk for _at, pk in found]
        at, pk = found[-1][0], found[-1][1] + 1


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


_FROM_THE_START: Position = {"next_pk": 0, "next_checked_at": None}


def _walk(
    phase: Phase, resume: bool, size: int, cutoff: datetime, filters: dict
) -> tuple[Iterator[tuple[Position, list[int]]], datetime, PruneProgress | None]:
    """The batches of ``phase``: for a scheduled prune of history after a complete pass, the
    final messages checked since; else every final message (from where a stopped pass left
    off, with ``resume``). Also the cutoff of the pass, and its progress row."""
    progress = PruneProgress.objects.filter(phase=phase.value).first() if resume else None
    start: Position = {}
    if progress:
        start = {"next_pk": progress.next_pk, "next_checked_at": progress.next_checked_at}
    under_way = bool(progress and (progress.next_pk or progress.next_checked_at))
    pass_cutoff = progress.pass_before if under_way and progress and progress.pass_before else cutoff
    if phase is Phase.SNAPSHOTS and progress and progress.pruned_before:
        since = progress.pruned_before - WALK_MARGIN
        return _checked_batches(size, since, pass_cutoff, start), pass_cutoff, progress
    return _final_pk_batches(size, start.get("next_pk") or 0, **filters), pass_cutoff, progress


def _save_progress(phase: Phase, position: Position | None, pass_cutoff: datetime, cutoff: datetime) -> None:
    """Where the next run of ``phase`` begins: at ``position`` (stopped for time), or, the pass
    complete (None), from the start; history notes how far a complete pass pruned."""
    if position is not None:
        defaults = {**position, "pass_before": pass_cutoff}
    else:
        defaults = {**_FROM_THE_START, "pass_before": None}
        if phase is Phase.SNAPSHOTS:
            defaults["pruned_before"] = min(pass_cutoff, cutoff)
    PruneProgress.objects.update_or_create(phase=phase.value, defaults=defaults)


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
    phases: list[tuple[Phase, dict, datetime, Callable[[list[int]], None]]] = []
    if message_days is not None:
        # Messages first: their history goes with them and need not be pruned one by one.
        old = now - timedelta(days=message_days)
        younger = {"created_at__gte": old}

        def delete_messages(pks: list[int]) -> None:
            messages, snapshots = _delete_messages(pks, dry_run)
            report.messages += messages
            report.message_snapshots += snapshots

        phases.append((Phase.MESSAGES, {"created_at__lt": old}, old, delete_messages))
    if snapshot_days is not None:
        cutoff = now - timedelta(days=snapshot_days)

        def prune_history(pks: list[int]) -> None:
            report.snapshots += _prune_history(pks, cutoff, dry_run)

        phases.append((Phase.SNAPSHOTS, younger, cutoff, prune_history))  # (not the messages counted above)
    for phase, filters, cutoff_of_phase, work in phases:
        batches, pass_cutoff, _row = _walk(phase, resume, batch_size, cutoff_of_phase, filters)
        stopped: Position | None = None
        for position, pks in batches:
            if not clock.another_fits():
                stopped, report.stopped_at = position, pks[0]
                break
            clock.timed(work, pks)
            report.batches += 1
            if progress:
                progress(report)
        if resume:
            _save_progress(phase, stopped, pass_cutoff, cutoff_of_phase)
        if stopped is not None:
            break
    report.seconds = time.monotonic() - clock.started
    return report
