"""SMSC's limits, kept in the database so they hold across processes and machines.

* **Request slots**: every request in flight holds one slot of its login at its site (at most
  ``MAX_CONCURRENT_REQUESTS``) and one of its site's 4 slots, across its logins. A caller
  leases slots (rows of :class:`RequestSlot`) with conditional UPDATEs and runs at most one
  request per slot at a time. A heartbeat thread renews the lease every few seconds for as
  long as the caller lives, so a lease never runs out under a live request, and a killed
  process's slots are free again within ``SLOT_LEASE`` seconds (renewed every quarter of it).
* **Authorisation budget**: SMSC blocks the calling IP for 30 minutes after 5 errors 2 within
  30 minutes, whichever logins made them. A site slot whose request got error 2 stays taken
  for those 30 minutes, so requests in flight at a site (across its logins and processes,
  each login capped at ``MAX_CONCURRENT_REQUESTS``) plus its errors 2 within the window never
  exceed the site's 4 slots: the requests in flight cannot make the fifth, as long as every
  error 2 is known. An answer that could not be read may have been one: from a half-open
  login it is counted as one (:func:`may_be_auth_error`); from a login proved within the last
  ``LOGIN_PROOF_SECONDS`` it is not.
* **Error budget**: SMSC blocks the calling IP for 10 minutes after 100 erroneous requests
  within 10 minutes. Each site has ``ERROR_BUDGET`` (50) error tokens: a request in flight
  holds one, and an answer that is an error (any error, or no answer) keeps it for 10 minutes.
  So at most 50 erroneous requests per site in any 10 minutes, across processes. Messages that
  never had a good answer may only spend the budget down to ``ERROR_RESERVE`` (see
  :func:`claim_due`): a flood of unknown ids cannot hold up the messages SMSC knows.
* **Half-open**: until a login has had an answer from SMSC at a site since its first use there
  or since its breaker opened, and again when its last answer is older than
  ``LOGIN_PROOF_SECONDS`` (5 minutes), only one slot of it can be leased (one request in
  flight, across every process): a wrong password costs one call, not four.
* **Pause** (circuit breaker): after error 2 every call for the login at that site stops until
  the breaker is reset or ``BREAKER_TIMEOUT`` passes; after error 4 calls pause for
  ``IP_BLOCK_BACKOFF``. A lease checks the pause *after* taking its slots, so the request that
  held a slot before (and paused the login) is always seen.
* **Per message** (5 checks a minute): :func:`claim_messages` stamps ``last_checked_at`` with a
  conditional UPDATE, to the latest moment the request may reach SMSC (see there).

A login's state (slots, breaker, half-open) is kept per site and login (``SmscSettings.site``,
``SmscSettings.limits_login``): SMSC counts one login at two sites separately. Conditional
UPDATEs (write first, never read-then-write) are atomic on PostgreSQL and do not trip SQLite's
"database is locked" on lock upgrades.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard

from django.db import DatabaseError, connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .backoff import Backoff
from .codes import MessageStatus
from .conf import SmscSettings
from .exceptions import (
    SmscAuthError,
    SmscBusy,
    SmscCallRefused,
    SmscCircuitOpen,
    SmscError,
    SmscInvalidRequest,
    SmscTransportError,
)
from .models import LOGIN_PROOF_SECONDS, AccountState, RequestSlot, SentMessage, SlotKind

logger = logging.getLogger(__name__)

AUTH_ERROR_LIMIT = 5  # SMSC blocks the IP at the fifth error 2 ...
AUTH_ERROR_WINDOW = 1800  # ... within 30 minutes
SITE_SLOTS = AUTH_ERROR_LIMIT - 1  # per site: requests in flight + errors 2 in the window
AUTH_ERROR_HOLDER = "error 2"  # holds a site slot for AUTH_ERROR_WINDOW after an error 2
ERROR_WINDOW = 600  # SMSC blocks the IP after 100 erroneous requests within 10 minutes:
ERROR_BUDGET = 50  # we allow ourselves half of that per site
ERROR_RESERVE = 25  # ... and keep this much of it for messages that have answered before
ERROR_HOLDER = "error"  # holds an error token for ERROR_WINDOW after an erroneous answer
CLAIM_VALID_FOR = 2.0  # a claimed message must be on its way to SMSC within this


@dataclass(frozen=True)
class Slots:
    """One set of :class:`RequestSlot` rows: a login's slots at a site, a site's slots, or a
    site's error tokens (``kind``)."""

    kind: SlotKind
    site: str
    login: str = ""  # kind login only

    def rows(self) -> QuerySet[RequestSlot]:
        return RequestSlot.objects.filter(kind=self.kind, site=self.site, login=self.login)

    def new(self, number: int) -> RequestSlot:
        return RequestSlot(kind=self.kind, site=self.site, login=self.login, number=number)

    def __str__(self) -> str:  # for logs
        if self.kind == SlotKind.LOGIN:
            return f"the slots of login {self.login} at {self.site}"
        return f"the {'slots' if self.kind == SlotKind.SITE else 'error tokens'} of site {self.site}"


