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
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import SentMessage, StatusSnapshot

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
        return f"{verb % {'what': what}} ({batches}, {self.seconds:.1f} s)."


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
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS
        ):
            raise ValueError(f"{name} must be a whole number of days from 1 to {MAX_DAYS}, got {days!r}")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be from 1 to {MAX_BATCH_SIZE}, got {batch_size!r}")
    started, now = time.monotonic(), timezone.now()
    report = PruneReport(dry_run=dry_run, with_messages=message_days is not None)
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
