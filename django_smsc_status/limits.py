"""SMSC's limits, kept in the database so they hold across processes and machines.

* **Request slots**: at most ``MAX_CONCURRENT_REQUESTS`` requests of one login in flight. A
  caller leases slots (rows of :class:`RequestSlot`) with a conditional UPDATE and runs at most
  one request per slot at a time. A heartbeat thread renews the lease every few seconds for as
  long as the caller lives, so a lease never runs out under a live request, and a killed
  process's slots are free again within ``LEASE_SECONDS``.
* **Half-open**: until a login has had an answer from SMSC since its first use or since its
  breaker opened, only one slot of it can be leased (one request in flight, across every
  process): a wrong password costs one call, not four.
* **Authorisation budget**: SMSC blocks the calling IP for 30 minutes after 5 errors 2 within
  30 minutes. Every error 2 is recorded (:class:`AuthFailure`); the slots that may be leased
  are capped so that the requests in flight can never make the fifth.
* **Pause** (circuit breaker): after error 2 every call for the login stops until the breaker
  is reset or ``BREAKER_TIMEOUT`` passes; after error 4 calls pause for ``IP_BLOCK_BACKOFF``.
* **Per message** (5 checks a minute): :func:`claim_messages` stamps ``last_checked_at`` with a
  conditional UPDATE, to the latest moment the request may reach SMSC (see there).

Conditional UPDATEs (write first, never read-then-write) are atomic on PostgreSQL and do not
trip SQLite's "database is locked" on lock upgrades.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from .conf import SmscSettings
from .exceptions import (
    SmscAuthError,
    SmscBusy,
    SmscCallRefused,
    SmscCircuitOpen,
    SmscError,
    SmscInvalidRequest,
    SmscIpBlocked,
    SmscTransportError,
)
from .models import LOGIN_PROOF_SECONDS, AccountState, AuthFailure, RequestSlot, SentMessage

logger = logging.getLogger(__name__)

AUTH_ERROR_LIMIT = 5  # SMSC blocks the IP at the fifth error 2 ...
AUTH_ERROR_WINDOW = 1800  # ... within 30 minutes
LEASE_SECONDS = 12  # a dead process's slots are free again after at most this
HEARTBEAT_SECONDS = 3
CLAIM_VALID_FOR = 2.0  # a claimed message must be on its way to SMSC within this


# -- pause / circuit breaker ---------------------------------------------------------------------


def ensure_open(account: str, state: AccountState | None = None) -> None:
    """Raise :class:`SmscCircuitOpen` while calls for ``account`` are paused."""
    if state is None:
        state = AccountState.objects.filter(account=account).first()
    if state is not None and state.is_paused:
        raise SmscCircuitOpen(
            f"calls to SMSC are paused until {state.paused_until:%Y-%m-%d %H:%M:%S} UTC "
            f"after SMSC error {state.pause_code}",
            code=state.pause_code,
            until=state.paused_until,
        )


def pause(account: str, code: int, seconds: float) -> None:
    """Stop every call for ``account`` for ``seconds`` because SMSC answered ``code``.

    After error 2 the login is half-open again: it must prove itself with one request."""
    until = timezone.now() + timedelta(seconds=seconds)
    defaults = {"paused_until": until, "pause_code": code}
    if code == 2:
        defaults["verified_at"] = None
    AccountState.objects.update_or_create(account=account, defaults=defaults)
    logger.error("SMSC error %s for login %s: all calls paused until %s", code, account, until)


def pause_after(errors: list[SmscError], config: SmscSettings) -> None:
    """Record every error 2 among ``errors`` (the IP-block budget), then pause the login if
    any must stop every call: 2 (breaker, wins) or 4 (IP blocked)."""
    auth = [e for e in errors if isinstance(e, SmscAuthError)]
    if auth:
        count_auth_failures(config, len(auth))
        pause(config.limits_key, 2, config.breaker_timeout)
    elif any(isinstance(e, SmscIpBlocked) for e in errors):
        pause(config.limits_key, 4, config.ip_block_backoff)


def count_auth_failures(config: SmscSettings, count: int) -> None:
    """Record ``count`` errors 2 (certain or possible) against the site's authorisation budget."""
    now = timezone.now()
    failures = [AuthFailure(account=config.site_key, occurred_at=now) for _ in range(count)]
    AuthFailure.objects.bulk_create(failures)
    AuthFailure.objects.filter(
        account=config.site_key, occurred_at__lt=now - timedelta(seconds=AUTH_ERROR_WINDOW)
    ).delete()


