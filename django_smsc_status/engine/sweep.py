"""What to refresh and with which slots: the sweep's passes and the lanes of a caller's
selection, built here and handed to :class:`~.loop.Run`.

``service`` keeps the public functions (``refresh_due``, ``iter_refresh``, …); this module
groups messages per account, opens a lease of request slots (``limits``) for each account and
builds one :class:`~.lanes.Lane` per account. A setting read here, such as ``FOLLOW_PAUSE``
or ``FINISH_MARGIN`` (``engine.loop.FINISH_MARGIN``), is patched where it is read.
"""

from __future__ import annotations

import collections
import itertools
import logging
import time
from collections.abc import Generator, Iterable, Iterator
from datetime import datetime

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils import timezone
from django.utils.translation import ngettext

from .. import limits
from ..backoff import Backoff
from ..conf import SmscSettings, UnknownAccount, account_names, get_settings
from ..exceptions import SmscAccountNotConfigured, SmscCallRefused
from ..models import SentMessage
from ..outcomes import RefreshReport, RefreshResult
from . import loop
from .lanes import Allowance, Due, Lane, Listed, refused, too_soon

logger = logging.getLogger("django_smsc_status.service")

#: While a following sweep finds nothing to claim it sleeps this long at first, half as long
#: again each time up to the most (so a message is asked within about a second of being due).
FOLLOW_PAUSE, FOLLOW_PAUSE_MAX = 0.05, 1.0


def follow(limit: int | None, report: RefreshReport, deadline: float | None, until: float):
    """Sweep once, then again as messages become due, until ``until`` (see
    ``service.refresh_due``)."""
    allowance, first = Allowance(limit), True
    idle = Backoff(FOLLOW_PAUSE, FOLLOW_PAUSE_MAX, jitter=False)
    configs = [c for c in map(account, account_names()) if isinstance(c, SmscSettings)]
    if deadline is not None and configs:  # no round may start that could not send in time
        slowest = max(loop.longest_request(c) for c in configs)
        until = min(until, deadline - slowest - loop.FINISH_MARGIN - limits.CLAIM_VALID_FOR)
    while True:
        before = report.total
        clean = yield from sweep(allowance, report, deadline, first)
        first = False
        now = time.monotonic()
        if not clean or report.out_of_time or allowance.left <= 0 or now >= until:
            return
        if report.total > before:
            idle.reset()
        due_in = next_due_in(configs)
        # nothing pending, or due but held by another process: back off
        wait = min(due_in, FOLLOW_PAUSE_MAX) if due_in is not None and due_in > 0 else idle.next()
        time.sleep(max(min(wait, until - now), 0))


def next_due_in(configs: list[SmscSettings]) -> float | None:
    """Seconds until the earliest pending message of these accounts is due (negative: one is
    overdue); None when none is polled. One indexed lookup per account."""
    times = [
        SentMessage.objects.pending()
        .filter(account=config.name, next_check_at__isnull=False)
        .order_by("next_check_at")
        .values_list("next_check_at", flat=True)
        .first()
        for config in configs
    ]
    earliest = min((t for t in times if t is not None), default=None)
    return None if earliest is None else (earliest - timezone.now()).total_seconds()


def sweep(
    allowance: Allowance, report: RefreshReport, deadline: float | None, first: bool = True
) -> Generator[RefreshResult, None, bool]:
    """One pass over what is due now; True if every account with due messages got to run
    (none paused, none without a slot). Only the ``first`` pass of a sweep reports messages
    and accounts it leaves alone (later ones would repeat it every second)."""
    due_by = timezone.now()
    names = account_names()
    for name, count in (unconfigured_due(names, due_by) if first else {}).items():
        report.skipped[name] = ngettext(
            "%(count)d due message names an account not in settings; left alone",
            "%(count)d due messages name an account not in settings; left alone",
            count,
        ) % {"count": count}
        logger.warning("sweep: %s due messages name account %r, which is not configured", count, name)
    lanes, refusals, due = [], [], []
    for name in names:
        config = account(name)
        if isinstance(config, SmscAccountNotConfigured):  # one account's bad settings stop only it
            if first:
                report.skipped[name] = str(config)
                logger.error("sweep skipped account %r: %s", name, config)
        elif limits.any_due(config, due_by):
            due.append(config)
    at_site = collections.Counter(config.site for config in due)
    for config in due:
        name = config.name
        try:
            lease = limits.open_lease(config, limits.site_share(config, at_site[config.site]))
        except SmscCallRefused as exc:  # paused, or out of authorisation budget
            refusals.append(exc)
            report.skipped[name] = str(exc)
            logger.warning("sweep skipped account %r: %s", name, exc)
            continue
        lanes.append(Lane(Due(config, allowance, due_by), lease))
    if lanes:
        run = loop.Run(lanes, deadline)
        yield from _run(run)
        report.out_of_time = run.out_of_time
    stopped = [lane.stopped_by for lane in lanes if lane.stopped_by is not None]
    for lane in lanes:
        if lane.stopped_by is not None:
            report.skipped[lane.config.name] = str(lane.stopped_by)
    if first and not any(lane.ran for lane in lanes) and (refusals or stopped):  # no account ran
        report.paused = [*refusals, *stopped][0]
    return not (refusals or stopped)


