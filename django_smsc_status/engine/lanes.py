"""What a run works through: one :class:`Lane` per SMSC account, with its request slots and a
source of that account's messages (:class:`Listed` for a caller's selection, :class:`Due` for
the sweep, within an :class:`Allowance`), claimed just before a slot can take them.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from .. import limits
from ..backoff import Backoff
from ..conf import SmscSettings
from ..exceptions import SmscCallRefused, SmscError
from ..models import SentMessage
from ..outcomes import Outcome, RefreshResult
from ..policy import retry_after
from ..soap import StatusResult, get_client

#: Seconds of requests queued behind each slot: a quarter of the time a claim stays valid, so a
#: claimed message is asked well within it (and claiming stops this long before a deadline).
QUEUE_SPAN = limits.CLAIM_VALID_FOR / 4


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
