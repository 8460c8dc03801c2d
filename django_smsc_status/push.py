"""Status pushes from SMSC, used as a trigger (README "Status pushes from SMSC").

SMSC calls ``…/push/<PUSH_TOKEN>/`` (:mod:`.urls`) when a message's status changes. A push is a
hint, never the truth: nothing it says is written to a message. Its message is made due now
and its refresh queued (:func:`.tasks.enqueue_refresh`, which queues a message once), so a
worker asks SMSC through every existing limit within about a second. The push is noted on
the message (``pushed_at``), so the request may come sooner than ``MIN_CHECK_INTERVAL`` after
the last one, never beyond SMSC's 5 a minute (:mod:`.limits.claims`): a final status pushed
moments after a poll is learned at once. A forged, repeated or reordered push therefore costs
at most one status request, and pushes about one message at most two a :data:`PUSHED_PAIR
<.limits.claims.PUSHED_PAIR>`; a lost one leaves the message to polling.

A push whose ``status`` reads as "on the way" (:data:`ON_THE_WAY`: -1 waiting, 0 at the
operator) triggers nothing: asking would only learn that. It is counted and kept like any
other. Any other or unreadable ``status`` is a trigger. While pushes arrive
(:func:`arriving`) polling backs off further (``PUSH_FIRST_CHECK_AFTER``,
``PUSH_BACKOFF_INITIAL``; :mod:`.policy`).

The view answers ``OK`` at once: it never calls SMSC, and any failure after the token matched
(a database error among them) is logged and still answered ``OK``: polling learns the status
anyway, and an error would only make SMSC retry or stop calling. Responses other than ``OK``
(404 wrong token, 405, 413, 429) are not logged with their path, which holds the token.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from urllib.parse import parse_qsl

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from . import limits
from .codes import MessageStatus
from .conf import SmscSettings, account_names, get_settings
from .models import PushCounter, ReceivedPush, SentMessage
from .policy import fit_raw
from .redaction import redact_fields
from .validation import clean_smsc_id, normalize_phone

logger = logging.getLogger(__name__)

#: Largest body read (bytes): a status push is a few hundred.
MAX_BODY = 8192
#: Most fields read from one push.
MAX_FIELDS = 50
#: Raw pushes kept per account (older ones are deleted as new ones come).
KEEP = 100
#: URL parameters that say how SMSC encodes the push, not what it is about.
URL_OPTIONS = frozenset({"charset", "fmt"})
#: Pushed statuses that say more is to come: such a push makes nothing due.
ON_THE_WAY = frozenset({MessageStatus.WAITING, MessageStatus.TRANSFERRED})
#: Pushes count as arriving for an account while one matched a message this recently.
ARRIVING_WITHIN = timedelta(hours=24)


class Kind(str, enum.Enum):
    """What a push was; each is a :class:`PushCounter` field."""

    MATCHED = "matched"  # a status push for a tracked message: made due, refresh queued (unless ON_THE_WAY)
    UNKNOWN = "unknown"  # a status push for no tracked message
    INCOMING = "incoming"  # an incoming SMS (``mes``): not stored as a message
    CALL = "calls"  # a call confirmation (``waitcall=1``)
    MALFORMED = "malformed"  # no usable id and phone, or an unreadable body
    BAD_CHECKSUM = "bad_checksum"  # PUSH_SECRET set and the checksum missing or wrong


def account_for(token: str) -> SmscSettings | None:
    """The account whose ``PUSH_TOKEN`` is ``token``, each compared in constant time."""
    given = token.encode("utf-8", "replace")
    found = None
    for name in account_names():
        try:
            config = get_settings(name)
        except ImproperlyConfigured:  # one account's bad settings are E001's business
            continue
        if config.push_token and hmac.compare_digest(given, config.push_token.encode()) and found is None:
            found = config
    return found


def _plain(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    if status >= 400:
        response._has_been_logged = True  # type: ignore[attr-defined]  # django.request would log the path: the token
    return response


@csrf_exempt
@transaction.non_atomic_requests
def receive(request: HttpRequest, token: str) -> HttpResponse:
    """SMSC's status push: ``OK`` whatever becomes of it (see the module docstring)."""
    try:
        config = account_for(token)
    except ImproperlyConfigured:
        config = None
    if config is None:
        logger.warning("status push with a token no account has: answered 404")
        return _plain(404, "Not found")
    if request.method not in ("GET", "POST"):
        return _plain(405, "GET or POST")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = MAX_BODY + 1
    if length > MAX_BODY:
        logger.warning("status push for account %r: body over %s bytes, refused", config.name, MAX_BODY)
        return _plain(413, "Too large")
    if not _within_rate(config):
        return _plain(429, "Too many")
    try:
        handle(config, read_fields(request.META.get("QUERY_STRING", ""), request.body))
    except Exception:
        logger.exception("status push for account %r not handled (answered OK)", config.name)
    return HttpResponse("OK", content_type="text/plain")


