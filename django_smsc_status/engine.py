"""How a refresh runs: claims, one request thread per leased slot, and writing the answers.

``service`` decides what to refresh and calls :class:`Run` with one :class:`Lane` per SMSC
account, each with its own request slots and a source of that account's messages
(:class:`Listed` for a caller's selection, :class:`Due` for the sweep). The lanes are served in
turn from one calling thread, so accounts run in parallel and none starves another:

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
import math
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

from . import limits, policy
from .backoff import Backoff
from .conf import SmscSettings
from .exceptions import SmscBusy, SmscCallRefused, SmscCircuitOpen, SmscError
from .models import SentMessage, StatusSnapshot
from .outcomes import Outcome, RefreshResult
from .policy import retry_after
from .signals import status_changed
from .soap import StatusResult, get_client

logger = logging.getLogger(__name__)

FINISH_MARGIN = 2.0  # seconds a run with a deadline keeps for its last writes and releases
FLUSH_SECONDS = 1.0  # answers wait at most this long to be written (fewer lost if killed)
#: Seconds of requests queued behind each slot: a quarter of the time a claim stays valid, so a
#: claimed message is asked well within it (and claiming stops this long before a deadline).
QUEUE_SPAN = limits.CLAIM_VALID_FOR / 4
UNREADABLE_WHILE_UNPROVED = (
    "not asking SMSC again in this run: an answer to a login not yet proved could not be read, "
    "so it was counted as a possible SMSC error 2"
)
UNPROVEN_HELD_BACK = (
    "not asked in this sweep: messages without a good answer from SMSC have spent their part "
    "of the site's error budget"
)

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
    for row in limits.asked_too_recently(pks, config):
        yield _not_claimed(row, config)


def _not_claimed(row: SentMessage, config: SmscSettings) -> RefreshResult:
    """A message someone else asked about moments ago, or (in a sweep) no longer due."""
    return RefreshResult(row, Outcome.TOO_SOON, retry_after=max(limits.claimable_in(row, config), 1))


def refused(pks: list[int], error: SmscCallRefused) -> Iterator[RefreshResult]:
    rows = SentMessage.objects.in_bulk(pks)
    retry = retry_after(error)
    for pk in pks:
        if pk in rows:
            yield RefreshResult(rows[pk], Outcome.REFUSED, error=error, retry_after=retry)


@dataclass(frozen=True)
class _Fetched:
    """What a pool thread brings back for one claimed message."""

    lane: Lane
    message: SentMessage
    stamp: datetime  # the claim's last_checked_at
    answer: StatusResult | SmscError
    finished_at: datetime  # when the answer (or the failure) came: after SMSC got the request
    sent: bool  # False: dropped before any request; the claim's stamp stands
    took: float = 0.0  # seconds the request took
    suspect: bool = False  # a login not yet proved got no readable answer: a possible error 2


class Listed:
    """Messages of one account given by the caller: each is claimed once, in the order given;
    one asked moments ago (by anyone) is answered from the database."""

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

    def answered(self, message: SentMessage, erred: bool) -> None:
        pass

    def holds_back(self, message: SentMessage) -> bool:
        return False

    def still_needed(self) -> bool:
        return True

    def refuse_rest(self, error: SmscCallRefused) -> Iterator[RefreshResult]:
        yield from refused(list(self.waiting), error)
        self.waiting.clear()
        for chunk in self.chunks:
            yield from refused(chunk, error)
        self.exhausted = True


class Allowance:
    """How many more messages a sweep may claim, shared by its accounts: a claim takes at most
    an even share of what is left, so an account with a long backlog (or more free slots)
    cannot use up what another account's messages need."""

    def __init__(self, limit: int | None) -> None:
        self.left: float = float("inf") if limit is None else limit
        self.sharing = 0  # accounts still claiming

    def share(self) -> float:
        return math.ceil(self.left / max(self.sharing, 1)) if self.left != float("inf") else self.left


