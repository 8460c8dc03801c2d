"""The one module that decides: what to ask SMSC, how an answer is applied, when to back off.

The admin, the API, the django-q2 tasks and the management command are thin shells over the
functions here, and never call the SOAP client directly.

Which messages go to which account's lane of request slots, and how a refresh runs (claims,
the request threads, writing answers), is ``engine``'s business (``engine.sweep`` builds the
lanes); how an answer changes a message is ``policy``'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import limits, policy, push
from .backoff import Backoff
from .conf import DEFAULT_ACCOUNT, SmscSettings, account_names, get_settings
from .engine import sweep
from .engine.sweep import pk_chunks, unconfigured_due  # noqa: F401 - for the shells
from .exceptions import SmscError
from .models import SentMessage
from .outcomes import Outcome, RefreshReport, RefreshResult
from .policy import retry_after  # noqa: F401 - for the shells (the API's Retry-After)
from .retention import PruneReport, prune  # noqa: F401 - PruneReport for the shells
from .soap import get_client
from .stats import GROUPS as STATS_GROUPS  # noqa: F401 - for the shells
from .stats import combine as combine_stats  # noqa: F401
from .stats import stats
from .validation import clean_date, clean_sender, clean_smsc_id, clean_text, normalize_phone

logger = logging.getLogger(__name__)

#: The public API: what docs/reference/service.rst documents as the service (tests/test_docs.py
#: keeps the two equal). The rest is for the package's own shells (admin, API, tasks, command).
__all__ = [
    "account_status",
    "balance",
    "prune",
    "refresh",
    "refresh_due",
    "refresh_many",
    "refresh_selection",
    "register",
    "reset_breaker",
    "send",
    "stats",
    "wait_for_status",
]


# -- registering and sending -------------------------------------------------------------------


def register(
    smsc_id: str | int,
    phone: str,
    *,
    account: str = DEFAULT_ACCOUNT,
    text: str | None = None,
    sender: str | None = None,
    sent_at: datetime | None = None,
    cost: Decimal | None = None,
    sms_count: int | None = None,
) -> tuple[SentMessage, bool]:
    """Start tracking a message sent elsewhere through ``account``; idempotent per account:
    returns ``(message, created)``.

    What is known of the message may be given (None: not known). It is due for its first check
    at once. Raises :class:`~.conf.UnknownAccount` for an account that is not configured,
    ``ValidationError`` for data the :mod:`.validation` rules refuse (a ``sent_at`` outside
    :func:`~.validation.date_window` among them).
    """
    region = get_settings(account).default_region
    smsc_id, phone = clean_smsc_id(smsc_id), normalize_phone(phone, region)
    known = {
        "text": None if text is None else clean_text(text),
        "sender": None if sender is None else clean_sender(sender),
        "sent_at": clean_date(sent_at),
        "cost": cost,
        "sms_count": sms_count,
    }
    defaults = {k: v for k, v in known.items() if v is not None} | {"next_check_at": timezone.now()}
    try:
        with transaction.atomic():
            return SentMessage.objects.get_or_create(
                account=account, smsc_id=smsc_id, phone=phone, defaults=defaults
            )
    except IntegrityError:  # registered by someone else a moment ago
        return SentMessage.objects.get(account=account, smsc_id=smsc_id, phone=phone), False


def send(
    phones: str | Iterable[str],
    text: str,
    sender: str | None = None,
    *,
    account: str = DEFAULT_ACCOUNT,
    smsc_id: str | int | None = None,
    time: str | None = None,
) -> list[SentMessage]:
    """Send ``text`` through SMSC's ``account`` and track the result: one :class:`SentMessage`
    per phone.

    ``smsc_id`` gives the message your own id, ``time`` schedules it (SMSC's ``time``
    parameter, as its documentation writes it). On an SMSC or transport error nothing is
    recorded and the :class:`SmscError` propagates. The first check comes
    ``FIRST_CHECK_AFTER`` seconds after sending (most SMS are delivered within seconds), or
    ``PUSH_FIRST_CHECK_AFTER`` while status pushes arrive (its push is expected first:
    :func:`.push.arriving`).
    """
    config = get_settings(account)
    if isinstance(phones, str):
        phones = phones.replace(";", ",").split(",")
    numbers = list(dict.fromkeys(normalize_phone(p, config.default_region) for p in phones if p.strip()))
    if not numbers:
        raise ValidationError(_("Give at least one phone number."), code="phones")
    text, sender = clean_text(text, required=True), clean_sender(sender) or None
    own_id = None if smsc_id is None else clean_smsc_id(smsc_id)
    result = _call_smsc(
        config,
        lambda client: client.send_sms(",".join(numbers), text, sender=sender, smsc_id=own_id, time=time),
    )
    now = timezone.now()
    first_check = policy.first_check(now, config, push.arriving(config))
    per_phone = result.sms_count // len(numbers) if result.sms_count else None
    rows = [
        SentMessage(
            account=account,
            smsc_id=result.smsc_id,
            phone=phone,
            text=text,
            sender=sender or "",
            sent_at=now,
            cost=result.cost if len(numbers) == 1 else None,
            sms_count=per_phone,
            next_check_at=first_check,
        )
        for phone in numbers
    ]
    try:
        with transaction.atomic():
            return SentMessage.objects.bulk_create(rows)
    except Exception:
        logger.exception("SMSC sent message %s but recording it failed; register it by hand", result.smsc_id)
        raise


def balance(account: str = DEFAULT_ACCOUNT) -> Decimal:
    """The balance of the account's login at SMSC (SMSC keeps it per login)."""
    return _call_smsc(get_settings(account), lambda client: client.get_balance())