def unconfigured_due(names: list[str], due_by: datetime | None = None) -> dict[str, int]:
    """Due messages (all pending ones without ``due_by``) per account missing from ``names``."""
    rows = SentMessage.objects.due(due_by) if due_by else SentMessage.objects.pending()
    counts = rows.exclude(account__in=names).values("account").annotate(n=models.Count("pk"))
    return {row["account"]: row["n"] for row in counts.order_by("account")}


def _run(run: loop.Run) -> Iterator[RefreshResult]:
    try:
        yield from run.run()
    finally:
        for lane in run.lanes:
            lane.lease.release()


def iter_refresh(
    messages: Iterable[SentMessage | int] | models.QuerySet, *, limit: int | None = None
) -> Iterator[RefreshResult]:
    """``service.iter_refresh``: group ``messages`` per account, one lane each."""
    chunk_size = get_settings().chunk_size
    if isinstance(messages, models.QuerySet) and limit is None:  # paged per account, never loaded whole
        names = messages.order_by().values_list("account", flat=True).distinct()
        groups = {name: pk_chunks(messages.filter(account=name), chunk_size) for name in sorted(names)}
    else:
        by_account = _by_account(messages, chunk_size, limit)
        if sum(len(pks) for pks in by_account.values()) <= chunk_size:
            # a modest selection: what was asked moments ago needs no request slot
            for name, pks in by_account.items():
                config = account(name)
                soon = list(too_soon(pks, config if isinstance(config, SmscSettings) else get_settings()))
                yield from soon
                answered = {r.message.pk for r in soon}
                by_account[name] = [pk for pk in pks if pk not in answered]
        groups = {
            name: iter([pks[i : i + chunk_size] for i in range(0, len(pks), chunk_size)])
            for name, pks in by_account.items()
            if pks
        }
    lanes = []
    configs = {name: account(name) for name in groups}
    at_site = collections.Counter(c.site for c in configs.values() if isinstance(c, SmscSettings))
    for name, chunks in groups.items():
        config = configs[name]
        if isinstance(config, SmscAccountNotConfigured):
            for chunk in chunks:
                yield from refused(chunk, config)
            continue
        first = next(chunks, None)
        if not first:
            continue
        want = limits.site_share(config, at_site[config.site]) if len(first) > 1 else 1
        try:
            lease = limits.open_lease(config, want)
        except SmscCallRefused as exc:
            for chunk in itertools.chain([first], chunks):
                yield from refused(chunk, exc)
            continue
        lanes.append(Lane(Listed(config, itertools.chain([first], chunks)), lease))
    if lanes:
        yield from _run(loop.Run(lanes))


def account(name: str) -> SmscSettings | SmscAccountNotConfigured:
    """The account's settings, or why its messages cannot be refreshed now (it was removed
    from settings, or its settings are malformed: that stops this account only)."""
    try:
        return get_settings(name)
    except UnknownAccount:
        return SmscAccountNotConfigured(
            f"account {name!r} is not in SMSC_STATUS; add it back to refresh its messages"
        )
    except ImproperlyConfigured as exc:
        return SmscAccountNotConfigured(str(exc))


def _by_account(messages, chunk_size: int, limit: int | None) -> dict[str, list[int]]:
    """The primary keys of ``messages`` (at most ``limit``) per account, in the order given."""
    by_account: dict[str, list[int]] = {}
    for chunk in pk_chunks(messages, chunk_size, limit):
        accounts = dict(SentMessage.objects.filter(pk__in=chunk).values_list("pk", "account"))
        for pk in chunk:
            if pk in accounts:
                by_account.setdefault(accounts[pk], []).append(pk)
    return by_account


def pk_chunks(messages, size: int, limit: int | None = None) -> Iterator[list[int]]:
    """Primary keys in chunks; a queryset is paged by primary key, never loaded whole."""
    remaining = limit if limit is not None else float("inf")
    if isinstance(messages, models.QuerySet):
        last = None
        while remaining > 0:
            page = messages.order_by("pk")
            if last is not None:
                page = page.filter(pk__gt=last)
            pks = list(page.values_list("pk", flat=True)[: int(min(size, remaining))])
            if not pks:
                return
            remaining -= len(pks)
            last = pks[-1]
            yield pks
        return
    keys: Iterator[int] = (m.pk if isinstance(m, SentMessage) else int(m) for m in messages)
    keys = itertools.islice(keys, limit) if limit is not None else keys
    while chunk := list(itertools.islice(keys, size)):
        yield chunk
