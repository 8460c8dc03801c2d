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

import contextlib
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import limits, policy
from .client import StatusResult, get_client
from .conf import SmscSettings, get_settings
from .exceptions import (
    SmscAuthError,
    SmscBusy,
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
    due = _Due(config, limit)
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
        yield from _Run(config, lease).run(due)


UPDATED_FIELDS = [
    "text",
    "sender",
    "sent_at",
    "cost",
    "sms_count",
    "status",
    "err",
    "status_changed_at",
    "operator",
    "region",
    "is_final",
    "next_check_at",
    "check_attempts",
    "last_request_error",
    "last_checked_at",
    "quarantine_reason",
]


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
        soon = list(_too_soon(first, config))
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
            yield from _refused(chunk, exc)
        return
    assert lease is not None  # without still_needed it returns a lease or raises
    with lease:
        yield from _Run(config, lease).run(_Listed(config, chunks))


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


def _too_soon(pks: list[int], config: SmscSettings) -> Iterator[RefreshResult]:
    """Messages asked about less than ``MIN_CHECK_INTERVAL`` ago: their stored state."""
    cutoff = timezone.now() - timedelta(seconds=config.min_check_interval)
    for row in SentMessage.objects.filter(pk__in=pks, last_checked_at__gte=cutoff):
        yield _not_claimed(row, config)


def _not_claimed(row: SentMessage, config: SmscSettings) -> RefreshResult:
    """A message someone else asked about moments ago, or (in a sweep) no longer due."""
    wait = config.min_check_interval
    if row.last_checked_at:
        wait -= (timezone.now() - row.last_checked_at).total_seconds()
    return RefreshResult(row, Outcome.TOO_SOON, retry_after=max(wait, 1))


def _refused(pks: list[int], error: SmscCallRefused) -> Iterator[RefreshResult]:
    rows = SentMessage.objects.in_bulk(pks)
    retry = retry_after(error)
    for pk in pks:
        if pk in rows:
            yield RefreshResult(rows[pk], Outcome.REFUSED, error=error, retry_after=retry)


@dataclass(frozen=True)
class _Fetched:
    """What a pool thread brings back for one claimed message."""

    message: SentMessage
    stamp: datetime  # the claim's last_checked_at
    answer: StatusResult | SmscError
    finished_at: datetime  # when the answer (or the failure) came: after SMSC got the request
    sent: bool  # False: dropped before any request; the claim's stamp stands
    took: float = 0.0  # seconds the request took


class _Listed:
    """Messages given by the caller: each is claimed once, in the order given; one asked
    moments ago (by anyone) is answered from the database."""

    def __init__(self, config: SmscSettings, chunks: Iterator[list[int]]) -> None:
        self.config, self.chunks = config, chunks
        self.waiting: deque[int] = deque()
        self.exhausted = False

    def claim(self, want: int) -> tuple[datetime, list[SentMessage], list[RefreshResult]]:
        while len(self.waiting) < want and (chunk := next(self.chunks, None)):
            self.waiting.extend(chunk)
        batch = [self.waiting.popleft() for _ in range(min(want, len(self.waiting)))]
        self.exhausted = not self.waiting and len(batch) < want
        stamp, claimed, taken = limits.claim_messages(batch, self.config)
        return stamp, claimed, [_not_claimed(row, self.config) for row in taken]

    def refuse_rest(self, error: SmscCallRefused) -> Iterator[RefreshResult]:
        yield from _refused(list(self.waiting), error)
        self.waiting.clear()
        for chunk in self.chunks:
            yield from _refused(chunk, error)
        self.exhausted = True


class _Due:
    """The sweep's messages: due when the sweep began, not held by anyone, most overdue first,
    at most ``limit`` of them. What is left when calls stop stays due for the next sweep."""

    def __init__(self, config: SmscSettings, limit: int | None) -> None:
        self.config, self.due_by = config, timezone.now()
        self.left = float("inf") if limit is None else limit
        self.exhausted = self.left <= 0

    def claim(self, want: int) -> tuple[datetime, list[SentMessage], list[RefreshResult]]:
        count = int(min(want, self.left))
        stamp, claimed = limits.claim_due(self.config, count, self.due_by)
        self.left -= len(claimed)
        self.exhausted = len(claimed) < count or self.left <= 0
        return stamp, claimed, []

    def refuse_rest(self, error: SmscCallRefused) -> Iterator[RefreshResult]:
        self.exhausted = True
        return iter(())


class _Run:
    """One refresh run: claims messages just in time for a free request slot, asks SMSC from
    one thread per slot, and writes the answers in batches.

    The threads only talk to SMSC, taking claimed messages in order from a queue; every
    database write happens in the calling thread (its transaction, its connection). Messages
    are claimed only as fast as the slots can take them (a short queue, sized from how long
    SMSC takes), and a thread that gets one after ``limits.CLAIM_VALID_FOR`` drops it unsent,
    so the claim's stamp always covers the request. Free slots are taken up as they appear
    (other processes finished, a half-open login proved itself); error 2 or 4 stops the run.
    """

    def __init__(self, config: SmscSettings, lease: limits.SlotLease) -> None:
        self.config, self.lease = config, lease
        self.client = get_client(config)
        self.todo: queue.SimpleQueue = queue.SimpleQueue()  # (row, stamp, send_by) or None: stop
        self.answers: queue.SimpleQueue = queue.SimpleQueue()  # _Fetched
        self.stop = threading.Event()
        self.stopped_by: SmscCallRefused | None = None
        self._topped_up = self._checked_open = time.monotonic()
        self._took = limits.CLAIM_VALID_FOR / 4  # seconds per request, learnt as answers come

    def run(self, source: _Listed | _Due) -> Iterator[RefreshResult]:
        done: list[_Fetched] = []
        outstanding = 0  # claimed, answer not back yet
        with ThreadPoolExecutor(self.config.max_concurrent_requests, thread_name_prefix="smsc") as pool:
            workers = [pool.submit(self._work) for _ in range(len(self.lease))]
            try:
                while True:
                    capacity, ahead = len(self.lease), self._ahead()
                    if not self.stop.is_set() and not source.exhausted and outstanding <= capacity * ahead:
                        # a short queue behind each slot: fewer, larger claims, none stale
                        claimed, refused = self._claim(source, capacity * (ahead + 1) - outstanding)
                        outstanding += claimed
                        yield from refused
                    if self.stop.is_set() and not source.exhausted:
                        yield from source.refuse_rest(self._stop_reason())
                    if not outstanding:
                        if source.exhausted:
                            break
                        continue
                    came = self._collect()
                    outstanding -= len(came)
                    done += came
                    workers += [pool.submit(self._work) for _slot in range(self._widen(came))]
                    if len(done) >= self.config.chunk_size:
                        yield from self._apply(done)
                        done = []
            finally:
                for _worker in workers:
                    self.todo.put(None)
        yield from self._apply(done)

    def _ahead(self) -> int:
        """Requests to queue behind each slot: what SMSC answers in a quarter of the time a
        claim stays valid, between 1 and 8."""
        return max(1, min(8, int(limits.CLAIM_VALID_FOR / 4 / max(self._took, 0.001))))

    def _claim(self, source: _Listed | _Due, want: int) -> tuple[int, list[RefreshResult]]:
        if time.monotonic() - self._checked_open > 1:  # paused by another process meanwhile?
            self._checked_open = time.monotonic()
            try:
                limits.ensure_open(self.config.account)
            except SmscCircuitOpen as exc:
                self.stopped_by = exc
                self.stop.set()
                return 0, []
        stamp, claimed, not_claimed = source.claim(want)
        send_by = time.monotonic() + limits.CLAIM_VALID_FOR
        for row in claimed:
            self.todo.put((row, stamp, send_by))
        return len(claimed), not_claimed

    def _collect(self) -> list[_Fetched]:
        """The answers that came back (waiting up to a second for the first), learning from
        them how long SMSC takes."""
        came: list[_Fetched] = []
        with contextlib.suppress(queue.Empty):
            came.append(self.answers.get(timeout=1.0))
            while True:
                came.append(self.answers.get_nowait())
        for item in came:
            if item.sent:
                self._took = 0.8 * self._took + 0.2 * item.took
        return came

    def _work(self) -> None:
        """One per leased slot, in a pool thread: SMSC only, no database."""
        while (item := self.todo.get()) is not None:
            self.answers.put(self._fetch(*item))

    def _fetch(self, row: SentMessage, stamp: datetime, send_by: float) -> _Fetched:
        """Never raises: whatever happens is the message's answer."""
        if self.stop.is_set():
            refused: SmscCallRefused = SmscCircuitOpen("calls paused after an SMSC error earlier in this run")
            return _Fetched(row, stamp, refused, timezone.now(), sent=False)
        if time.monotonic() > send_by:
            refused = SmscBusy("no request slot came free in time; asked again later")
            return _Fetched(row, stamp, refused, timezone.now(), sent=False)
        answer: StatusResult | SmscError
        started = time.monotonic()
        try:
            answer = self.client.get_status(row.smsc_id, row.phone)
        except (SmscAuthError, SmscIpBlocked) as exc:
            self.stop.set()
            answer = exc
        except SmscError as exc:
            answer = exc
        except Exception as exc:  # one message's trouble stays its own
            logger.exception("refreshing message %s failed", row.pk)
            answer = SmscError(f"unexpected {type(exc).__name__}; see the log")
        return _Fetched(row, stamp, answer, timezone.now(), sent=True, took=time.monotonic() - started)

    def _widen(self, came: list[_Fetched]) -> int:
        """Slots added to the lease: at once when a half-open login has proved itself,
        otherwise looked for every second (slots that other processes released)."""
        proved = self.lease.half_open and any(limits.proves_login(f.answer) for f in came)
        if proved:
            limits.mark_verified(self.config.account)
        full = len(self.lease) >= self.config.max_concurrent_requests
        if self.stop.is_set() or full or not (proved or time.monotonic() - self._topped_up > 1):
            return 0
        self._topped_up = time.monotonic()
        return self.lease.top_up()

    def _stop_reason(self) -> SmscCallRefused:
        return self.stopped_by or SmscCircuitOpen("calls paused after an SMSC error")

    def _apply(self, fetched: list[_Fetched]) -> Iterator[RefreshResult]:
        """Write a batch of answers in one transaction; one row's failure costs one row."""
        if not fetched:
            return
        results: dict[int, RefreshResult] = {}
        changes: dict[int, tuple[int | None, StatusSnapshot]] = {}  # pk -> (old status, snapshot)
        with transaction.atomic():
            rows = SentMessage.objects.select_for_update().in_bulk([f.message.pk for f in fetched])
            now = timezone.now()  # after the lock: history's order is the order of application
            for item in fetched:
                row = rows.get(item.message.pk)
                if row is None:
                    continue  # deleted meanwhile
                if item.sent and row.last_checked_at == item.stamp:
                    row.last_checked_at = item.finished_at  # our claim, used: when SMSC answered
                old_status = row.status
                results[row.pk] = _apply_one(row, item.answer, now, self.config)
                if (snapshot := results[row.pk].snapshot) is not None:
                    changes[row.pk] = (old_status, snapshot)
            snapshots = {pk: snapshot for pk, (_old, snapshot) in changes.items()}
            for pk, error in _write([rows[pk] for pk in results], snapshots, now, self.config).items():
                results[pk] = RefreshResult(rows[pk], Outcome.FAILED, error=error)
                changes.pop(pk, None)
            for pk, (old_status, snapshot) in changes.items():
                # robust: a receiver's failure is logged and costs no other message anything
                transaction.on_commit(_announcer(rows[pk], old_status, snapshot), robust=True)
        _pause_if_needed(list(results.values()), self.config)
        yield from results.values()


def _announcer(message: SentMessage, old_status: int | None, snapshot: StatusSnapshot):
    def send_status_changed() -> None:
        status_changed.send(
            sender=SentMessage,
            message=message,
            old_status=old_status,
            new_status=message.status,
            snapshot=snapshot,
        )

    return send_status_changed


def _apply_one(
    row: SentMessage, answer: StatusResult | SmscError, now: datetime, config: SmscSettings
) -> RefreshResult:
    """``policy`` applied to one row in memory; a failure there becomes the row's outcome."""
    try:
        if isinstance(answer, SmscError):
            return policy.record_error(row, answer, now, config)
        snapshot = policy.apply_answer(row, answer, now, config)
    except Exception:
        logger.exception("applying SMSC's answer to message %s failed", row.pk)
        row.refresh_from_db()
        error = SmscError("could not apply SMSC's answer; see the log")
        return policy.record_error(row, error, now, config)
    outcome = Outcome.UNCHANGED if snapshot is None else Outcome.CHANGED
    return RefreshResult(row, outcome, snapshot=snapshot)


def _write(
    rows: list[SentMessage], snapshots: dict[int, StatusSnapshot], now: datetime, config: SmscSettings
) -> dict[int, SmscError]:
    """Save rows and snapshots in one go; if that fails, row by row, so a row the database
    refuses costs that row only (the error is noted on it where possible). Returns the
    failures by primary key."""
    try:
        with transaction.atomic():  # a savepoint: a failed batch leaves the transaction usable
            _save_rows(rows, UPDATED_FIELDS)
            StatusSnapshot.objects.bulk_create(snapshots.values())
        return {}
    except Exception:
        logger.warning("writing %s answers at once failed; writing them one by one", len(rows), exc_info=True)
    failed = {}
    for row in rows:
        try:
            with transaction.atomic():
                _save_rows([row], UPDATED_FIELDS)
                if row.pk in snapshots:
                    snapshots[row.pk].save()
        except Exception as exc:
            logger.exception("could not save SMSC's answer for message %s", row.pk)
            failed[row.pk] = error = SmscError(
                f"could not save SMSC's answer ({type(exc).__name__}); see the log"
            )
            with contextlib.suppress(Exception), transaction.atomic():
                row.refresh_from_db()
                policy.record_error(row, error, now, config)
                _save_rows([row], ["last_request_error", "check_attempts", "next_check_at"])
    return failed


def _save_rows(rows: list[SentMessage], fields: list[str]) -> None:
    """Save ``fields`` of ``rows`` with one UPDATE statement run for every row (executemany).

    ``bulk_update`` builds a CASE WHEN expression per field and row: about a second of CPU per
    thousand rows, taken from the threads waiting on SMSC (benchmarks/bench_sweep.py).
    """
    if not rows:
        return
    connection = connections[router.db_for_write(SentMessage)]
    meta, quote = SentMessage._meta, connection.ops.quote_name
    columns: list = [meta.get_field(name) for name in fields]  # concrete fields only
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 - quoted model metadata only
        quote(meta.db_table),
        ", ".join(f"{quote(c.column)} = %s" for c in columns),
        quote(meta.pk.column),  # type: ignore[arg-type]
    )
    params = [
        [c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns] + [row.pk] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _pause_if_needed(results: list[RefreshResult], config: SmscSettings) -> None:
    limits.pause_after([r.error for r in results if r.error is not None], config)