def _call_smsc(config: SmscSettings, call):
    """One call outside a refresh, under the same limits: refused while the login is paused
    or out of authorisation budget, one request slot held, error 2 or 4 pausing the login for
    every process, an answer proving a half-open login."""
    with limits.acquire_slots(config, 1) as lease:
        try:
            result = call(get_client(config))
        except SmscError as exc:
            # an unreadable answer to a login not yet proved counts as a possible error 2
            suspect = lease.proving and limits.may_be_auth_error(exc)
            limits.pause_after([exc], config, lease, suspects=int(suspect))
            if limits.proves_login(exc):
                lease.prove()
            raise
        lease.prove()
        return result


def account_status(account: str = DEFAULT_ACCOUNT) -> limits.LoginStatus:
    """Whether calls for the account's login are allowed, and if not, when: the breaker, an
    IP block, the half-open state and SMSC's authorisation-error budget."""
    return limits.login_status(get_settings(account))


def accounts_by_login() -> dict[tuple[str, str], list[str]]:
    """The configured account names per ``(site, login)`` (``SmscSettings.site`` and
    ``limits_login``): the admin's and the command's way from an ``LoginState`` row to the
    accounts it pauses (several accounts may share one login at one site)."""
    by_login: dict[tuple[str, str], list[str]] = {}
    for name in account_names():
        config = sweep.account(name)
        if isinstance(config, SmscSettings):  # a malformed account is E001's business
            by_login.setdefault((config.site, config.limits_login), []).append(name)
    return by_login


def reset_breaker(account: str = DEFAULT_ACCOUNT) -> bool:
    """Let calls for the account's login (at its site) through again after error 2 or 4 (fix
    the credentials first). True if calls were paused."""
    return limits.reset(get_settings(account))


# -- refreshing --------------------------------------------------------------------------------


def refresh(message: SentMessage | int) -> RefreshResult:
    """Ask SMSC for one message's status now (unless it was checked moments ago)."""
    return refresh_many([message])[0]


#: How often :func:`wait_for_status` re-reads the row: at first, and at most (it backs off).
WAIT_POLL, WAIT_POLL_MAX = 0.1, 0.5


def wait_for_status(message: SentMessage | int, timeout: float, *, final: bool = True) -> SentMessage:
    """Wait until the message has a final status (``final=False``: any status other than the
    one it has now), at most ``timeout`` seconds; return the row as stored then.

    The building block of "no delivery in 20 s: offer a call". It asks SMSC itself
    (:func:`refresh`, every limit included) only when the message is due and nobody holds it,
    so it works with or without a worker: whoever claims a due message first asks, the others
    re-read the row. It returns early when nothing more will come (final, given up,
    quarantined). It holds no transaction while waiting (each read is its own query), and
    refuses to run inside one (``ATOMIC_REQUESTS``: decorate the view with
    ``transaction.non_atomic_requests``), where it would hold it for the whole wait and, on
    MySQL's REPEATABLE READ, never see the worker's answer.
    """
    pk = message.pk if isinstance(message, SentMessage) else int(message)
    if transaction.get_connection(router.db_for_read(SentMessage)).in_atomic_block:
        raise RuntimeError("wait_for_status() inside a transaction would hold it while waiting")
    row = SentMessage.objects.get(pk=pk)
    before, until = (row.status, row.err), time.monotonic() + timeout
    poll = Backoff(WAIT_POLL, WAIT_POLL_MAX, jitter=False)
    may_ask = True  # until a refresh is refused (the login is paused): then only re-read

    def done(row: SentMessage) -> bool:
        changed = row.is_final if final else (row.status, row.err) != before
        return changed or row.next_check_at is None or time.monotonic() >= until

    while not done(row):
        if may_ask and row.next_check_at and row.next_check_at <= timezone.now():
            result = refresh(row)
            may_ask, row = result.outcome != Outcome.REFUSED, result.message
            if done(row):
                break
        time.sleep(max(min(poll.next(), until - time.monotonic()), 0))
        row = SentMessage.objects.get(pk=pk)
    return row


