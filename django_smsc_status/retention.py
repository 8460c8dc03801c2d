"""Retention: keep the history tables small without losing what matters.

:func:`prune` deletes, for **final** messages only, the snapshots observed more than
``snapshot_days`` ago, except each message's first and latest snapshot (so the admin still
shows where a message started and how it ended). Pending messages keep their whole history.
With ``message_days`` it also deletes final messages created more than ``message_days`` ago,
with their history.

It walks the messages in primary-key order, ``batch_size`` at a time, and deletes each batch in
its own short transaction: memory stays flat and row locks are short however big the tables
are. "First" and "latest" are by primary key, which is observation order (snapshots are
append-only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from .models import SentMessage, StatusSnapshot

DEFAULT_BATCH_SIZE = 1000


@dataclass
class PruneReport:
    """What :func:`prune` did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    snapshots: int = 0
    messages: int = 0
    message_snapshots: int = 0  # history deleted along with those messages
    batches: int = 0
    seconds: float = field(default=0.0, compare=False)

    def __str__(self) -> str:
        verb = "Would delete" if self.dry_run else "Deleted"
        text = f"{verb} {self.snapshots} old snapshots of final messages"
        if self.messages:
            text += f", and {self.messages} old final messages with their {self.message_snapshots} snapshots"
        return f"{text} ({self.batches} batches, {self.seconds:.1f} s)."


def _final_pk_batches(size: int, **filters) -> Iterator[list[int]]:
    """Primary keys of final messages, ``size`` at a time (keyset pagination: no OFFSET)."""
    last = 0
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
    history = StatusSnapshot.objects.filter(message_id__in=pks)
    if dry_run:
        return len(pks), history.count()
    with transaction.atomic():
        snapshots = history.delete()[0]  # first, so the messages' cascade has nothing to load
        SentMessage.objects.filter(pk__in=pks, is_final=True).delete()
    return len(pks), snapshots


def prune(
    snapshot_days: int | None,
    message_days: int | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[PruneReport], None] | None = None,
) -> PruneReport:
    """Delete old history (and, with ``message_days``, old final messages); see the module doc.

    ``dry_run`` only counts. ``progress`` is called after every batch.
    """
    for name, days in (("snapshot_days", snapshot_days), ("message_days", message_days)):
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
            raise ValueError(f"{name} must be a whole number of days >= 1, got {days!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    started, now = time.monotonic(), timezone.now()
    report = PruneReport(dry_run=dry_run)
    younger: dict = {}
    if message_days is not None:
        # Messages first: their history goes with them and need not be pruned one by one.
        cutoff = now - timedelta(days=message_days)
        younger = {"created_at__gte": cutoff}
        for pks in _final_pk_batches(batch_size, created_at__lt=cutoff):
            messages, snapshots = _delete_messages(pks, dry_run)
            report.messages += messages
            report.message_snapshots += snapshots
            report.batches += 1
            if progress:
                progress(report)
    if snapshot_days is not None:
        cutoff = now - timedelta(days=snapshot_days)
        for pks in _final_pk_batches(batch_size, **younger):  # (not those counted above)
            report.snapshots += _prune_history(pks, cutoff, dry_run)
            report.batches += 1
            if progress:
                progress(report)
    report.seconds = time.monotonic() - started
    return report