class Due:
    """The sweep's messages of one account: due when the sweep began, not held by anyone, most
    overdue first, while the sweep's allowance lasts. What is left when calls stop stays due
    for the next sweep."""

    def __init__(self, config: SmscSettings, allowance: Allowance, due_by: datetime) -> None:
        self.config, self.allowance, self.due_by = config, allowance, due_by
        self._exhausted = False
        allowance.sharing += 1
        # messages that never had a good answer may spend the site's error budget down to
        # its reserve (read once a sweep), so a flood of unknown ids leaves room for the rest
        self.unproven_room = limits.unproven_room(config)

    @property
    def exhausted(self) -> bool:
        return self._exhausted or self.allowance.left <= 0

    @exhausted.setter
    def exhausted(self, value: bool) -> None:
        if value and not self._exhausted:
            self.allowance.sharing -= 1
        self._exhausted = value

    def claim(self, want: int) -> tuple[datetime, list[SentMessage], list[RefreshResult]]:
        count = int(min(want, self.allowance.share()))
        unproven = None if self.unproven_room > 0 else 0  # once it is spent: known ones only
        stamp, claimed = limits.claim_due(self.config, count, self.due_by, unproven)
        self.allowance.left -= len(claimed)
        if len(claimed) < count:  # nothing more due for this account (that may be asked)
            self.exhausted = True
        return stamp, claimed, []

    def answered(self, message: SentMessage, erred: bool) -> None:
        if erred and limits.is_unproven(message):
            self.unproven_room -= 1

    def holds_back(self, message: SentMessage) -> bool:
        """Whether a claimed message must not be sent (a request thread asks): unproven ones
        once their room is spent, however many are queued."""
        return self.unproven_room <= 0 and limits.is_unproven(message)

    def still_needed(self) -> bool:
        """Whether waiting for a slot is still worth it (other sweeps may have done the work)."""
        return limits.any_due(self.config, self.due_by)

    def refuse_rest(self, error: SmscCallRefused) -> Iterator[RefreshResult]:
        self.exhausted = True
        return iter(())


class Lane:
    """One account's part of a run: its settings, request slots and client, the source of its
    messages, and the queue its request threads take claimed messages from. Lanes never share
    pace; lanes of one login share its pause and its slots, and lanes at one site the site's
    slots (evenly, see ``Run._share``) and its error budget. A lane that stops (error 2 or 4, no slot in time,
    the site's error budget spent) stops alone."""

    def __init__(self, source: Listed | Due, lease: limits.SlotLease) -> None:
        self.config, self.source, self.lease = source.config, source, lease
        self.client = get_client(self.config)
        self.todo: queue.SimpleQueue = queue.SimpleQueue()  # (row, stamp, send_by) or None: stop
        self.stop = threading.Event()
        self.stopped_by: SmscCallRefused | None = None
        self.outstanding = 0  # claimed, answer not back yet
        self.workers = 0
        # error tokens (``limits.ERROR_BUDGET``) of the lease free for a request: each slot
        # came with one; an erroneous answer keeps its token, and another is taken if any is left
        self.tokens = threading.Semaphore(0)
        self.token_count = 0
        self.ran = bool(lease)  # had a slot at some point
        self.took = QUEUE_SPAN  # seconds per request, learnt as answers come (one queued at first)
        now = time.monotonic()
        self.topped_up = self.checked_open = now
        self.slot_deadline = now + self.config.slot_wait  # for a first slot
        self.next_try, self.slot_poll = now, Backoff()  # polling for a first slot
        self.last_send = math.inf  # no request starts later (the run's deadline, see Run)

    @property
    def finished(self) -> bool:
        return self.source.exhausted and not self.outstanding

    def ahead(self) -> int:
        """Requests to queue behind each slot: what SMSC answers in ``QUEUE_SPAN``, between 1
        and 16."""
        return max(1, min(16, int(QUEUE_SPAN / max(self.took, 0.001))))

    def halt(self, reason: SmscCallRefused) -> None:
        """Stop the lane (from any thread): no more claims, queued messages dropped unsent."""
        self.stopped_by = self.stopped_by or reason
        self.stop.set()