def refresh_many(messages: Iterable[SentMessage | int]) -> list[RefreshResult]:
    """Refresh a modest selection; one result per message, in input order."""
    pks = [m.pk if isinstance(m, SentMessage) else int(m) for m in messages]
    results = {r.message.pk: r for r in iter_refresh(pks)}
    return [results[pk] for pk in dict.fromkeys(pks) if pk in results]


def refresh_due(
    limit: int | None = None,
    *,
    progress=None,
    time_limit: float | None = None,
    follow: float = 0,
) -> RefreshReport:
    """Refresh pending messages whose ``next_check_at`` has come (the periodic sweep).

    Every configured account in one run, in parallel and in turn (each within its own limits:
    one account's backlog or pause never starves another); ``limit`` counts messages of all
    accounts together. Most overdue first; each process claims the next due messages no other
    process holds (several sweeps at once share the work instead of racing for it), one small
    batch per free request slot, so memory stays flat. Messages of an account no longer in
    settings are left alone (``report.skipped``). Returns counts per outcome; ``progress(report)`` is
    called after each message, for progress bars. No exception escapes: a message's trouble is
    its outcome, and anything else stops the sweep with the reason in ``report.aborted`` (and
    the log).

    ``time_limit`` (seconds; ``tasks.sweep_task`` passes the django-q2 worker's timeout): the
    sweep is over within it, its last answers written; it stops claiming early enough for the
    requests in flight to come back (``TIMEOUT`` and more, see ``engine.Run``), and what it did
    not get to stays due (``report.out_of_time``).

    ``follow`` (seconds; ``tasks.sweep_task`` passes the schedule's interval and more): after
    the first pass the sweep keeps claiming what becomes due until ``follow`` seconds after it
    began (and before ``time_limit``'s last request), so a message is asked within about a
    second of its ``next_check_at``, not at the next scheduled run. While nothing can be
    claimed it sleeps until the next message is due, at most
    ``engine.sweep.FOLLOW_PAUSE_MAX``, and longer each time a due message cannot be claimed
    (another sweep holds it). It stops following once an account's login is paused or the
    account cannot get a request slot (the next scheduled run tries again) and when ``limit``
    is used up. Several following sweeps share the due messages as
    overlapping sweeps always do.
    """
    report = RefreshReport()
    started = time.monotonic()
    deadline = None if time_limit is None else started + time_limit
    return _tally(report, lambda: sweep.follow(limit, report, deadline, started + follow), progress)


def refresh_selection(
    messages: Iterable[SentMessage | int] | models.QuerySet, *, limit: int | None = None, progress=None
) -> RefreshReport:
    """Refresh any number of messages (a queryset is paged, never loaded whole) for a task or
    a command: counts per outcome instead of a result per message, and, as with the sweep, no
    exception escapes (``report.aborted``)."""
    return _tally(RefreshReport(), lambda: iter_refresh(messages, limit=limit), progress)


def _tally(report: RefreshReport, results: Callable[[], Iterable[RefreshResult]], progress) -> RefreshReport:
    """Count ``results()`` into ``report``: the one loop behind the sweep, the tasks and the
    command."""
    stream = results()
    try:
        for result in stream:
            report.add(result)
            if progress:
                progress(report)
    except Exception as exc:
        logger.exception("refresh stopped after %s messages", report.total)
        report.aborted = f"{type(exc).__name__}: {exc}"[:200]
    finally:
        # stopped here (django-q2's timeout raises SystemExit wherever the main thread is):
        # closing the run now, not whenever the interpreter gets to it, writes the answers it
        # holds and frees its slots (``engine.Run.run``)
        if isinstance(stream, Generator):
            stream.close()
    return report


def iter_refresh(
    messages: Iterable[SentMessage | int] | models.QuerySet, *, limit: int | None = None
) -> Iterator[RefreshResult]:
    """Refresh ``messages`` (rows, primary keys or a queryset), each through its own account,
    yielding results as they land (not in input order)."""
    return sweep.iter_refresh(messages, limit=limit)
