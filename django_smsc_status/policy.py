"""The polling policy: how an answer or an error changes a message, and when to ask again.

Pure functions on a :class:`SentMessage` in memory (``engine`` locks, loads and saves it):

* status never moves backwards: an answer older than the stored status (by SMSC's timestamp;
  within one second, by :func:`codes.lifecycle_rank`) or a pending status after a final one
  is ignored;
* an unchanged answer writes no snapshot and doubles the delay before the next check
  (``BACKOFF_INITIAL`` up to ``BACKOFF_MAX``, ± ``BACKOFF_JITTER``, never below
  ``MIN_CHECK_INTERVAL``); a change resets it. With the defaults a message sent through the
  app is checked 5 s after sending (``FIRST_CHECK_AFTER``, see ``service.send``), then 15, 20,
  40, 80 ... s apart: most SMS are final within seconds, a few take minutes. While status
  pushes arrive for the account (``push.arriving``) polling only catches lost pushes, and
  ``PUSH_FIRST_CHECK_AFTER`` / ``PUSH_BACKOFF_INITIAL`` take those parts (15, 45, 105 ... s):
  fewer requests, most SMS being final (and pushed) before the first check;
* final statuses and messages older than ``GIVE_UP_AFTER`` are not checked again;
* an error keeps the stored status, is noted on the row and backs off (error 9:
  ``RATE_LIMIT_BACKOFF``);
* a time SMSC gives outside :func:`validation.date_window` is taken as no time at all (the
  snapshot's raw answer keeps it);
* every text from SMSC is stored cut to a size (:func:`fit`, :func:`fit_raw`), never refused.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django.db import models
from django.utils import timezone

from .codes import MessageStatus, is_final_status, lifecycle_rank
from .conf import SmscSettings, get_settings
from .exceptions import (
    SmscCallRefused,
    SmscCircuitOpen,
    SmscError,
    SmscInvalidRequest,
    SmscNotFound,
    SmscProtocolError,
    SmscRequestError,
    SmscTooManyRequests,
    SmscTransportError,
)
from .limits.claims import free_at
from .models import SentMessage, StatusSnapshot
from .outcomes import Outcome, RefreshResult
from .soap import StatusResult
from .validation import is_plausible_date

logger = logging.getLogger(__name__)

#: Longest text kept from SMSC: the message's text and each value of a snapshot's raw answer
#: (an SMS text is at most a few thousand characters; a longer value is a broken answer).
TEXT_MAX = 5000
#: Most values kept of one raw answer (SMSC's ``statusresult`` has 15), and a name's length.
RAW_FIELDS_MAX, RAW_NAME_MAX = 40, 40
CUT = "…"


def cut(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start ending in "…"."""
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def fit(name: str, value):
    """``value`` as the column ``name`` of :class:`SentMessage` can hold it: text cut to the
    column's length (:data:`TEXT_MAX` without one), a number out of its range dropped (the
    snapshot keeps SMSC's raw answer)."""
    column = cast("models.Field[Any, Any]", SentMessage._meta.get_field(name))
    if isinstance(value, str):
        return cut(value, column.max_length or TEXT_MAX)
    if isinstance(value, Decimal):
        decimal_column = cast("models.DecimalField[Any, Any]", column)
        whole_digits = decimal_column.max_digits - decimal_column.decimal_places
        if not value.is_finite() or abs(value) >= Decimal(10) ** whole_digits:
            return None
        return value.quantize(Decimal(1).scaleb(-decimal_column.decimal_places))
    if isinstance(value, int) and isinstance(column, models.PositiveIntegerField):
        return value if 0 <= value < 2**31 else None
    return value


def plausible(value: datetime | None, now: datetime) -> datetime | None:
    """The time ``value``, or None if no SMS can have it (9999-12-31, 1970-01-01): stored, it
    would break the pages that show it in local time, and a change time in the future would
    make each later status look older."""
    if value is None or is_plausible_date(value, now):
        return value
    logger.warning("ignored an impossible time: %s", value.isoformat())
    return None


def fit_raw(raw: Mapping[str, str]) -> dict[str, str]:
    """SMSC's raw answer as a snapshot keeps it: whole unless a broken answer makes it huge."""
    fields = itertools.islice(raw.items(), RAW_FIELDS_MAX)
    return {cut(name, RAW_NAME_MAX): cut(value, TEXT_MAX) for name, value in fields}