def login_slots(config: SmscSettings) -> Slots:
    """The login's ``MAX_CONCURRENT_REQUESTS`` slots at its site."""
    return Slots(SlotKind.LOGIN, config.site, config.limits_login)


def site_slots(config: SmscSettings) -> Slots:
    """The site's ``SITE_SLOTS``, across its logins (an error 2 keeps one)."""
    return Slots(SlotKind.SITE, config.site)


def error_tokens(config: SmscSettings) -> Slots:
    """The site's ``ERROR_BUDGET`` error tokens, across its logins."""
    return Slots(SlotKind.ERRORS, config.site)


# -- pause / circuit breaker ---------------------------------------------------------------------


def _state(config: SmscSettings):
    """The login's :class:`AccountState` row at its site, as a queryset."""
    return AccountState.objects.filter(site=config.site, login=config.limits_login)


def ensure_open(config: SmscSettings, state: AccountState | None = None) -> None:
    """Raise :class:`SmscCircuitOpen` while calls for the login at its site are paused."""
    if state is None:
        state = _state(config).first()
    if state is not None and state.is_paused:
        raise SmscCircuitOpen(
            f"calls to SMSC are paused until {state.paused_until:%Y-%m-%d %H:%M:%S} UTC "
            f"after SMSC error {state.pause_code}",
            code=state.pause_code,
            until=state.paused_until,
        )


def pause(config: SmscSettings, code: int, seconds: float) -> None:
    """Stop every call for the login at its site for ``seconds`` because SMSC answered ``code``.

    After error 2 the login is half-open again: it must prove itself with one request."""
    until = timezone.now() + timedelta(seconds=seconds)
    defaults = {"paused_until": until, "pause_code": code}
    if code == SmscAuthError.smsc_code:
        defaults["verified_at"] = None
    AccountState.objects.update_or_create(site=config.site, login=config.limits_login, defaults=defaults)
    logger.error(
        "SMSC error %s for login %s at %s: all calls paused until %s",
        code,
        config.limits_login,
        config.site,
        until,
    )


def pause_after(
    errors: list[SmscError], config: SmscSettings, lease: SlotLease | None = None, suspects: int = 0
) -> None:
    """Record the requests that ended in ``errors`` (those :func:`is_erroneous_request`: SMSC's
    error answers, or no usable answer): each keeps an error token of ``lease`` for
    ``ERROR_WINDOW``, and each error 2 a site slot for ``AUTH_ERROR_WINDOW``, as do
    ``suspects`` of them (:func:`may_be_auth_error` answers to a login not yet proved: possible
    errors 2, counted without opening the breaker). Then pause the login if any must stop every
    call: 2 (breaker, wins) or 4 (IP blocked)."""
    token = lease.token if lease is not None else ""
    if erroneous := sum(map(is_erroneous_request, errors)):
        _keep(error_tokens(config), ERROR_BUDGET, erroneous, token, ERROR_HOLDER, ERROR_WINDOW)
    auth = sum(isinstance(e, SmscAuthError) for e in errors)
    if auth + suspects:
        _keep(site_slots(config), SITE_SLOTS, auth + suspects, token, AUTH_ERROR_HOLDER, AUTH_ERROR_WINDOW)
    stopping = [type(e) for e in errors if e.stops_login]
    if stopping:  # errors 2 and 4; error 2 wins (its breaker also makes the login half-open)
        cause = next((cls for cls in stopping if issubclass(cls, SmscAuthError)), stopping[0])
        if cause.smsc_code is not None and cause.retry_setting:  # each names both (tests/test_errors.py)
            pause(config, cause.smsc_code, getattr(config, cause.retry_setting))


