"""The one module that decides: what to ask SMSC, how an answer is applied, when to back off.

The admin, the API, the django-q2 tasks and the management command are thin shells over the
functions here, and never call the SOAP client directly.

How a refresh runs (:func:`iter_refresh`):

1. Messages are taken in chunks. Each chunk is **claimed** with one conditional UPDATE that
   stamps ``last_checked_at`` only on messages not checked within ``MIN_CHECK_INTERVAL``; the
   rest are answered from the database ("too soon"). So however many processes refresh the same
   message at once, one of them asks SMSC, and no message is asked more than 5 times a minute.
2. Claimed messages go to a thread pool as wide as the request slots leased for the login
   (``limits``): the threads only talk to SMSC, never to the database.
3. The calling thread applies each chunk's answers in one transaction (rows locked with
   SELECT ... FOR UPDATE where the database has it), while the threads work on the next chunk.
   How an answer changes a message is ``policy``'s business (status never moves backwards, an
   unchanged answer writes no snapshot, backoff); ``status_changed`` is sent after commit.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import limits, policy
from .client import XML_INVALID, StatusResult, get_client
from .conf import SmscSettings, get_settings
from .exceptions import (
    SmscAuthError,
    SmscCallRefused,
    SmscCircuitOpen,
    SmscError,
    SmscIpBlocked,
)
from .models import SentMessage, StatusSnapshot
from .outcomes import Outcome, RefreshReport, RefreshResult
from .policy import retry_after
from .retention import PruneReport, prune  # noqa: F401 - re-exported: shells call service.prune
from .signals import status_changed
from .stats import GROUPS as STATS_GROUPS  # noqa: F401 - re-exported: shells call service.stats
from .stats import combine as combine_stats  # noqa: F401
from .stats import stats  # noqa: F401

logger = logging.getLogger(__name__)

__all__ = [
    "Outcome",
    "RefreshReport",
    "RefreshResult",
    "balance",
    "iter_refresh",
    "normalize_phone",
    "refresh",
    "refresh_due",
    "refresh_many",
    "register",
    "reset_breaker",
    "retry_after",
    "send",
]


# -- registering and sending -------------------------------------------------------------------

REGISTER_FIELDS = {"text", "sender", "sent_at", "cost", "sms_count"}


def normalize_phone(phone: str) -> str:
    """Digits only, as SMSC stores them: ``+7 (999) 123-45-67`` -> ``79991234567``."""
    text = str(phone).strip()
    digits = "".join(c for c in text if c.isdigit())
    if not 7 <= len(digits) <= 15 or any(not (c.isdigit() or c in "+ ()-.") for c in text):
        raise ValidationError(_("Enter a phone number of 7 to 15 digits."), code="phone")
    return digits


def _clean_smsc_id(smsc_id: str | int) -> str:
    value = str(smsc_id).strip()
    if not value or len(value) > 40 or any(c.isspace() for c in value):
        raise ValidationError(_("An SMSC id is 1 to 40 characters without spaces."), code="smsc_id")
    return value


def register(smsc_id: str | int, phone: str, **known) -> tuple[SentMessage, bool]:
    """Start tracking a message sent elsewhere; idempotent: returns ``(message, created)``.

    ``known`` may give ``text``, ``sender``, ``sent_at``, ``cost``, ``sms_count``. The message
    is due for its first check at once.
    """
    unknown = set(known) - REGISTER_FIELDS
    if unknown:
        raise TypeError(f"register() got unknown fields: {', '.join(sorted(unknown))}")
    smsc_id, phone = _clean_smsc_id(smsc_id), normalize_phone(phone)
    defaults = {k: v for k, v in known.items() if v is not None} | {"next_check_at": timezone.now()}
    try:
        with transaction.atomic():
            return SentMessage.objects.get_or_create(smsc_id=smsc_id, phone=phone, defaults=defaults)
    except IntegrityError:  # registered by someone else a moment ago
        return SentMessage.objects.get(smsc_id=smsc_id, phone=phone), False


def send(phones: str | Iterable[str], text: str, sender: str | None = None,
         **options) -> list[SentMessage]:
    """Send ``text`` through SMSC and track the result: one :class:`SentMessage` per phone.

    ``options`` go to ``send_sms`` (``smsc_id`` for your own id, ``time`` to schedule). On an
    SMSC or transport error nothing is recorded and the :class:`SmscError` propagates.
    """
    if isinstance(phones, str):
        phones = phones.replace(";", ",").split(",")
    numbers = list(dict.fromkeys(normalize_phone(p) for p in phones if p.strip()))
    if not numbers:
        raise ValidationError(_("Give at least one phone number."), code="phones")
    if not text:
        raise ValidationError(_("The message text is empty."), code="text")
    if XML_INVALID.search(text):
        raise ValidationError(_("The text contains control characters that SMS cannot carry."),
                              code="text")
    unknown = set(options) - {"smsc_id", "time"}
    if unknown:
        raise TypeError(f"send() got unknown options: {', '.join(sorted(unknown))}")
    config = get_settings()
    result = _call_smsc(config, lambda client: client.send_sms(",".join(numbers), text,
                                                               sender=sender, **options))
    now = timezone.now()
    per_phone = result.sms_count // len(numbers) if result.sms_count else None
    rows = [
        SentMessage(
            smsc_id=result.smsc_id, phone=phone, text=text, sender=sender or "", sent_at=now,
            cost=result.cost if len(numbers) == 1 else None, sms_count=per_phone,
            next_check_at=now + timedelta(seconds=config.backoff_initial),
        )
        for phone in numbers
    ]
    try:
        with transaction.atomic():
            return SentMessage.objects.bulk_create(rows)
    except Exception:
        logger.exception("SMSC sent message %s but recording it failed; register it by hand",
                         result.smsc_id)
        raise


def balance() -> Decimal:
    """The SMSC account balance."""
    return _call_smsc(get_settings(), lambda client: client.get_balance())


def _call_smsc(config: SmscSettings, call):
    """One call outside a refresh, under the same limits: refused while the login is paused,
    one request slot held, and error 2 or 4 pausing the login for every process."""
    limits.ensure_open(config.account)
    with limits.acquire_slots(config, 1):
        try:
            return call(get_client(config))
        except (SmscAuthError, SmscIpBlocked) as exc:
            limits.pause_after(exc, config)
            raise


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
    return list(iter_refresh(messages))


def refresh_due(limit: int | None = None, *, progress=None) -> RefreshReport:
    """Refresh pending messages whose ``next_check_at`` has come (the periodic sweep).

    Most overdue first. Streams the due set in chunks (memory stays flat), returns counts per
    outcome. ``progress(report)`` is called after each message, for progress bars.
    """
    report, config = RefreshReport(), get_settings()
    try:
        limits.ensure_open(config.account)
    except SmscCircuitOpen as exc:
        report.paused = exc
        logger.warning("sweep skipped: %s", exc)
        return report
    for result in iter_refresh(_due_pks(config.chunk_size), due_only=True, limit=limit):
        report.add(result)
        if progress:
            progress(report)
    return report


UPDATED_FIELDS = ["text", "sender", "sent_at", "cost", "sms_count", "status", "err",
                  "status_changed_at", "operator", "region", "is_final", "next_check_at",
                  "check_attempts", "last_request_error"]


def iter_refresh(messages: Iterable[SentMessage | int] | models.QuerySet, *, due_only: bool = False,
                 limit: int | None = None) -> Iterator[RefreshResult]:
    """Refresh ``messages`` (rows, primary keys or a queryset), yielding results as they land."""
    config = get_settings()
    chunks = pk_chunks(messages, config.chunk_size, limit)
    first = next(chunks, None)
    if not first:
        return
    chunks = itertools.chain([first], chunks)
    try:
        limits.ensure_open(config.account)
        lease = limits.acquire_slots(config, config.max_concurrent_requests if len(first) > 1 else 1)
    except SmscCallRefused as exc:
        for chunk in chunks:
            yield from _refused(chunk, exc)
        return
    client = get_client(config)
    stop = threading.Event()  # set on error 2 or 4: no further calls in this run
    with lease, ThreadPoolExecutor(len(lease), thread_name_prefix="smsc") as pool:
        in_flight: list[tuple[SentMessage, Future]] = []
        for chunk in chunks:
            if stop.is_set():
                yield from _refused(chunk, SmscCircuitOpen("calls paused after an SMSC error"))
                continue
            claimed, skipped = _claim(chunk, config, due_only)
            yield from skipped
            submitted = [(m, pool.submit(_fetch, client, m.smsc_id, m.phone, stop)) for m in claimed]
            yield from _apply(in_flight, config, lease)  # the previous chunk, while this one runs
            in_flight = submitted
        yield from _apply(in_flight, config, lease)


def _due_pks(page: int) -> Iterator[int]:
    """Due messages' keys, most overdue first, paged by ``(next_check_at, pk)`` on the partial
    index: the query reads only due rows, never the whole table."""
    now = timezone.now()
    after = None
    while True:
        due = SentMessage.objects.due(now).order_by("next_check_at", "pk")
        if after is not None:
            due = due.filter(models.Q(next_check_at__gt=after[1])
                             | models.Q(next_check_at=after[1], pk__gt=after[0]))
        rows = list(due.values_list("pk", "next_check_at")[:page])
        if not rows:
            return
        yield from (pk for pk, _ in rows)
        after = rows[-1]


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
    pks = (m.pk if isinstance(m, SentMessage) else int(m) for m in messages)
    pks = itertools.islice(pks, limit) if limit is not None else pks
    while chunk := list(itertools.islice(pks, size)):
        yield chunk


def _claim(pks: list[int], config: SmscSettings, due_only: bool):
    """Stamp ``last_checked_at`` on the messages we may ask about now; the rest are too soon."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=config.min_check_interval)
    free = models.Q(last_checked_at__isnull=True) | models.Q(last_checked_at__lt=cutoff)
    claim = SentMessage.objects.filter(free, pk__in=pks)
    if due_only:
        claim = claim.filter(is_final=False, next_check_at__lte=now)
    claim.update(last_checked_at=now)
    rows = SentMessage.objects.in_bulk(pks)
    claimed, skipped = [], []
    for pk in pks:
        row = rows.get(pk)
        if row is None:
            continue  # deleted meanwhile
        if row.last_checked_at == now:
            claimed.append(row)
        else:
            wait = config.min_check_interval
            if row.last_checked_at:
                wait -= (now - row.last_checked_at).total_seconds()
            skipped.append(RefreshResult(row, Outcome.TOO_SOON, retry_after=max(wait, 1)))
    return claimed, skipped


