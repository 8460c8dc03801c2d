"""How a refresh runs: claims, one request thread per leased slot, and writing the answers.

``service`` decides what to refresh and calls :class:`Run` with a source of messages
(:class:`Listed` for a caller's selection, :class:`Due` for the sweep):

1. Messages are **claimed** just before a slot can take them (``limits.claim_messages`` /
   ``limits.claim_due``): a conditional UPDATE stamps ``last_checked_at`` with the latest moment
   the request may reach SMSC, so however many processes refresh at once, two requests about
   one message are ``MIN_CHECK_INTERVAL`` apart; messages asked moments ago are answered from
   the database ("too soon"). A sweep claims only messages no other process holds.
2. One thread per leased request slot takes claimed messages in order from a queue and only
   talks to SMSC, never to the database; a message it gets too late is dropped unsent.
3. The calling thread writes the answers in batches, in one transaction each (rows locked with
   ``SELECT ... FOR UPDATE`` where the database has it), row by row if a batch fails. How an
   answer changes a message is ``policy``'s business; ``status_changed`` is sent after commit.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connections, router, transaction
from django.utils import timezone

from . import limits, policy
from .client import StatusResult, get_client
from .conf import SmscSettings
from .exceptions import SmscAuthError, SmscBusy, SmscCallRefused, SmscCircuitOpen, SmscError, SmscIpBlocked
from .models import SentMessage, StatusSnapshot
from .outcomes import Outcome, RefreshResult
from .policy import retry_after
from .signals import status_changed

logger = logging.getLogger(__name__)

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


def too_soon(pks: list[int], config: SmscSettings) -> Iterator[RefreshResult]:
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


def refused(pks: list[int], error: SmscCallRefused) -> Iterator[RefreshResult]:
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


class Listed:
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
        yield from refused(list(self.waiting), error)
        self.waiting.clear()
        for chunk in self.chunks:
            yield from refused(chunk, error)
        self.exhausted = True


class Due:
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


class Run:
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

    def run(self, source: Listed | Due) -> Iterator[RefreshResult]:
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

    def _claim(self, source: Listed | Due, want: int) -> tuple[int, list[RefreshResult]]:
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