def is_erroneous_request(answer: object) -> TypeGuard[SmscError]:
    """Whether SMSC may count the request that ended in ``answer`` as erroneous: any error but
    our own refusals, data no request could carry, and failures before the request was sent
    (connecting): those never reached SMSC."""
    return (
        isinstance(answer, SmscError)
        and not isinstance(answer, (SmscCallRefused, SmscInvalidRequest))
        and not (isinstance(answer, SmscTransportError) and answer.before_sending)
    )


def _keep(slots: Slots, rows: int, count: int, token: str, holder: str, seconds: float) -> None:
    """Turn ``count`` of ``slots`` held by ``token`` into ``holder``'s for ``seconds`` (errors
    counted); free ones if it holds fewer (its lease ran out)."""
    until = timezone.now() + timedelta(seconds=seconds)
    held = list(slots.rows().filter(holder=token).values_list("number", flat=True)[:count]) if token else []
    if held:
        slots.rows().filter(holder=token, number__in=held).update(holder=holder, expires_at=until)
    missing = count - len(held)
    if missing and len(_lease_rows(slots, rows, missing, holder, until=until)) < missing:
        logger.error("%s errors could not be counted in %s: every one is taken", missing, slots)


def reset(config: SmscSettings) -> bool:
    """Close the breaker for the login at its site (after fixing the credentials). True if it
    was open.

    The login stays half-open, and the authorisation budget still applies: see
    :func:`auth_budget`."""
    return bool(_state(config).filter(paused_until__isnull=False).update(paused_until=None, pause_code=None))


def proves_login(answer: object) -> bool:
    """Any answer from SMSC but those that stop the login (errors 2 and 4) shows that the
    credentials work (a refusal on our side is no answer)."""
    if not isinstance(answer, SmscError):
        return True
    return not (answer.stops_login or isinstance(answer, SmscCallRefused)) and answer.code is not None


def may_be_auth_error(answer: object) -> bool:
    """Whether a failed request may have been an error 2 at SMSC without our knowing: it may
    have reached SMSC (not refused by us, not failed before sending) and no answer of SMSC's
    was read (garbled, unexpected, cut off, timed out). From a login not yet proved, such a
    request is counted as an error 2 (the safe reading): see ``engine`` and ``service``."""
    return is_erroneous_request(answer) and answer.code is None  # None: no answer of SMSC's read


def mark_verified(config: SmscSettings) -> None:
    """The login answered at its site: lift the half-open limit (one request in flight) for
    ``LOGIN_PROOF_SECONDS``."""
    now = timezone.now()
    stale = Q(verified_at__isnull=True) | Q(verified_at__lt=now - timedelta(seconds=LOGIN_PROOF_SECONDS))
    _state(config).filter(stale).update(verified_at=now)


# -- authorisation budget ------------------------------------------------------------------------


def auth_budget(config: SmscSettings) -> tuple[int, datetime | None, int]:
    """The site's authorisation budget: how many of its slots errors 2 leave (SMSC blocks the
    calling IP after 5 errors 2 of *any* logins there within 30 minutes); when none, the
    moment one comes free; and the errors 2 counted within the window."""
    return _kept(site_slots(config), AUTH_ERROR_HOLDER, SITE_SLOTS)


def error_budget(config: SmscSettings) -> tuple[int, datetime | None]:
    """Erroneous requests the site's error budget still allows within ``ERROR_WINDOW``, and
    when none, the moment one is allowed again."""
    left, allowed_at, _spent = _kept(error_tokens(config), ERROR_HOLDER, ERROR_BUDGET)
    return left, allowed_at


def _kept(slots: Slots, holder: str, rows: int) -> tuple[int, datetime | None, int]:
    """Of the ``rows`` ``slots``: how many errors (kept by ``holder``) leave; when none, the
    moment one comes free; and how many errors keep one."""
    kept = list(
        slots.rows()
        .filter(holder=holder, expires_at__gt=timezone.now())
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
    )
    left = rows - len(kept)
    return left, (kept[0] if left <= 0 else None), len(kept)