def _within_rate(config: SmscSettings) -> bool:
    """At most ``PUSH_RATE_LIMIT`` pushes per second per account (per process with Django's
    default local-memory cache; across processes with a shared cache)."""
    key = f"django_smsc_status:push:{config.name}:{int(time.time())}"
    try:
        cache.add(key, 0, timeout=2)
        return cache.incr(key) <= config.push_rate_limit
    except Exception:  # a cache that fails lets pushes through: they are cheap hints
        return True


def read_fields(query: str, body: bytes) -> dict[str, str] | None:
    """The push's fields from the URL and the body (the body's win), decoded as SMSC sent
    them: windows-1251 unless the URL says ``charset=utf-8``, a JSON object with ``fmt=3``,
    else a form. None when unreadable."""
    pairs = parse_qsl(query, encoding="latin-1")
    options = {k.lower(): v.lower() for k, v in pairs if k.lower() in URL_OPTIONS}
    charset = "utf-8" if options.get("charset") in ("utf-8", "utf8") else "windows-1251"
    try:
        fields = {k: v for k, v in _form(query, charset).items() if k.lower() not in URL_OPTIONS}
        text = body.decode(charset, "replace")
        if options.get("fmt") == "3" and text.strip():
            data = json.loads(text)
            if not isinstance(data, dict) or len(data) > MAX_FIELDS:
                return None
            fields.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
        else:
            fields.update(_form(text, charset))
    except (ValueError, RecursionError):
        return None
    return fields


def _form(text: str, charset: str) -> dict[str, str]:
    pairs = parse_qsl(
        text, keep_blank_values=True, encoding=charset, errors="replace", max_num_fields=MAX_FIELDS
    )
    return dict(pairs)


def handle(config: SmscSettings, fields: dict[str, str] | None) -> Kind:
    """Act on one push's fields and record it (counters, raw fields): its kind."""
    message = None
    if fields is None:
        kind, fields = Kind.MALFORMED, {}
    elif "mes" in fields:
        kind = Kind.INCOMING
    elif fields.get("waitcall") == "1":
        kind = Kind.CALL
    else:
        try:
            smsc_id = clean_smsc_id(fields.get("id", ""))
            phone = normalize_phone(fields.get("phone", ""), config.default_region)
        except ValidationError:
            kind = Kind.MALFORMED
        else:
            if config.push_secret and not checksum_ok(fields, config.push_secret):
                kind = Kind.BAD_CHECKSUM
            else:
                status = pushed_status(fields)
                if status in ON_THE_WAY:  # counted, not due
                    message = tracked(config, smsc_id, phone)
                else:
                    message = hint(config, smsc_id, phone, status)
                kind = Kind.MATCHED if message else Kind.UNKNOWN
    record(config, kind, fields, message)
    return kind


def pushed_status(fields: dict[str, str]) -> int | None:
    """The push's ``status`` as a number, None if it reads as none."""
    try:
        return int(fields.get("status", "").strip())
    except ValueError:
        return None