class Run:
    """One refresh run over one or more accounts (a :class:`Lane` each): claims messages just
    in time for a free request slot, asks SMSC from one thread per slot, and writes the answers
    in batches.

    The threads only talk to SMSC, taking claimed messages in order from their lane's queue;
    every database write happens in the calling thread (its transaction, its connection). The
    lanes are served in turn, so one account's backlog or pause never holds up another's.
    Messages are claimed only as fast as the slots can take them (a short queue, sized from how
    long SMSC takes), and a thread that gets one after ``limits.CLAIM_VALID_FOR`` drops it
    unsent, so the claim's stamp always covers the request. Free slots are taken up as they
    appear (other processes finished, a half-open login proved itself); a lane with no slot
    waits up to ``SLOT_WAIT`` for one; error 2 or 4 stops the lane of that account.

    With a ``deadline`` (``time.monotonic()``; a django-q2 worker's timeout) the run is over
    before it, writes included: no request starts later than the longest a request can take
    (:func:`longest_request`) plus ``FINISH_MARGIN`` before it, claiming stops just before
    that, and what was not claimed stays due (``out_of_time`` says so). Answers are written
    at least every ``FLUSH_SECONDS``, so a run killed anyway loses little more than what was
    in flight; requests queued but not yet sent are then dropped, not sent.
    """

    def __init__(self, lanes: list[Lane], deadline: float | None = None) -> None:
        self.lanes = lanes
        self.answers: queue.SimpleQueue = queue.SimpleQueue()  # _Fetched, from every lane
        self.answered = threading.Event()  # set after each put on ``answers``
        self._gate = _Gate()
        self._slot_poll = Backoff()  # sleeps while only lanes waiting for a slot are left
        self.out_of_time = False  # claiming stopped for the deadline while messages were left
        # answers taken off ``answers`` and not yet written: kept here, not in a local, so that
        # a run stopped from outside in the middle of anything still writes them
        self.unwritten: list[_Fetched] = []
        if deadline is not None:
            for lane in lanes:
                lane.last_send = deadline - longest_request(lane.config) - FINISH_MARGIN
                if lane.last_send <= time.monotonic():
                    logger.warning(
                        "account %r: the run's time limit leaves no time for a request (one may take "
                        "%g s, plus %g s to finish): raise the worker's timeout or lower TIMEOUT",
                        lane.config.name,
                        longest_request(lane.config),
                        FINISH_MARGIN,
                    )

    def run(self) -> Iterator[RefreshResult]:
        """The run's results as they are written. Signals that raise (django-q2's timeout,
        Ctrl-C) are let in only while it waits or while the caller holds a result (see
        :class:`_Gate`)."""
        with self._gate.closed():
            yield from self._loop()

    def _loop(self) -> Iterator[RefreshResult]:
        flush_at = math.inf  # when the oldest unwritten answer must be written
        size = sum(lane.config.max_concurrent_requests for lane in self.lanes)
        batch = self.lanes[0].config.chunk_size if self.lanes else 1  # CHUNK_SIZE is site-wide
        with ThreadPoolExecutor(max(size, 1), thread_name_prefix="smsc") as pool:
            try:
                for lane in self.lanes:
                    self._start(pool, lane, len(lane.lease))
                while True:
                    for lane in self.lanes:  # in turn: one claim per lane per round
                        yield from self._hand_out(self._feed(lane, pool))
                    if not any(lane.outstanding for lane in self.lanes):
                        if all(lane.finished for lane in self.lanes):
                            break
                        if self.unwritten:  # nothing in flight: write what came
                            yield from self._hand_out(self._write())
                        with self._gate.opened():
                            time.sleep(self._slot_poll.next())  # lanes await a slot
                        continue
                    came = self._collect(wait=1.0)
                    if came and len(self.unwritten) == len(came):
                        flush_at = time.monotonic() + FLUSH_SECONDS
                    for lane in self.lanes:
                        self._start(pool, lane, self._widen(lane, [f for f in came if f.lane is lane]))
                        if lane.finished and lane.lease:  # its site slots go to the other lanes
                            lane.lease.release()
                    if len(self.unwritten) >= batch or (self.unwritten and time.monotonic() >= flush_at):
                        yield from self._hand_out(self._write())
            except BaseException:
                # stopped from outside: django-q2's timeout raises SystemExit in this thread
                # (Ctrl-C, a caller that stops iterating) while it waited or the caller held a
                # result: write every answer that came, send nothing more, wait for the
                # requests in flight (their slots stay held until they end) and write their
                # answers too; each step on its own
                self._stop_workers()
                collect = partial(self._collect, wait=0)
                for step in (collect, self._write, pool.shutdown, collect, self._write):
                    try:
                        step()
                    except Exception:
                        logger.exception("stopping the run: %s failed", getattr(step, "__name__", step))
                raise
            finally:
                self._stop_workers()
        yield from self._hand_out(self._write())

    def _hand_out(self, results: Iterable[RefreshResult]) -> Iterator[RefreshResult]:
        """``results`` (computed with signals held), each yielded with them let in."""
        for result in results:
            with self._gate.opened():
                yield result

    def _write(self) -> list[RefreshResult]:
        """Write the unwritten answers (:meth:`_apply`); they stay unwritten if that fails."""
        results = self._apply(self.unwritten)
        self.unwritten = []
        return results

    def _stop_workers(self) -> None:
        """Every request thread ends after its current request; what is queued is dropped."""
        for lane in self.lanes:
            lane.stop.set()
            for _worker in range(lane.workers):
                lane.todo.put(None)
            lane.workers = 0

    def _start(self, pool: ThreadPoolExecutor, lane: Lane, count: int) -> None:
        for _slot in range(count):
            pool.submit(self._work, lane)
        lane.workers += count
        if count:
            lane.token_count += count
            lane.tokens.release(count)

    def _feed(self, lane: Lane, pool: ThreadPoolExecutor) -> Iterator[RefreshResult]:
        """Claim the lane's next messages if its slots have room; refuse the rest if it stopped."""
        waiting = not lane.lease and not lane.stop.is_set() and not lane.source.exhausted
        if waiting and time.monotonic() >= lane.next_try:
            self._await_slot(lane, pool)
        if (
            time.monotonic() + QUEUE_SPAN >= lane.last_send
            and not lane.source.exhausted
            and not lane.stop.is_set()
        ):
            # out of time: a message claimed now could not be asked before the deadline
            self.out_of_time = True
            yield from lane.source.refuse_rest(SmscBusy("the run's time was up; asked in a later run"))
        capacity, ahead = len(lane.lease), lane.ahead()
        if (
            capacity
            and not lane.stop.is_set()
            and not lane.source.exhausted
            and lane.outstanding <= capacity * (ahead + 2) // 2
        ):
            # a short queue behind each slot, refilled when half used: few, large claims
            # (each is a commit), none stale
            claimed, refused = self._claim(lane, capacity * (ahead + 1) - lane.outstanding)
            lane.outstanding += claimed
            yield from refused
        if lane.stop.is_set() and not lane.source.exhausted:
            yield from lane.source.refuse_rest(lane.stopped_by or SmscCircuitOpen("calls paused"))

    def _await_slot(self, lane: Lane, pool: ThreadPoolExecutor) -> None:
        """A lane without a slot (all held by other processes): take one as it comes free,
        give up after ``SLOT_WAIT``, or finish quietly when nothing is left to do."""
        try:
            added = lane.lease.top_up(self._share(lane))
        except SmscCircuitOpen as exc:  # paused meanwhile, or the site's errors 2 hold every slot
            lane.halt(exc)
            return
        if added:
            lane.ran = True
            self._start(pool, lane, added)
        elif not lane.source.still_needed():
            lane.source.exhausted = True
        elif time.monotonic() >= lane.slot_deadline and not any(
            other.lease for other in self._at_site(lane) if other is not lane
        ):  # no slot in time, and none held by this run's lanes at the site (they free them)
            lane.halt(limits.busy(lane.config))
        lane.next_try = time.monotonic() + lane.slot_poll.next()

    def _claim(self, lane: Lane, want: int) -> tuple[int, list[RefreshResult]]:
        if time.monotonic() - lane.checked_open > 1:  # paused by another process meanwhile?
            lane.checked_open = time.monotonic()
            try:
                limits.ensure_open(lane.config)
            except SmscCircuitOpen as exc:
                lane.halt(exc)
                return 0, []
        stamp, claimed, not_claimed = lane.source.claim(want)
        send_by = time.monotonic() + limits.CLAIM_VALID_FOR
        for row in claimed:
            lane.todo.put((row, stamp, send_by))
        return len(claimed), not_claimed

    def _at_site(self, lane: Lane) -> list[Lane]:
        return [other for other in self.lanes if other.config.site == lane.config.site and not other.finished]

    def _share(self, lane: Lane) -> int:
        """Slots the lane may hold: the run's unfinished lanes at one site share its slots."""
        return limits.site_share(lane.config, len(self._at_site(lane)))

    def _collect(self, wait: float) -> list[_Fetched]:
        """The answers that came back (waiting up to ``wait`` seconds for the first), learning from
        them how long SMSC takes. Erroneous answers are recorded at once
        (``limits.pause_after``: error tokens, an error 2's site slot, pauses for 2 and 4),
        before the slots that carried them can be released, and the lane's error tokens
        renewed."""
        if wait:
            with self._gate.opened():  # a signal may raise in this wait: nothing is taken yet
                self.answered.wait(wait)
        self.answered.clear()
        return self._take_answers()

    def _take_answers(self) -> list[_Fetched]:
        """:meth:`_collect`'s work once answers are there."""
        came: list[_Fetched] = []
        with contextlib.suppress(queue.Empty):
            while True:  # each kept on the run as it is taken off
                self.unwritten.append(self.answers.get_nowait())
                came.append(self.unwritten[-1])
        for item in came:
            item.lane.outstanding -= 1
            item.lane.source.answered(item.message, item.sent and limits.is_erroneous_request(item.answer))
            if item.sent:
                item.lane.took = 0.8 * item.lane.took + 0.2 * item.took
        for lane in self.lanes:
            errors = [
                f.answer for f in came if f.lane is lane and f.sent and limits.is_erroneous_request(f.answer)
            ]
            if errors:
                suspects = sum(1 for f in came if f.lane is lane and f.suspect)
                limits.pause_after(errors, lane.config, lane.lease, suspects=suspects)
            if errors or lane.token_count < len(lane.lease):
                self._renew_tokens(lane, len(errors))
        return came

    def _renew_tokens(self, lane: Lane, spent: int) -> None:
        """``spent`` of the lane's error tokens were kept by errors: take new ones for its
        slots; stop the lane when the site's error budget is spent."""
        lane.token_count -= spent
        if lane.stop.is_set() or not lane.lease:
            return
        renewed = lane.lease.renew_tokens(len(lane.lease) - lane.token_count)
        if renewed:
            lane.token_count += renewed
            lane.tokens.release(renewed)
        elif lane.token_count <= 0 and (refusal := limits.out_of_error_budget(lane.config)):
            lane.halt(refusal)

    def _work(self, lane: Lane) -> None:
        """One per leased slot, in a pool thread: SMSC only, no database."""
        while (item := lane.todo.get()) is not None:
            self.answers.put(self._fetch(lane, *item))
            self.answered.set()

    def _fetch(self, lane: Lane, row: SentMessage, stamp: datetime, send_by: float) -> _Fetched:
        """Never raises: whatever happens is the message's answer."""
        while True:
            refused = self._refusal(lane, row, send_by)
            if refused is not None:
                return _Fetched(lane, row, stamp, refused, timezone.now(), sent=False)
            if lane.tokens.acquire(timeout=0.05):  # an error token for this request
                if (refused := self._refusal(lane, row, send_by)) is None:  # still true?
                    return self._send(lane, row, stamp)
                lane.tokens.release()

    def _refusal(self, lane: Lane, row: SentMessage, send_by: float) -> SmscCallRefused | None:
        """Why a claimed message must not be sent now, if it must not."""
        if lane.stop.is_set():
            return lane.stopped_by or SmscCircuitOpen("calls paused earlier in this run")
        if lane.source.holds_back(row):
            return SmscCircuitOpen(UNPROVEN_HELD_BACK)
        if time.monotonic() > send_by:
            return SmscBusy("no request slot came free in time; asked again later")
        if time.monotonic() > lane.last_send:
            return SmscBusy("the run's time was up; asked in a later run")
        return None

    def _send(self, lane: Lane, row: SentMessage, stamp: datetime) -> _Fetched:
        """One request, holding one of the lane's error tokens: an answer that is no error
        gives it back at once; an erroneous one keeps it (``_renew_tokens`` takes another)."""
        answer: StatusResult | SmscError
        unproved, started = lane.lease.proving, time.monotonic()
        try:
            answer = lane.client.get_status(row.smsc_id, row.phone)
        except SmscError as exc:
            if exc.stops_login:
                lane.halt(SmscCircuitOpen(f"calls paused after SMSC error {exc.code}", code=exc.code))
            answer = exc
        except Exception as exc:  # one message's trouble stays its own
            logger.exception("refreshing message %s failed", row.pk)
            answer = SmscError(f"unexpected {type(exc).__name__}; see the log")
        # an unreadable answer to a login not yet proved may have been an error 2: counted as
        # one (see ``_collect``), and no more requests of this login in this run
        suspect = unproved and limits.may_be_auth_error(answer)
        if suspect:
            lane.halt(SmscCircuitOpen(UNREADABLE_WHILE_UNPROVED))
        if not limits.is_erroneous_request(answer):
            lane.tokens.release()
        took = time.monotonic() - started
        return _Fetched(lane, row, stamp, answer, timezone.now(), sent=True, took=took, suspect=suspect)

    def _widen(self, lane: Lane, came: list[_Fetched]) -> int:
        """Slots added to the lane's lease: at once when the run's first answer proved the
        login (until then one request, see ``limits.SlotLease``), otherwise looked for every
        second (slots that other processes released)."""
        proved = lane.lease.proving and any(f.sent and limits.proves_login(f.answer) for f in came)
        if proved:
            lane.lease.prove()
        share = self._share(lane)
        full = len(lane.lease) >= share
        if lane.lease.proving or lane.stop.is_set() or full or lane.source.exhausted:
            return 0
        if not (proved or time.monotonic() - lane.topped_up > 1):
            return 0
        lane.topped_up = time.monotonic()
        try:
            return lane.lease.top_up(share)
        except SmscCircuitOpen:  # the slots held go on; _claim halts the lane if it is paused
            return 0

    def _apply(self, fetched: list[_Fetched]) -> list[RefreshResult]:
        """Write a batch of answers in one transaction; one row's failure costs one row."""
        if not fetched:
            return []
        results: dict[int, RefreshResult] = {}
        changes: dict[int, tuple[int | None, StatusSnapshot]] = {}  # pk -> (old status, snapshot)
        configs = {f.message.pk: f.lane.config for f in fetched}
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
                results[row.pk] = _apply_one(row, item.answer, now, item.lane.config)
                if (snapshot := results[row.pk].snapshot) is not None:
                    changes[row.pk] = (old_status, snapshot)
            snapshots = {pk: snapshot for pk, (_old, snapshot) in changes.items()}
            for pk, error in _write([rows[pk] for pk in results], snapshots, now, configs).items():
                results[pk] = RefreshResult(rows[pk], Outcome.FAILED, error=error)
                changes.pop(pk, None)
            for pk, (old_status, snapshot) in changes.items():
                # robust: a receiver's failure is logged and costs no other message anything
                transaction.on_commit(_announcer(rows[pk], old_status, snapshot), robust=True)
        return list(results.values())