def out_of_error_budget(config: SmscSettings) -> SmscCircuitOpen | None:
    """The refusal while errors hold every error token of the site, else None."""
    left, again_at = error_budget(config)
    if left > 0:
        return None
    return SmscCircuitOpen(
        f"not calling SMSC: {ERROR_BUDGET} erroneous requests to this site within 10 minutes "
        f"(SMSC blocks the IP at 100); next try allowed at {again_at:%Y-%m-%d %H:%M:%S} UTC",
        until=again_at,
    )


def _refuse_without_budget(config: SmscSettings) -> None:
    """Raise :class:`SmscCircuitOpen` when errors hold every slot of the site, or every error
    token."""
    if refusal := out_of_error_budget(config):
        raise refusal
    budget, allowed_at, _errors = auth_budget(config)
    if budget <= 0:
        raise SmscCircuitOpen(
            f"not calling SMSC: {SITE_SLOTS} authorisation errors (SMSC error 2) within "
            f"30 minutes, and a fifth would get this server's IP blocked; next try allowed at "
            f"{allowed_at:%Y-%m-%d %H:%M:%S} UTC",
            code=2,
            until=allowed_at,
        )


@dataclass(frozen=True)
class LoginStatus:
    """What the limits say about a login at its site now (admin, command, API)."""

    login: str
    paused_until: datetime | None  # the breaker (error 2) or an IP block (error 4)
    pause_code: int | None
    half_open: bool  # one request at a time until SMSC answers
    auth_errors: int  # SMSC errors 2 at the login's site within the last 30 minutes
    next_call_at: datetime | None  # None: a call is allowed now (breaker, auth and error budgets)


def login_status(config: SmscSettings) -> LoginStatus:
    state = _state(config).first()
    paused = state.paused_until if state is not None and state.is_paused else None
    _budget, budget_at, errors = auth_budget(config)
    _left, errors_at = error_budget(config)
    waits = [t for t in (paused, budget_at, errors_at) if t is not None]
    return LoginStatus(
        login=config.limits_login,
        paused_until=paused,
        pause_code=state.pause_code if state is not None and paused else None,
        half_open=state is None or state.is_half_open,
        auth_errors=errors,
        next_call_at=max(waits) if waits else None,
    )


# -- request slots -------------------------------------------------------------------------------


