"""The one module that decides: what to ask SMSC, how an answer is applied, when to back off.

The admin, the API, the django-q2 tasks and the management command are thin shells over the
functions here, and never call the SOAP client directly.

How a refresh runs (claims, the request threads, writing answers) is ``engine``'s business;
how an answer changes a message is ``policy``'s.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import engine, limits
from .client import get_client
from .conf import SmscSettings, get_settings
from .exceptions import (
    SmscCallRefused,
    SmscError,
)
from .models import SentMessage
from .outcomes import Outcome, RefreshReport, RefreshResult
from .policy import retry_after
from .retention import PruneReport, prune  # noqa: F401 - re-exported: shells call service.prune
from .stats import GROUPS as STATS_GROUPS  # noqa: F401 - re-exported: shells call service.stats
from .stats import combine as combine_stats  # noqa: F401
from .stats import stats  # noqa: F401
from .validation import clean_sender, clean_smsc_id, clean_text, normalize_phone

logger = logging.getLogger(__name__)

__all__ = [
    "Outcome",
    "RefreshReport",
    "RefreshResult",
    "account_status",
    "balance",
    "iter_refresh",
    "normalize_phone",
    "refresh",
    "refresh_due",
    "refresh_many",
    "refresh_selection",
    "register",
    "reset_breaker",
    "retry_after",
    "send",
]


# -- registering and sending -------------------------------------------------------------------

REGISTER_FIELDS = {"text", "sender", "sent_at", "cost", "sms_count"}


def register(smsc_id: str | int, phone: str, **known) -> tuple[SentMessage, bool]:
    """Start tracking a message sent elsewhere; idempotent: returns ``(message, created)``.

    ``known`` may give ``text``, ``sender``, ``sent_at``, ``cost``, ``sms_count``. The message
    is due for its first check at once.
    """
    unknown = set(known) - REGISTER_FIELDS
    if unknown:
        raise TypeError(f"register() got unknown fields: {', '.join(sorted(unknown))}")
    smsc_id, phone = clean_smsc_id(smsc_id), normalize_phone(phone)
    if known.get("text") is not None:
        known["text"] = clean_text(known["text"])
    if known.get("sender") is not None:
        known["sender"] = clean_sender(known["sender"])
    defaults = {k: v for k, v in known.items() if v is not None} | {"next_check_at": timezone.now()}
    try:
        with transaction.atomic():
            return SentMessage.objects.get_or_create(smsc_id=smsc_id, phone=phone, defaults=defaults)
    except IntegrityError:  # registered by someone else a moment ago
        return SentMessage.objects.get(smsc_id=smsc_id, phone=phone), False


def send(phones: str | Iterable[str], text: str, sender: str | None = None, **options) -> list[SentMessage]:
    """Send ``text`` through SMSC and track the result: one :class:`SentMessage` per phone.

    ``options`` go to ``send_sms`` (``smsc_id`` for your own id, ``time`` to schedule). On an
    SMSC or transport error nothing is recorded and the :class:`SmscError` propagates.
    """
    if isinstance(phones, str):
        phones = phones.replace(";", ",").split(",")
    numbers = list(dict.fromkeys(normalize_phone(p) for p in phones if p.strip()))
    if not numbers:
        raise ValidationError(_("Give at least one phone number."), code="phones")
    text, sender = clean_text(text, required=True), clean_sender(sender) or None
    unknown = set(options) - {"smsc_id", "time"}
    if unknown:
        raise TypeError(f"send() got unknown options: {', '.join(sorted(unknown))}")
    if options.get("smsc_id") is not None:
        options["smsc_id"] = clean_smsc_id(options["smsc_id"])
    config = get_settings()
    result = _call_smsc(
        config, lambda client: client.send_sms(",".join(numbers), text, sender=sender, **options)
    )
    now = timezone.now()
    per_phone = result.sms_count // len(numbers) if result.sms_count else None
    rows = [
        SentMessage(
            smsc_id=result.smsc_id,
            phone=phone,
            text=text,
            sender=sender or "",
            sent_at=now,
            cost=result.cost if len(numbers) == 1 else None,
            sms_count=per_phone,
            next_check_at=now + timedelta(seconds=config.backoff_initial),
        )
        for phone in numbers
    ]
    try:
        with transaction.atomic():
            return SentMessage.objects.bulk_create(rows)
    except Exception:
        logger.exception("SMSC sent message %s but recording it failed; register it by hand", result.smsc_id)
        raise


def balance() -> Decimal:
    """The SMSC account balance."""
    return _call_smsc(get_settings(), lambda client: client.get_balance())


def _call_smsc(config: SmscSettings, call):
    """One call outside a refresh, under the same limits: refused while the login is paused
    or out of authorisation budget, one request slot held, error 2 or 4 pausing the login for
    every process, an answer proving a half-open login."""
    lease = limits.acquire_slots(config, 1)
    assert lease is not None  # without still_needed it returns a lease or raises
    with lease:
        try:
            result = call(get_client(config))
        except SmscError as exc:
            limits.pause_after([exc], config)
            if lease.half_open and limits.proves_login(exc):
                limits.mark_verified(config.account)
            raise
        if lease.half_open:
            limits.mark_verified(config.account)
        return result


def account_status(account: str | None = None) -> limits.AccountStatus:
    """Whether calls for the login (default: the configured one) are allowed, and if not, when:
    the breaker, an IP block, the half-open state and SMSC's authorisation-error budget."""
    return limits.account_status(account or get_settings().account)