def arriving(config: SmscSettings) -> bool:
    """Whether status pushes arrive for the account: it has a ``PUSH_TOKEN`` and a push matched
    one of its messages within :data:`ARRIVING_WITHIN` (a query on at most :data:`KEEP`
    rows; none without a token). Polling is then only the safety net (:mod:`.policy`)."""
    if not config.push_token:
        return False
    since = timezone.now() - ARRIVING_WITHIN
    pushes = ReceivedPush.objects.filter(account=config.name, kind=Kind.MATCHED.value, received_at__gte=since)
    return pushes.exists()


def checksum_ok(fields: dict[str, str], secret: str) -> bool:
    """SMSC's checksum (``md5`` or ``sha1`` field) of ``"<id>:<phone>:<status>:<secret>"``."""
    text = ":".join([fields.get("id", ""), fields.get("phone", ""), fields.get("status", ""), secret])
    for name in ("sha1", "md5"):
        given = fields.get(name, "").strip().lower()
        if given:
            expected = hashlib.new(name, text.encode("utf-8")).hexdigest()
            return hmac.compare_digest(given.encode(), expected.encode())
    return False


def tracked(config: SmscSettings, smsc_id: str, phone: str) -> SentMessage | None:
    """The account's message ``(smsc_id, phone)``, or None if none is tracked."""
    return SentMessage.objects.filter(account=config.name, smsc_id=smsc_id, phone=phone).first()


def hint(config: SmscSettings, smsc_id: str, phone: str, status: int | None = None) -> SentMessage | None:
    """Note the push on the account's message ``(smsc_id, phone)`` and make it due as soon as
    it may be asked about (:func:`.limits.free_at`); if that is now, queue its refresh. The
    message, or None if none is tracked. A push of the ``status`` the message already has
    (a repeated push) asks nothing.

    Not askable yet (its request is in flight, or SMSC's 5 a minute would be passed), it
    becomes due when it is (the sweep asks then): a second change pushed moments after the
    first is not lost. A final, given-up or quarantined message is left alone (its status is
    settled, or polling of it stopped for a reason)."""
    from .tasks import enqueue_refresh  # tasks imports service, which the app loads first

    row = tracked(config, smsc_id, phone)
    if row is None or row.is_final or row.next_check_at is None or row.quarantine_reason:
        return row
    if status is not None and status == row.status:
        return row
    now = row.pushed_at = timezone.now()
    due = max(now, limits.free_at(row, config) or now)
    sooner = Case(When(next_check_at__gt=due, then=Value(due)), default=F("next_check_at"))
    SentMessage.objects.filter(pk=row.pk).update(pushed_at=now, next_check_at=sooner)
    if due <= now:
        enqueue_refresh([row.pk])
    return row


def record(config: SmscSettings, kind: Kind, fields: dict[str, str], message: SentMessage | None) -> None:
    """Count the push and keep its raw fields (the last :data:`KEEP` per account). An
    incoming SMS's text is not kept, only its length."""
    now = timezone.now()
    changes = {"received": F("received") + 1, kind.value: F(kind.value) + 1, "last_received_at": now}
    counters = PushCounter.objects.filter(account=config.name)
    if not counters.update(**changes):
        try:
            with transaction.atomic():
                PushCounter.objects.create(
                    account=config.name, received=1, last_received_at=now, **{kind.value: 1}
                )
        except IntegrityError:  # created by another push a moment ago
            counters.update(**changes)
    kept = dict(fields)
    if "mes" in kept:
        kept["mes"] = f"({len(kept['mes'])} characters, not kept)"
    kept = fit_raw(redact_fields(kept, (config.push_token, config.push_secret)))
    kept = {_printable(k): _printable(v) for k, v in kept.items()}
    pushes = ReceivedPush.objects.filter(account=config.name)
    ReceivedPush.objects.create(
        account=config.name, kind=kind.value, fields=kept, message=message, received_at=now
    )
    oldest_kept = list(pushes.order_by("-pk").values_list("pk", flat=True)[KEEP - 1 : KEEP])
    if oldest_kept:
        pushes.filter(pk__lt=oldest_kept[0]).delete()


def _printable(text: str) -> str:
    """``text`` as PostgreSQL's JSON can hold it (no NUL), shown as the replacement mark."""
    return text.replace("\x00", "\ufffd")
