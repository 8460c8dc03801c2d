"""When a login may not call: the pause (circuit breaker) after errors 2 and 4, the half-open
limit until SMSC answers, and the site's authorisation and error budgets, as the rows of
``slots`` record them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeGuard

from django.db.models import Q
from django.utils import timezone

from ..conf import SmscSettings
from ..exceptions import (
    SmscAuthError,
    SmscCallRefused,
    SmscCircuitOpen,
    SmscError,
    SmscInvalidRequest,
    SmscTransportError,
)
from ..models import LoginState
from .slots import (
    AUTH_ERROR_HOLDER,
    AUTH_ERROR_WINDOW,
    ERROR_BUDGET,
    ERROR_HOLDER,
    ERROR_WINDOW,
    SITE_SLOTS,
    _keep,
    _kept,
    error_tokens,
    site_slots,
)

logger = logging.getLogger(__name__)

#: How long an answer from SMSC proves a login's credentials: after that the login is half-open
#: again (``LoginState.is_half_open``, :func:`mark_verified`).
LOGIN_PROOF_SECONDS = 300


def _state(config: SmscSettings):
    """The login's :class:`LoginState` row at its site, as a queryset."""
    return LoginState.objects.filter(site=config.site, login=config.limits_login)


if TYPE_CHECKING:  # leases builds on this module
    from .leases import SlotLease


def ensure_open(config: SmscSettings, state: LoginState | None = None) -> None:
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
    LoginState.objects.update_or_create(site=config.site, login=config.limits_login, defaults=defaults)
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
