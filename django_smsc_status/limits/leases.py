"""Request slots held by a caller: :class:`SlotLease` (renewed by a heartbeat thread) and the
one try at taking a login's slot together with a site slot and an error token (:func:`_take`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from django.db import DatabaseError, connections

from ..backoff import Backoff
from ..conf import SmscSettings
from ..exceptions import (
    SmscBusy,
    SmscCircuitOpen,
)
from ..models import LoginState, RequestSlot
from .breaker import _refuse_without_budget, ensure_open, mark_verified
from .slots import (
    ERROR_BUDGET,
    SITE_SLOTS,
    _give_back,
    _lease_free,
    _lease_rows,
    error_tokens,
    lease_end,
    login_slots,
    site_slots,
)

logger = logging.getLogger(__name__)


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
    state, _ = LoginState.objects.get_or_create(site=config.site, login=config.limits_login)
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