def _refused(pks: list[int], error: SmscCallRefused) -> Iterator[RefreshResult]:
    rows = SentMessage.objects.in_bulk(pks)
    retry = retry_after(error)
    for pk in pks:
        if pk in rows:
            yield RefreshResult(rows[pk], Outcome.REFUSED, error=error, retry_after=retry)


def _fetch(client, smsc_id: str, phone: str, stop: threading.Event) -> StatusResult | SmscError:
    """Runs in a pool thread: SMSC only, no database."""
    if stop.is_set():
        return SmscCircuitOpen("calls paused after an SMSC error earlier in this run")
    try:
        return client.get_status(smsc_id, phone)
    except (SmscAuthError, SmscIpBlocked) as exc:
        stop.set()
        return exc
    except SmscError as exc:
        return exc


def _apply(fetched: list[tuple[SentMessage, Future]], config: SmscSettings,
           lease: limits.SlotLease) -> Iterator[RefreshResult]:
    """Write one chunk's answers in one transaction; yield results in order."""
    if not fetched:
        return
    answers = {}
    for message, future in fetched:
        answers[message.pk] = future.result()
        lease.renew_if_needed()
    results, snapshots, events = [], [], []
    with transaction.atomic():
        rows = SentMessage.objects.select_for_update().in_bulk(list(answers))
        now = timezone.now()  # after the lock: history's order is the order of application
        for message, _future in fetched:
            row = rows.get(message.pk)
            if row is None:
                continue
            answer = answers[message.pk]
            if isinstance(answer, StatusResult):
                old_status = row.status
                snapshot = policy.apply_answer(row, answer, now, config)
                if snapshot is not None:
                    snapshots.append(snapshot)
                    events.append((row, old_status, snapshot))
                results.append(RefreshResult(row, Outcome.CHANGED if snapshot else Outcome.UNCHANGED,
                                             snapshot=snapshot))
            else:
                results.append(policy.record_error(row, answer, now, config))
        _save_rows(list(rows.values()), UPDATED_FIELDS)
        StatusSnapshot.objects.bulk_create(snapshots)
        for row, old_status, snapshot in events:
            transaction.on_commit(partial(
                status_changed.send, sender=SentMessage, message=row, old_status=old_status,
                new_status=row.status, snapshot=snapshot,
            ))
    _pause_if_needed(results, config)
    yield from results


def _save_rows(rows: list[SentMessage], fields: list[str]) -> None:
    """Save ``fields`` of ``rows`` with one UPDATE statement run for every row (executemany).

    ``bulk_update`` builds a CASE WHEN expression per field and row: about a second of CPU per
    thousand rows, taken from the threads waiting on SMSC (benchmarks/bench_sweep.py).
    """
    if not rows:
        return
    connection = connections[router.db_for_write(SentMessage)]
    meta, quote = SentMessage._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 - quoted model metadata only
        quote(meta.db_table), ", ".join(f"{quote(c.column)} = %s" for c in columns),
        quote(meta.pk.column),
    )
    params = [[c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns] + [row.pk]
              for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _pause_if_needed(results: list[RefreshResult], config: SmscSettings) -> None:
    """Error 2 anywhere in the chunk wins over error 4 (the breaker pauses longer)."""
    errors = [r.error for r in results if isinstance(r.error, (SmscAuthError, SmscIpBlocked))]
    if errors:
        limits.pause_after(max(errors, key=lambda e: isinstance(e, SmscAuthError)), config)