def reset(account: str) -> bool:
    """Close the breaker for ``account`` (after fixing the credentials). True if it was open.

    The login stays half-open, and the authorisation budget still applies: see
    :func:`auth_budget`."""
    return bool(
        AccountState.objects.filter(account=account, paused_until__isnull=False).update(
            paused_until=None, pause_code=None
        )
    )


def proves_login(answer: object) -> bool:
    """Any answer from SMSC but error 2 or 4 shows that the credentials work."""
    return not isinstance(answer, (SmscAuthError, SmscIpBlocked)) and (
        not isinstance(answer, SmscError) or answer.code is not None
    )


def may_be_auth_error(answer: object) -> bool:
    """Whether a failed request may have been an error 2 at SMSC without our knowing: it may
    have reached SMSC (not refused by us, not failed before sending) and no answer of SMSC's
    was read (garbled, unexpected, cut off, timed out). From a login not yet proved, such a
    request is counted as an error 2 (the safe reading): see ``engine`` and ``service``."""
    if not isinstance(answer, SmscError) or answer.code is not None:
        return False  # SMSC's own answer: read, and proving or stopping the login as it says
    if isinstance(answer, (SmscCallRefused, SmscInvalidRequest)):
        return False  # nothing was sent
    return not (isinstance(answer, SmscTransportError) and answer.before_sending)


def mark_verified(account: str) -> None:
    """The login answered: lift the half-open limit (one request in flight) for
    ``LOGIN_PROOF_SECONDS``."""
    now = timezone.now()
    stale = Q(verified_at__isnull=True) | Q(verified_at__lt=now - timedelta(seconds=LOGIN_PROOF_SECONDS))
    AccountState.objects.filter(stale, account=account).update(verified_at=now)


# -- authorisation budget ------------------------------------------------------------------------


def auth_budget(account: str) -> tuple[int, datetime | None, int]:
    """How many requests may be in flight at a site (``SmscSettings.site_key``: SMSC blocks
    the calling IP after 5 errors 2 of *any* logins there) without risking that IP block;
    when none may, the moment one may again; and the errors 2 counted within the window."""
    now = timezone.now()
    failures = list(
        AuthFailure.objects.filter(
            account=account,
            occurred_at__gte=now - timedelta(seconds=AUTH_ERROR_WINDOW),
        )
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
    )
    budget = AUTH_ERROR_LIMIT - 1 - len(failures)
    if budget > 0:
        return budget, None, len(failures)
    # One request is allowed once all but AUTH_ERROR_LIMIT - 2 failures have left the window.
    return 0, failures[-budget] + timedelta(seconds=AUTH_ERROR_WINDOW), len(failures)


@dataclass(frozen=True)
class AccountStatus:
    """What the limits say about a login now (admin, command, API)."""

    account: str
    paused_until: datetime | None  # the breaker (error 2) or an IP block (error 4)
    pause_code: int | None
    half_open: bool  # one request at a time until SMSC answers
    auth_errors: int  # SMSC errors 2 at the account's site within the last 30 minutes
    next_call_at: datetime | None  # None: a call is allowed now


def account_status(config: SmscSettings) -> AccountStatus:
    account = config.limits_key
    state = AccountState.objects.filter(account=account).first()
    paused = state.paused_until if state is not None and state.is_paused else None
    _budget, budget_at, errors = auth_budget(config.site_key)
    waits = [t for t in (paused, budget_at) if t is not None]
    return AccountStatus(
        account=account,
        paused_until=paused,
        pause_code=state.pause_code if state is not None and paused else None,
        half_open=state is None or state.is_half_open,
        auth_errors=errors,
        next_call_at=max(waits) if waits else None,
    )


def _usable_slots(config: SmscSettings) -> tuple[int, bool, int]:
    """Slots that may be leased now, whether the login is half-open, and the site's
    authorisation budget; raises while paused or while another error 2 could get the IP
    blocked."""
    account = config.limits_key
    state, _ = AccountState.objects.get_or_create(account=account)
    ensure_open(account, state)
    budget, allowed_at, _errors = auth_budget(config.site_key)
    if not budget:
        raise SmscCircuitOpen(
            f"not calling SMSC: {AUTH_ERROR_LIMIT - 1} authorisation errors (SMSC error 2) within "
            f"30 minutes, and a fifth would get this server's IP blocked; next try allowed at "
            f"{allowed_at:%Y-%m-%d %H:%M:%S} UTC",
            code=2,
            until=allowed_at,
        )
    half_open = state.is_half_open
    return (1 if half_open else min(budget, config.max_concurrent_requests)), half_open, budget


