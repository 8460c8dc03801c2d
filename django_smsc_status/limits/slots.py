"""SMSC's numbers, and the :class:`RequestSlot` rows that count them: a login's slots at a site,
a site's slots and its error tokens, each leased with a conditional UPDATE (write first, never
read-then-write) and kept by an error for as long as SMSC remembers it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from ..conf import SmscSettings
from ..models import RequestSlot, SlotKind

logger = logging.getLogger(__name__)

AUTH_ERROR_LIMIT = 5  # SMSC blocks the IP at the fifth error 2 ...
AUTH_ERROR_WINDOW = 1800  # ... within 30 minutes
SITE_SLOTS = AUTH_ERROR_LIMIT - 1  # per site: requests in flight + errors 2 in the window
AUTH_ERROR_HOLDER = "error 2"  # holds a site slot for AUTH_ERROR_WINDOW after an error 2
ERROR_WINDOW = 600  # SMSC blocks the IP after 100 erroneous requests within 10 minutes:
ERROR_BUDGET = 50  # we allow ourselves half of that per site
ERROR_RESERVE = 25  # ... and keep this much of it for messages that have answered before
ERROR_HOLDER = "error"  # holds an error token for ERROR_WINDOW after an erroneous answer


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
