"""The run loop: :class:`Run` serves its lanes in turn from the calling thread, one request
thread per leased slot, and writes the answers in batches (``writes``); with a deadline it
stops claiming in time to finish (:func:`longest_request`, ``FINISH_MARGIN``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from .. import limits, policy, push
from ..backoff import Backoff
from ..conf import SmscSettings
from ..exceptions import SmscBusy, SmscCallRefused, SmscCircuitOpen, SmscError
from ..models import SentMessage, StatusSnapshot
from ..outcomes import Outcome, RefreshResult
from ..soap import StatusResult, send_before
from .gate import _Gate
from .lanes import QUEUE_SPAN, Lane, _Fetched
from .writes import _announcer, _apply_one, _write

logger = logging.getLogger(__name__)

FINISH_MARGIN = 2.0  # seconds a run with a deadline keeps for its last writes and releases
SEND_MARGIN = 0.5  # seconds before the claim's stamp by which a request is written at the latest
FLUSH_SECONDS = 1.0  # answers wait at most this long to be written (fewer lost if killed)
UNREADABLE_WHILE_UNPROVED = (
    "not asking SMSC again in this run: an answer to a login not yet proved could not be read, "
    "so it was counted as a possible SMSC error 2"
)
UNPROVEN_HELD_BACK = (
    "not asked in this sweep: messages without a good answer from SMSC have spent their part "
    "of the site's error budget"
)


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
        # written by the stamp at the latest (less a moment for the bytes to travel), as the
        # claim rules assume: a slow connect or a resend after it drops the request unsent
        send_by = started + (stamp - timezone.now()).total_seconds() - SEND_MARGIN
        try:
            with send_before(send_by):
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
        pushes = {config.name: push.arriving(config) for config in set(configs.values())}
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
                config = item.lane.config
                results[row.pk] = _apply_one(row, item.answer, now, config, pushes[config.name])
                if not isinstance(item.answer, SmscError):  # an error's backoff stands (9: a minute)
                    claimed_at = item.stamp - timedelta(seconds=limits.claim_horizon(config))
                    policy.keep_push(row, claimed_at, now, config)
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


def longest_request(config: SmscSettings) -> float:
    """The longest a status request can take: connecting to each endpoint it may fail over to
    (before the request could arrive), then ``TIMEOUT`` for the answer."""
    return config.connect_timeout * len(config.endpoints) + config.timeout