# -- request slots -------------------------------------------------------------------------------


class SlotLease:
    """Slots held by this caller; use as a context manager. ``len()`` is the number held.

    A lease of a half-open login (no answer from SMSC yet, or none for ``LOGIN_PROOF_SECONDS``)
    is *proving*: one slot, and one of its site's probe slots (as many as the site's
    authorisation budget allows), until :meth:`prove` says the login answered. So however many
    logins and processes start at once, requests with credentials nobody has seen work lately
    never outnumber the errors 2 the site can still afford, and a password changed since then
    costs one request, not four.

    A daemon thread renews the lease while it is held (its own database connection), so the
    lease does not depend on how fast the caller consumes results."""

    def __init__(self, config: SmscSettings, numbers: list[int], token: str, half_open: bool) -> None:
        self.config, self.account = config, config.limits_key
        self.numbers, self.token, self.half_open = numbers, token, half_open
        self.proving = half_open
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="smsc-lease", daemon=True)
        self._heartbeat.start()

    def __len__(self) -> int:
        return len(self.numbers)

    def __enter__(self) -> SlotLease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _mine(self):
        """Every row this lease holds: the login's slots and the site's probe slot."""
        return RequestSlot.objects.filter(holder=self.token)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                try:
                    self._mine().update(expires_at=timezone.now() + timedelta(seconds=LEASE_SECONDS))
                except DatabaseError:
                    logger.warning("could not renew the request slots of %s", self.account, exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only

    def prove(self) -> None:
        """The login answered: lift its half-open limit and give back the probe slot, so more
        slots may follow. Nothing to do for a lease that was not proving."""
        if self.proving:
            self.proving = False
            _give_back_probe(self.config, self.token)
            mark_verified(self.account)

    def top_up(self) -> int:
        """Lease more free slots, without waiting, up to what the login may use now (a first
        one, or after the login proved itself, or slots another process released). Returns
        how many."""
        if self._stop.is_set() or (self.proving and self.numbers):
            return 0
        try:
            if self.proving:
                added, self.half_open = _take(self.config, 1, self.token)
                self.numbers += added
                return len(added)
            usable, self.half_open, _budget = _usable_slots(self.config)
        except SmscCircuitOpen:
            return 0
        added = _lease(
            self.account,
            [n for n in range(usable) if n not in self.numbers],
            usable - len(self.numbers),
            self.token,
        )
        self.numbers += added
        return len(added)

    def release(self) -> None:
        self._stop.set()
        self._mine().update(holder="", expires_at=None)
        self.numbers = []


def _lease(account: str, numbers: list[int], want: int, token: str) -> list[int]:
    """Take up to ``want`` of the free slots ``numbers``, in random order (less contention)."""
    now = timezone.now()
    free = Q(expires_at__isnull=True) | Q(expires_at__lt=now)
    taken: list[int] = []
    for number in random.sample(numbers, len(numbers)):
        if len(taken) >= want:
            break
        if RequestSlot.objects.filter(free, account=account, number=number).update(
            holder=token, expires_at=now + timedelta(seconds=LEASE_SECONDS)
        ):
            taken.append(number)
    return taken


def open_lease(config: SmscSettings, want: int) -> SlotLease:
    """Lease up to ``want`` free request slots of the login now (one while it is half-open),
    without waiting: the lease may hold none (then :meth:`~SlotLease.top_up` it as slots come
    free). Raises :class:`SmscCircuitOpen` while the login is paused or its site out of
    authorisation budget."""
    token = uuid.uuid4().hex
    taken, half_open = _take(config, want, token)
    return SlotLease(config, taken, token, half_open)


def acquire_slots(config: SmscSettings, want: int = 1) -> SlotLease:
    """Lease up to ``want`` request slots of the login (one while it is half-open), waiting up
    to ``SLOT_WAIT`` for one. Raises :class:`SmscCircuitOpen` while the login is paused or its
    site out of authorisation budget, :class:`SmscBusy` if no slot frees up in time."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + config.slot_wait
    pause = 0.02
    while True:
        taken, half_open = _take(config, want, token)
        if taken:
            return SlotLease(config, taken, token, half_open)
        if time.monotonic() >= deadline:
            raise busy(config)
        time.sleep(pause * (0.5 + random.random()))  # waiting is cheap for the others, too
        pause = min(pause * 1.5, 0.25)


def busy(config: SmscSettings) -> SmscBusy:
    return SmscBusy(
        f"all request slots of {config.limits_key} stayed busy for {config.slot_wait:g} s",
    )


def _take(config: SmscSettings, want: int, token: str) -> tuple[list[int], bool]:
    """One try at up to ``want`` usable slots of the login: ``(numbers taken, half-open)``. A
    half-open login needs one of its site's probe slots first (as many as the site's
    authorisation budget allows); nothing is kept unless a login slot was taken."""
    usable, half_open, budget = _usable_slots(config)
    if half_open and not _lease_rows(config.site_key, budget, 1, token, rows=AUTH_ERROR_LIMIT - 1):
        return [], half_open
    taken = _lease_rows(config.limits_key, usable, want, token, rows=config.max_concurrent_requests)
    if not taken and half_open:
        _give_back_probe(config, token)
    return taken, half_open


def _give_back_probe(config: SmscSettings, token: str) -> None:
    RequestSlot.objects.filter(account=config.site_key, holder=token).update(holder="", expires_at=None)


def _lease_rows(account: str, usable: int, want: int, token: str, rows: int) -> list[int]:
    """:func:`_lease` of slots ``0..usable-1`` of ``account``, making its ``rows`` slot rows
    on first use."""
    taken = _lease(account, list(range(usable)), max(1, min(want, usable)), token)
    if not taken and not RequestSlot.objects.filter(account=account).exists():
        RequestSlot.objects.bulk_create(
            [RequestSlot(account=account, number=n) for n in range(rows)], ignore_conflicts=True
        )
        taken = _lease(account, list(range(usable)), max(1, min(want, usable)), token)
    return taken


# -- per message: at most 5 checks a minute --------------------------------------------------------


def claim_horizon(config: SmscSettings) -> float:
    """Seconds after a claim by which its request has certainly reached SMSC or been dropped:
    a worker sends only within ``CLAIM_VALID_FOR``, and each endpoint it fails over to before
    the request could arrive costs at most ``CONNECT_TIMEOUT``."""
    return CLAIM_VALID_FOR + config.connect_timeout * len(config.endpoints)


def claim_messages(
    pks: list[int], config: SmscSettings
) -> tuple[datetime, list[SentMessage], list[SentMessage]]:
    """Claim the messages ``pks`` that may be asked about now: ``(stamp, claimed, not claimed)``.

    ``last_checked_at`` is set, with one conditional UPDATE, to ``stamp``: the latest moment
    the request may reach SMSC (:func:`claim_horizon`). A message may be claimed again only
    ``MIN_CHECK_INTERVAL`` after that, so two requests about one message are at least that far
    apart at SMSC however processes interleave and however long a claim waits for a slot. When
    the answer is written, the stamp becomes the moment the answer arrived (no later than
    the stamp, and no earlier than the request reached SMSC).
    """
    stamp, free = _claim_window(config)
    SentMessage.objects.filter(free, pk__in=pks).update(last_checked_at=stamp)
    rows = SentMessage.objects.in_bulk(pks)
    claimed = [rows[pk] for pk in pks if pk in rows and rows[pk].last_checked_at == stamp]
    taken = [rows[pk] for pk in pks if pk in rows and rows[pk].last_checked_at != stamp]
    return stamp, claimed, taken


def any_due(config: SmscSettings, due_by: datetime) -> bool:
    """Whether a message of the account due by ``due_by`` is free to be claimed now."""
    return SentMessage.objects.due(due_by).filter(_claim_window(config)[1], account=config.name).exists()


def claim_due(config: SmscSettings, count: int, due_by: datetime) -> tuple[datetime, list[SentMessage]]:
    """Claim up to ``count`` of the account's messages due by ``due_by`` that nobody holds,
    most overdue first (as :func:`claim_messages`). Rows another process is claiming right now
    are skipped (``SKIP LOCKED``) instead of waited for, so concurrent sweeps share the due set."""
    stamp, free = _claim_window(config)
    with transaction.atomic():
        pks = list(
            SentMessage.objects.due(due_by)
            .filter(free, account=config.name)
            .order_by("next_check_at", "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:count]
        )
        SentMessage.objects.filter(pk__in=pks).update(last_checked_at=stamp)
    rows = SentMessage.objects.in_bulk(pks)
    return stamp, [rows[pk] for pk in pks if pk in rows]


def _claim_window(config: SmscSettings) -> tuple[datetime, Q]:
    """The stamp a claim writes now, and the condition of a message free to be claimed."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=config.min_check_interval)
    free = Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=cutoff)
    return now + timedelta(seconds=claim_horizon(config)), free