class SlotLease:
    """Slots held by this caller; use as a context manager. ``len()`` is the number held: each
    is a slot of the login at its site together with one of the site's slots and one of its
    error tokens (an erroneous answer keeps its token: :func:`pause_after`).

    A lease of a half-open login (no answer from SMSC yet, or none for ``LOGIN_PROOF_SECONDS``)
    is *proving*: one slot until :meth:`prove` says the login answered, so a password changed
    since costs one request, not four.

    A daemon thread renews the lease while it is held (its own database connection), so the
    lease does not depend on how fast the caller consumes results."""

    def __init__(self, config: SmscSettings, numbers: list[int], token: str, half_open: bool) -> None:
        self.config, self.login = config, config.limits_login
        self.numbers, self.token = numbers, token
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
        """Every row this lease holds: the login's slots, the site's and its error tokens."""
        return RequestSlot.objects.filter(holder=self.token)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.config.slot_lease / 4):
                try:
                    self._mine().update(expires_at=lease_end(self.config))
                except DatabaseError:
                    logger.warning("could not renew the request slots of %s", self.login, exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only

    def prove(self) -> None:
        """The login answered: lift its half-open limit, so more slots may follow. Nothing to
        do for a lease that was not proving."""
        if self.proving:
            self.proving = False
            mark_verified(self.config)

    def top_up(self, most: int | None = None) -> int:
        """Lease more free slots, without waiting, up to what the login may use now (a first
        one, or after the login proved itself, or slots another process released) and at most
        ``most`` in all. Returns how many; raises :class:`SmscCircuitOpen` as
        :func:`open_lease` does."""
        if self._stop.is_set() or (self.proving and self.numbers):
            return 0
        most = self.config.max_concurrent_requests if most is None else most
        added, half_open = _take(self.config, most - len(self.numbers), self.token, self.numbers)
        if not self.numbers:
            self.proving = half_open
        self.numbers += added
        return len(added)

    def renew_tokens(self, count: int) -> int:
        """Take up to ``count`` error tokens for slots whose token an error kept; how many."""
        if count <= 0:
            return 0
        return len(
            _lease_free(error_tokens(self.config), ERROR_BUDGET, count, self.token, lease_end(self.config))
        )

    def release(self) -> None:
        """Give every slot back (once; a later call does nothing)."""
        if not self._stop.is_set():
            self._stop.set()
            self._mine().update(holder="", expires_at=None)
        self.numbers = []


def site_share(config: SmscSettings, callers_at_site: int) -> int:
    """Slots each of ``callers_at_site`` callers at one site (the lanes of one run) should hold:
    an even share of the site's, at least one (a caller without one waits for one)."""
    return max(1, min(config.max_concurrent_requests, SITE_SLOTS // max(callers_at_site, 1)))


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
    poll = Backoff()
    while True:
        taken, half_open = _take(config, want, token)
        if taken:
            return SlotLease(config, taken, token, half_open)
        if time.monotonic() >= deadline:
            raise busy(config)
        time.sleep(poll.next())


def busy(config: SmscSettings) -> SmscBusy:
    return SmscBusy(
        f"all request slots of {config.limits_login} at {config.site} stayed busy for {config.slot_wait:g} s",
    )


def _take(
    config: SmscSettings, want: int, token: str, held: list[int] | None = None
) -> tuple[list[int], bool]:
    """One try at up to ``want`` more slots (beyond ``held``, the login's slots the caller
    has): ``(login slot numbers taken, half-open)``. Each comes with one of the site's slots
    and one of its error tokens; a half-open login may hold one. Raises
    :class:`SmscCircuitOpen` while the login is paused (checked again once the slots are taken:
    whoever held them before may have paused it) or while errors hold every slot or every
    error token of the site."""
    held = held or []
    state, _ = AccountState.objects.get_or_create(site=config.site, login=config.limits_login)
    ensure_open(config, state)
    half_open = state.is_half_open
    usable = 1 if half_open else config.max_concurrent_requests
    want = min(want, usable - len(held))
    if want <= 0:
        return [], half_open
    until = lease_end(config)
    site = _lease_rows(site_slots(config), SITE_SLOTS, want, token, until=until)
    if not site:
        _refuse_without_budget(config)
        return [], half_open
    numbers = [n for n in range(usable) if n not in held]
    taken = _lease_rows(
        login_slots(config), config.max_concurrent_requests, len(site), token, numbers=numbers, until=until
    )
    tokens = _lease_free(error_tokens(config), ERROR_BUDGET, len(taken), token, until) if taken else []
    kept = min(len(taken), len(tokens))
    try:
        if taken and not tokens:
            _refuse_without_budget(config)
        if kept:
            ensure_open(config)
    except SmscCircuitOpen:
        kept = 0
        raise
    finally:
        _give_back(login_slots(config), token, taken[kept:])
        _give_back(site_slots(config), token, site[kept:])
        _give_back(error_tokens(config), token, tokens[kept:])
    return taken[:kept], half_open


def _give_back(slots: Slots, token: str, numbers: list[int]) -> None:
    if numbers:
        slots.rows().filter(holder=token, number__in=numbers).update(holder="", expires_at=None)


def lease_end(config: SmscSettings) -> datetime:
    """When slots leased now run out unless renewed (a lease's heartbeat renews them)."""
    return timezone.now() + timedelta(seconds=config.slot_lease)


def _lease(slots: Slots, numbers: list[int], want: int, token: str, until: datetime) -> list[int]:
    """Take up to ``want`` of the free slots ``numbers``, in random order (less contention),
    until ``until``."""
    now = timezone.now()
    free = Q(expires_at__isnull=True) | Q(expires_at__lt=now)
    taken: list[int] = []
    for number in random.sample(numbers, len(numbers)):
        if len(taken) >= want:
            break
        if slots.rows().filter(free, number=number).update(holder=token, expires_at=until):
            taken.append(number)
    return taken


def _lease_free(slots: Slots, rows: int, want: int, token: str, until: datetime) -> list[int]:
    """:func:`_lease_rows` of ``want`` of many slots (the error tokens): only those free now
    are tried."""
    now = timezone.now()
    free = Q(expires_at__isnull=True) | Q(expires_at__lt=now)
    numbers = list(slots.rows().filter(free).values_list("number", flat=True))
    if not numbers and slots.rows().exists():
        return []
    return _lease_rows(slots, rows, want, token, numbers=numbers or None, until=until)


def _lease_rows(
    slots: Slots,
    rows: int,
    want: int,
    token: str,
    *,
    numbers: list[int] | None = None,
    until: datetime,
) -> list[int]:
    """:func:`_lease` of ``numbers`` (default: all ``rows``) of ``slots``, making their rows on
    first use."""
    numbers = list(range(rows)) if numbers is None else numbers
    want = max(1, min(want, len(numbers)))
    taken = _lease(slots, numbers, want, token, until)
    if not taken and not slots.rows().exists():
        RequestSlot.objects.bulk_create([slots.new(n) for n in range(rows)], ignore_conflicts=True)
        taken = _lease(slots, numbers, want, token, until)
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


def asked_too_recently(pks: list[int], config: SmscSettings):
    """The messages of ``pks`` that may not be claimed now (asked about, or claimed, less than
    ``MIN_CHECK_INTERVAL`` ago), as a queryset."""
    return SentMessage.objects.filter(pk__in=pks).exclude(_claim_window(config)[1])


def claimable_in(message: SentMessage, config: SmscSettings) -> float:
    """Seconds until ``message`` may be claimed again (zero or less: now)."""
    if message.last_checked_at is None:
        return 0.0
    return config.min_check_interval - (timezone.now() - message.last_checked_at).total_seconds()


def any_due(config: SmscSettings, due_by: datetime) -> bool:
    """Whether a message of the account due by ``due_by`` is free to be claimed now."""
    return SentMessage.objects.due(due_by).filter(_claim_window(config)[1], account=config.name).exists()


#: Messages that never had a good answer from SMSC (none yet, or "not found"): they may spend
#: the site's error budget only down to ``ERROR_RESERVE``.
UNPROVEN = Q(status__isnull=True) | Q(status=MessageStatus.NOT_FOUND)


def is_unproven(message: SentMessage) -> bool:
    """:data:`UNPROVEN` for a message in memory."""
    return message.status is None or message.status == MessageStatus.NOT_FOUND


def unproven_room(config: SmscSettings) -> int:
    """How many erroneous requests :data:`UNPROVEN` messages may still make now: the site's
    error budget down to ``ERROR_RESERVE`` (zero or less: none)."""
    return error_budget(config)[0] - ERROR_RESERVE


def claim_due(
    config: SmscSettings, count: int, due_by: datetime, unproven: int | None = None
) -> tuple[datetime, list[SentMessage]]:
    """Claim up to ``count`` of the account's messages due by ``due_by`` that nobody holds,
    most overdue first (as :func:`claim_messages`), at most ``unproven`` of them
    :data:`UNPROVEN`. Rows another process is claiming right now are skipped (``SKIP
    LOCKED``) instead of waited for, so concurrent sweeps share the due set."""
    stamp, free = _claim_window(config)
    due = SentMessage.objects.due(due_by).filter(free, account=config.name)

    def first(rows, n: int) -> list[tuple[datetime, int]]:
        rows = rows.order_by("next_check_at", "pk").select_for_update(skip_locked=True)
        return list(rows.values_list("next_check_at", "pk")[:n]) if n > 0 else []

    with transaction.atomic():
        if unproven is None or unproven >= count:
            found = first(due, count)
        else:
            found = sorted(first(due.exclude(UNPROVEN), count) + first(due.filter(UNPROVEN), unproven))[
                :count
            ]
        pks = [pk for _at, pk in found]
        SentMessage.objects.filter(pk__in=pks).update(last_checked_at=stamp)
    rows = SentMessage.objects.in_bulk(pks)
    return stamp, [rows[pk] for pk in pks if pk in rows]


def _claim_window(config: SmscSettings) -> tuple[datetime, Q]:
    """The stamp a claim writes now, and the condition of a message free to be claimed."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=config.min_check_interval)
    free = Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=cutoff)
    return now + timedelta(seconds=claim_horizon(config)), free
