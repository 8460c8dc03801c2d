"""SMSC's per-login limits, kept in the database so they hold across processes and machines.

* **Request slots**: at most ``MAX_CONCURRENT_REQUESTS`` requests of one login in flight. A
  caller leases slots (rows of :class:`RequestSlot`) with a conditional UPDATE, runs at most one
  request per slot at a time, renews the lease while working and frees it at the end. A crashed
  process's lease simply expires.
* **Pause** (circuit breaker): after error 2 every call for the login stops until the breaker
  is reset or ``BREAKER_TIMEOUT`` passes (retrying bad credentials gets the IP blocked); after
  error 4 calls pause for ``IP_BLOCK_BACKOFF``.
* The per-message limit (5 checks a minute) lives on the message rows: see
  ``service._claim`` and ``MIN_CHECK_INTERVAL``.

Conditional UPDATEs (write first, never read-then-write) are atomic on PostgreSQL and do not
trip SQLite's "database is locked" on lock upgrades.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from .conf import SmscSettings
from .exceptions import SmscAuthError, SmscBusy, SmscCircuitOpen, SmscError, SmscIpBlocked
from .models import AccountState, RequestSlot

logger = logging.getLogger(__name__)


# -- pause / circuit breaker ---------------------------------------------------------------------


def ensure_open(account: str) -> None:
    """Raise :class:`SmscCircuitOpen` while calls for ``account`` are paused."""
    state = AccountState.objects.filter(account=account, paused_until__gt=timezone.now()).first()
    if state is not None:
        raise SmscCircuitOpen(
            f"calls to SMSC are paused until {state.paused_until:%Y-%m-%d %H:%M:%S} UTC "
            f"after SMSC error {state.pause_code}", code=state.pause_code, until=state.paused_until,
        )


def pause(account: str, code: int, seconds: float) -> None:
    """Stop every call for ``account`` for ``seconds`` because SMSC answered ``code``."""
    until = timezone.now() + timedelta(seconds=seconds)
    AccountState.objects.update_or_create(account=account,
                                          defaults={"paused_until": until, "pause_code": code})
    logger.error("SMSC error %s for account %s: all calls paused until %s", code, account, until)


def pause_after(error: SmscError, config: SmscSettings) -> None:
    """Pause the login when ``error`` must stop every call: 2 (breaker), 4 (IP blocked)."""
    if isinstance(error, SmscAuthError):
        pause(config.account, 2, config.breaker_timeout)
    elif isinstance(error, SmscIpBlocked):
        pause(config.account, 4, config.ip_block_backoff)


def reset(account: str) -> bool:
    """Close the breaker for ``account`` (after fixing the credentials). True if it was open."""
    return bool(AccountState.objects.filter(account=account, paused_until__isnull=False)
                .update(paused_until=None, pause_code=None))


# -- request slots -------------------------------------------------------------------------------


class SlotLease:
    """Slots held by this caller; use as a context manager. ``len()`` is the number held."""

    def __init__(self, account: str, numbers: list[int], token: str, lease: float) -> None:
        self.account, self.numbers, self.token, self.lease = account, numbers, token, lease
        self._renewed = time.monotonic()

    def __len__(self) -> int:
        return len(self.numbers)

    def __enter__(self) -> SlotLease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _mine(self):
        return RequestSlot.objects.filter(account=self.account, number__in=self.numbers,
                                          holder=self.token)

    def renew_if_needed(self) -> None:
        """Extend the lease once half of it has passed (a cheap no-op otherwise)."""
        if time.monotonic() - self._renewed > self.lease / 2:
            self._mine().update(expires_at=timezone.now() + timedelta(seconds=self.lease))
            self._renewed = time.monotonic()

    def release(self) -> None:
        if self.numbers:
            self._mine().update(holder="", expires_at=None)
            self.numbers = []


def acquire_slots(config: SmscSettings, want: int) -> SlotLease:
    """Lease up to ``want`` request slots of the login, waiting up to ``SLOT_WAIT`` for one.

    Returns as soon as at least one slot is free (callers work with what they get);
    raises :class:`SmscBusy` if none frees up in time.
    """
    account, total = config.account, config.max_concurrent_requests
    want = max(1, min(want, total))
    # Long enough for one request on every endpoint, renewed while the caller works.
    lease = (config.connect_timeout + config.timeout) * len(config.endpoints) + 30
    token = uuid.uuid4().hex
    deadline = time.monotonic() + config.slot_wait
    rows_checked = False
    while True:
        now = timezone.now()
        free = Q(expires_at__isnull=True) | Q(expires_at__lt=now)
        taken: list[int] = []
        for number in random.sample(range(total), total):  # spread contention over the rows
            if len(taken) == want:
                break
            if RequestSlot.objects.filter(free, account=account, number=number).update(
                holder=token, expires_at=now + timedelta(seconds=lease)
            ):
                taken.append(number)
        if taken:
            return SlotLease(account, taken, token, lease)
        if not rows_checked:  # first use of this login (or slots were deleted): make the rows
            rows_checked = True
            RequestSlot.objects.bulk_create(
                [RequestSlot(account=account, number=n) for n in range(total)], ignore_conflicts=True
            )
            continue
        if time.monotonic() >= deadline:
            raise SmscBusy(f"all {total} request slots of {account} stayed busy for "
                           f"{config.slot_wait:g} s")
        time.sleep(0.02 + random.random() * 0.05)