#: Signals whose Python handlers raise in the main thread: django-q2's timeout (SIGALRM), Ctrl-C
HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGALRM", "SIGINT") if hasattr(signal, name))


class _Gate:
    """Where in a run's thread the handlers of ``HELD_SIGNALS`` may raise: only while it waits
    or while its caller holds a result, never while it moves answers (off the queue, into the
    database) or talks to the database. An exception raised between taking an answer and
    keeping it lost the answer, and one raised halfway through a query left the connection
    unusable for writing the rest (CI: one answer lost; a run in a hundred lost all).

    While the gate is closed, a signal is noted and its handler (django-q2's, Python's for
    Ctrl-C) runs at the next wait or result, within a second. Masking the signal instead
    would not do: Python runs handlers in the main thread whichever thread the signal hits.
    Only Python-level handlers are deferred, and only in the main thread, where they run."""

    def __init__(self) -> None:
        self.handlers: dict[int, Callable] = {}  # the handlers in place before the run
        self.pending: list[tuple[int, Any]] = []
        self.is_open = False

    def _note(self, signum: int, frame: Any) -> None:
        if self.is_open:
            self.handlers[signum](signum, frame)
        else:
            self.pending.append((signum, frame))

    def _fire(self) -> None:
        while self.pending:
            signum, frame = self.pending.pop(0)
            self.handlers[signum](signum, frame)

    @contextlib.contextmanager
    def closed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        for signum in HELD_SIGNALS:
            handler = signal.getsignal(signum)
            if callable(handler):
                self.handlers[signum] = handler
                signal.signal(signum, self._note)
        try:
            yield
        finally:
            for signum, handler in self.handlers.items():
                signal.signal(signum, handler)
            if sys.exc_info()[0] is None:  # ended: what came in the last steps raises now
                self._fire()

    @contextlib.contextmanager
    def opened(self) -> Iterator[None]:
        self.is_open = True
        try:
            self._fire()
            yield
        finally:
            self.is_open = False


def longest_request(config: SmscSettings) -> float:
    """The longest a status request can take: connecting to each endpoint it may fail over to
    (before the request could arrive), then ``TIMEOUT`` for the answer."""
    return config.connect_timeout * len(config.endpoints) + config.timeout


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
    rows: list[SentMessage],
    snapshots: dict[int, StatusSnapshot],
    now: datetime,
    configs: dict[int, SmscSettings],
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
                policy.record_error(row, error, now, configs[row.pk])
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