def reset_breaker(account: str | None = None) -> bool:
    """Let calls through again after error 2 or 4 (fix the credentials first).

    ``account`` defaults to the configured login. True if calls were paused.
    """
    return limits.reset(account or get_settings().account)


# -- refreshing --------------------------------------------------------------------------------


def refresh(message: SentMessage | int) -> RefreshResult:
    """Ask SMSC for one message's status now (unless it was checked moments ago)."""
    return refresh_many([message])[0]


def refresh_many(messages: Iterable[SentMessage | int]) -> list[RefreshResult]:
    """Refresh a modest selection; one result per message, in input order."""
    pks = [m.pk if isinstance(m, SentMessage) else int(m) for m in messages]
    results = {r.message.pk: r for r in iter_refresh(pks)}
    return [results[pk] for pk in dict.fromkeys(pks) if pk in results]


def refresh_due(limit: int | None = None, *, progress=None) -> RefreshReport:
    """Refresh pending messages whose ``next_check_at`` has come (the periodic sweep).

    Most overdue first; each process claims the next due messages no other process holds
    (several sweeps at once share the work instead of racing for it), one small batch per free
    request slot, so memory stays flat. Returns counts per outcome; ``progress(report)`` is
    called after each message, for progress bars. No exception escapes: a message's trouble is
    its outcome, and anything else stops the sweep with the reason in ``report.aborted`` (and
    the log).
    """
    report = RefreshReport()
    return _tally(report, lambda: _sweep(get_settings(), limit, report), progress)


def refresh_selection(
    messages: Iterable[SentMessage | int] | models.QuerySet, *, limit: int | None = None, progress=None
) -> RefreshReport:
    """Refresh any number of messages (a queryset is paged, never loaded whole) for a task or
    a command: counts per outcome instead of a result per message, and, as with the sweep, no
    exception escapes (``report.aborted``)."""
    return _tally(RefreshReport(), lambda: iter_refresh(messages, limit=limit), progress)


def _tally(report: RefreshReport, results: Callable[[], Iterable[RefreshResult]], progress) -> RefreshReport:
    """Count ``results()`` into ``report``: the one loop behind the sweep, the tasks and the
    command."""
    try:
        for result in results():
            report.add(result)
            if progress:
                progress(report)
    except Exception as exc:
        logger.exception("refresh stopped after %s messages", report.total)
        report.aborted = f"{type(exc).__name__}: {exc}"[:200]
    return report


def _sweep(config: SmscSettings, limit: int | None, report: RefreshReport) -> Iterator[RefreshResult]:
    due = engine.Due(config, limit)
    try:  # while waiting for a slot, other sweeps may take every due message
        lease = limits.acquire_slots(
            config, config.max_concurrent_requests, still_needed=lambda: limits.any_due(config, due.due_by)
        )
    except SmscCallRefused as exc:  # paused, out of budget, or no slot came free
        report.paused = exc
        logger.warning("sweep skipped: %s", exc)
        return
    if lease is None:
        return
    with lease:
        yield from engine.Run(config, lease).run(due)


def iter_refresh(
    messages: Iterable[SentMessage | int] | models.QuerySet, *, limit: int | None = None
) -> Iterator[RefreshResult]:
    """Refresh ``messages`` (rows, primary keys or a queryset), yielding results as they land
    (not in input order)."""
    config = get_settings()
    chunks = pk_chunks(messages, config.chunk_size, limit)
    first = next(chunks, None)
    if not first:
        return
    second = next(chunks, None)
    if second is None:  # a modest selection: what was asked moments ago needs no request slot
        soon = list(engine.too_soon(first, config))
        yield from soon
        answered = {r.message.pk for r in soon}
        first = [pk for pk in first if pk not in answered]
        if not first:
            return
    chunks = itertools.chain([first], [second] if second else [], chunks)
    want = config.max_concurrent_requests if second or len(first) > 1 else 1
    try:
        lease = limits.acquire_slots(config, want)
    except SmscCallRefused as exc:
        for chunk in chunks:
            yield from engine.refused(chunk, exc)
        return
    assert lease is not None  # without still_needed it returns a lease or raises
    with lease:
        yield from engine.Run(config, lease).run(engine.Listed(config, chunks))


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