def apply_answer(
    row: SentMessage, answer: StatusResult, now: datetime, config: SmscSettings, *, pushes: bool = False
) -> StatusSnapshot | None:
    """Apply an answer to ``row`` in memory; the snapshot to write if the status changed.
    ``pushes``: status pushes arrive for the account (the next check follows their schedule).

    ``status_changed_at`` holds SMSC's own time of the change (None when SMSC gives none), so
    "older" compares SMSC's clock with SMSC's clock, never with ours."""
    changed_at = plausible(answer.changed_at, now)
    for name, value in (
        ("text", answer.text),
        ("sender", answer.sender),
        ("sent_at", plausible(answer.sent_at, now)),
        ("cost", answer.cost),
        ("sms_count", answer.sms_count),
        ("operator", answer.operator),
        ("region", answer.region),
    ):
        if value not in (None, ""):
            setattr(row, name, fit(name, value))
    row.last_request_error = ""
    row.quarantine_reason = ""
    same = (row.status, row.err) == (answer.status, answer.err)
    # A stored time outside the window (written before it was checked) is no time either.
    stored_at, seen_at = plausible(row.status_changed_at, now), changed_at
    older = bool(
        stored_at
        and seen_at
        and (
            seen_at < stored_at
            or (seen_at == stored_at and lifecycle_rank(answer.status) < lifecycle_rank(row.status))
        )
    )
    backwards = row.is_final and not is_final_status(answer.status)
    if same or older or backwards:
        if not same:
            logger.info(
                "ignored stale status %s for message %s (stored %s)", answer.status, row.pk, row.status
            )
        row.check_attempts += 1
        row.next_check_at = next_check(row, now, config, pushes=pushes)
        return None
    row.status, row.err = answer.status, answer.err
    row.status_changed_at = changed_at
    row.is_final = is_final_status(answer.status)
    row.check_attempts = 0
    row.next_check_at = next_check(row, now, config, pushes=pushes)
    return StatusSnapshot(
        message=row,
        status=answer.status,
        err=answer.err,
        changed_at=changed_at,
        observed_at=now,
        raw=fit_raw(answer.raw),
    )


def keep_push(row: SentMessage, claimed_at: datetime, now: datetime, config: SmscSettings) -> None:
    """A status push that came while the row's request was on its way (after ``claimed_at``)
    may name a change the answer predates: unless the answer settled the message, it is due
    again as soon as it may be asked (:func:`.limits.free_at`), not after the backoff."""
    if row.pushed_at is None or row.pushed_at <= claimed_at or row.is_final or row.next_check_at is None:
        return
    row.next_check_at = min(row.next_check_at, max(free_at(row, config) or now, now))


def record_error(row: SentMessage, error: SmscError, now: datetime, config: SmscSettings) -> RefreshResult:
    """Keep the stored status; note the error and decide when to try again.

    Data no request can carry quarantines the message: it is not polled again (a manual
    refresh tries once more, e.g. after the row was corrected)."""
    row.last_request_error = fit("last_request_error", str(error))
    if isinstance(error, SmscCallRefused):
        return RefreshResult(row, Outcome.REFUSED, error=error, retry_after=retry_after(error, config))
    if isinstance(error, SmscInvalidRequest):
        row.quarantine_reason, row.next_check_at = fit("quarantine_reason", str(error)), None
        return RefreshResult(row, Outcome.QUARANTINED, error=error)
    if isinstance(error, SmscNotFound) and row.status is None:
        # Error 3 on a message never seen: show it as "not found" (filterable), keep polling
        # with backoff until GIVE_UP_AFTER (SMSC may not know a fresh message yet). No change
        # time is stored, so any later real status wins.
        row.status = MessageStatus.NOT_FOUND
    row.check_attempts += 1
    delay = config.rate_limit_backoff if isinstance(error, SmscTooManyRequests) else None
    row.next_check_at = next_check(row, now, config, delay)
    return RefreshResult(row, _outcome_of(error), error=error, retry_after=retry_after(error, config))


def _outcome_of(error: SmscError) -> Outcome:
    if isinstance(error, SmscRequestError):
        return Outcome.REQUEST_ERROR
    if isinstance(error, (SmscTransportError, SmscProtocolError)):
        return Outcome.TRANSPORT_ERROR
    return Outcome.FAILED  # our own failure (a bug, an unwritable answer): see the log


def retry_after(error: SmscError, config: SmscSettings | None = None) -> float | None:
    """Seconds after which repeating a call that failed with ``error`` makes sense: until a
    pause ends, else the setting the error names (``SmscError.retry_setting``)."""
    config = config or get_settings()
    if isinstance(error, SmscCircuitOpen):
        return max((error.until - timezone.now()).total_seconds(), 1) if error.until else None
    return getattr(config, error.retry_setting) if error.retry_setting else None


def first_check(now: datetime, config: SmscSettings, pushes: bool = False) -> datetime:
    """When a message sent ``now`` is first checked: ``FIRST_CHECK_AFTER``, or with status
    pushes arriving for the account ``PUSH_FIRST_CHECK_AFTER`` (its push is expected first)."""
    return now + timedelta(seconds=config.push_first_check_after if pushes else config.first_check_after)


def next_check(
    row: SentMessage,
    now: datetime,
    config: SmscSettings,
    delay: float | None = None,
    *,
    pushes: bool = False,
) -> datetime | None:
    """Exponential backoff with jitter, capped, never sooner than ``MIN_CHECK_INTERVAL`` (a
    message due before that could not be claimed anyway); None for final or given-up messages.
    With ``pushes`` arriving for the account the backoff starts at ``PUSH_BACKOFF_INITIAL``."""
    if row.is_final:
        return None
    born = row.sent_at or row.created_at
    if born and (now - born).total_seconds() > config.give_up_after:
        return None
    if delay is None:
        initial = config.push_backoff_initial if pushes else config.backoff_initial
        delay = min(initial * 2 ** min(row.check_attempts, 30), config.backoff_max)
    jitter = config.backoff_jitter
    seconds = max(delay * random.uniform(1 - jitter, 1 + jitter), config.min_check_interval)
    return now + timedelta(seconds=seconds)
