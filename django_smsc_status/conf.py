"""The ``SMSC_STATUS`` settings dict, validated once and read again when it changes.

Every key, its default and its meaning is listed in ``DEFAULTS`` below and in the README
(a test keeps the two in step). The top-level keys configure the account named ``"default"``;
``ACCOUNTS`` adds named accounts, each a dict of per-account keys that override the top-level
ones (a key left out is inherited). :func:`get_settings` validates one account's settings and
returns an immutable, hashable :class:`SmscSettings`; a missing or malformed key raises
``ImproperlyConfigured`` that names it (and the account).

What was validated is kept (as DRF keeps its settings) and dropped on Django's
``setting_changed`` (``override_settings``, pytest-django's ``settings``); a dict edited in
place is seen too, as every call compares the settings with the copy they were read from
(a few microseconds, against some fifty for validating an account).
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from .redaction import RedactedSettings, Secret

SETTINGS_NAME = "SMSC_STATUS"

#: Known SMSC sites; any other ``https``/``http`` URL is accepted too (e.g. the simulator).
KNOWN_ENDPOINTS = (
    "https://smsc.ru/sys/soap.php",
    "https://smsc.kz/sys/soap.php",
    "https://smsc.ua/sys/soap.php",
    "https://smscentre.com/sys/soap.php",
)

DEFAULTS: dict[str, Any] = {
    # Credentials: LOGIN + PASSWORD, or API_KEY where the loaded WSDL has an ``apikey`` element.
    "LOGIN": "",
    "PASSWORD": "",
    "API_KEY": "",
    # Where to send SOAP requests; the WSDL namespace follows it (SMSC uses the endpoint URL).
    "ENDPOINT": KNOWN_ENDPOINTS[0],
    # None: the copy shipped in the package. Or a file path / URL of another WSDL.
    "WSDL": None,
    # None: the endpoint URL, as SMSC does. Set it if a proxy or mirror keeps another namespace.
    "NAMESPACE": None,
    # Tried in order after ENDPOINT when a request gets no answer (never on SMSC errors).
    "FAILOVER_ENDPOINTS": (),
    # Seconds: read timeout of one SOAP call, and the connect timeout.
    "TIMEOUT": 10.0,
    "CONNECT_TIMEOUT": 5.0,
    # get_status detail level: 0 status only, 1 + cost/text/sender, 2 + operator/region.
    "ALL": 2,
    # SMSC allows fewer than 5 concurrent requests per login, across every process.
    "MAX_CONCURRENT_REQUESTS": 4,
    # A message asked about less than this many seconds ago is answered from the database
    # (SMSC allows at most 5 checks of one message a minute). At least 13.
    "MIN_CHECK_INTERVAL": 15,
    # Seconds from sending (``service.send``) to a message's first check: most SMS are
    # delivered within seconds.
    "FIRST_CHECK_AFTER": 5,
    # Polling of pending messages after an answer that changed the status: first delay,
    # doubling per unchanged answer up to the cap, +/- jitter fraction; never sooner than
    # MIN_CHECK_INTERVAL. Defaults: checks 5, 20, 40, 80, 160 ... s after sending.
    "BACKOFF_INITIAL": 10,
    "BACKOFF_MAX": 3600,
    "BACKOFF_JITTER": 0.1,
    # Stop polling a message this many seconds after it was sent (SMSC holds -1 up to ~11 h).
    "GIVE_UP_AFTER": 2 * 24 * 3600,
    # After SMSC error 9 (too many requests) wait this long before asking about that message
    # (at least 60, as are the two pauses below).
    "RATE_LIMIT_BACKOFF": 60,
    # After error 4 (IP blocked) every call for the login pauses this long.
    "IP_BLOCK_BACKOFF": 600,
    # After error 2 (bad credentials) the circuit breaker stops all calls this long, or
    # until reset (SMSC blocks the IP for 30 min after 5 authorisation errors).
    "BREAKER_TIMEOUT": 1800,
    # How long a caller waits for a free request slot before giving up (seconds).
    "SLOT_WAIT": 10.0,
    # A request slot's lease (seconds), renewed every quarter of it while its process lives:
    # a killed process's slots are free again within this (at least 12: a database stall
    # shorter than a lease never lets a live process's slot be taken).
    "SLOT_LEASE": 12,
    # The admin's synchronous "Refresh status now" refuses larger selections.
    "SYNC_REFRESH_LIMIT": 50,
    # Messages handled per database batch by refresh_many / refresh_due.
    "CHUNK_SIZE": 200,
    # Periodic sweep (django-q2 schedule): interval in minutes and messages per run.
    "SWEEP_INTERVAL_MINUTES": 1,
    "SWEEP_LIMIT": 1000,
    # API: permission classes (dotted paths) for every endpoint; refresh and send add their
    # own permission on top. None: authenticated users with the model's Django permissions.
    "API_PERMISSION_CLASSES": None,
    # Region for phone numbers written without a country code ("8 999 ..." in Russia):
    # an ISO 3166 code libphonenumber knows, e.g. "RU", "KZ", "UA", "BY".
    "DEFAULT_REGION": "RU",
    # History retention, e.g. {"SNAPSHOT_DAYS": 90, "MESSAGE_DAYS": None}: what the daily
    # prune (``smsc_status schedule``) deletes. None: keep everything.
    "RETENTION": None,
    # Status pushes (README "Status pushes from SMSC"): the secret part of the URL SMSC calls,
    # "" for none (pushes answered 404). Each account its own, never inherited: at least 20
    # characters of letters, digits, "-" and "_", e.g. secrets.token_urlsafe(24).
    "PUSH_TOKEN": "",
    # The secret of SMSC's push checksum (md5/sha1 of "<id>:<phone>:<status>:<secret>"), ""
    # for none. Set: a push without a matching checksum is counted and ignored. Not inherited.
    "PUSH_SECRET": "",
    # Pushes taken per account per second by one process; more are answered 429 untouched.
    "PUSH_RATE_LIMIT": 50,
    # While pushes arrive for the account (one matched a message in the last 24 h), polling
    # is the safety net for a lost push and backs off further: the first check this many
    # seconds after sending, then BACKOFF_INITIAL's part is played by PUSH_BACKOFF_INITIAL.
    # Defaults: checks 30, 90, 210, 450 ... s after sending (FIRST_CHECK_AFTER etc. otherwise).
    "PUSH_FIRST_CHECK_AFTER": 30,
    "PUSH_BACKOFF_INITIAL": 60,
    # More SMSC accounts, by name: {"kz": {"LOGIN": ..., "PASSWORD": ..., "ENDPOINT": ...}}.
    # Each takes the per-account keys; a key left out inherits the top-level value.
    "ACCOUNTS": {},
}

#: The account the top-level keys configure; messages name it unless told otherwise.
DEFAULT_ACCOUNT = "default"

#: Keys that apply to the whole site, so not allowed inside ``ACCOUNTS``.
SITE_KEYS = frozenset(
    {
        "ACCOUNTS",
        "SYNC_REFRESH_LIMIT",
        "CHUNK_SIZE",
        "SWEEP_INTERVAL_MINUTES",
        "SWEEP_LIMIT",
        "API_PERMISSION_CLASSES",
        "RETENTION",
    }
)

#: Inherited only all together: an account that sets any of them inherits none.
CREDENTIALS = frozenset({"LOGIN", "PASSWORD", "API_KEY"})

#: Never inherited: a push URL names one account, so each account has its own token.
OWN_ONLY = frozenset({"PUSH_TOKEN", "PUSH_SECRET"})

#: A push token: long enough not to be guessed, and safe in a URL path.
PUSH_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,200}")

#: Account names: short, URL- and filter-safe (they appear in ``?account=`` and the admin).
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


#: Lowest values that keep SMSC's limits (seconds): a message may be asked at most 5 times a
#: minute, so 13 s apart leaves room for a slow connect (6 requests span over 60 s); after
#: error 9, 2 or 4, retrying sooner than a minute only feeds the limit that refused us.
FLOORS: dict[str, float] = {
    "MIN_CHECK_INTERVAL": 13,
    "RATE_LIMIT_BACKOFF": 60,
    "BREAKER_TIMEOUT": 60,
    "IP_BLOCK_BACKOFF": 60,
    "SLOT_LEASE": 12,
}

#: Keys of ``RETENTION`` and their defaults.
RETENTION_DEFAULTS: dict[str, Any] = {"SNAPSHOT_DAYS": None, "MESSAGE_DAYS": None, "BATCH_SIZE": 1000}


@dataclass(frozen=True)
class SmscSettings:
    """One account's validated settings (with the site-wide ones). Hashable, so a client can
    be cached per configuration."""

    login: str
    password: str = field(repr=False)
    api_key: str = field(repr=False)
    endpoint: str
    wsdl: str | None
    namespace: str
    failover_endpoints: tuple[str, ...]
    timeout: float
    connect_timeout: float
    all: int
    max_concurrent_requests: int
    min_check_interval: float
    first_check_after: float
    backoff_initial: float
    backoff_max: float
    backoff_jitter: float
    give_up_after: float
    rate_limit_backoff: float
    ip_block_backoff: float
    breaker_timeout: float
    slot_wait: float
    slot_lease: float
    sync_refresh_limit: int
    chunk_size: int
    sweep_interval_minutes: int
    sweep_limit: int
    api_permission_classes: tuple[str, ...] | None
    default_region: str = "RU"
    retention: Retention | None = None
    push_token: str = field(default="", repr=False)
    push_secret: str = field(default="", repr=False)
    push_rate_limit: int = 50
    push_first_check_after: float = 30
    push_backoff_initial: float = 60
    name: str = DEFAULT_ACCOUNT  # the account's name in settings and in SentMessage.account

    @property
    def limits_login(self) -> str:
        """The login as SMSC counts its limits: the login, or a digest of the API key (never
        the key). Its state (slots, breaker, half-open) is kept per site *and* login
        (:attr:`site`): SMSC counts one login at two sites separately."""
        if self.login:
            return self.login
        return "apikey:" + hashlib.sha256(self.api_key.encode()).hexdigest()[:12]

    @property
    def site(self) -> str:
        """The SMSC site of ``ENDPOINT``, however it is spelled (:func:`site_of`). SMSC's IP
        blocks count per site, whichever logins made the errors, so every account at one
        site shares the site's limits (``limits``)."""
        return site_of(self.endpoint)

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (self.endpoint, *self.failover_endpoints)


@dataclass(frozen=True)
class Retention:
    """Validated ``RETENTION``: days after which history (and final messages) are pruned."""

    snapshot_days: int | None
    message_days: int | None
    batch_size: int


Key = str | tuple[str, ...]  # a top-level key, or a path such as ("ACCOUNTS", "kz", "LOGIN")


def _error(key: Key, problem: str) -> ImproperlyConfigured:
    path = "".join(f"[{part!r}]" for part in ((key,) if isinstance(key, str) else key))
    return ImproperlyConfigured(f"{SETTINGS_NAME}{path} {problem}")


def _shown(value: Any) -> str:
    """A rejected value as an error may show it: a number, else only its type (a string could
    be a password pasted into the wrong key). No settings error repeats a string value."""
    return repr(value) if value is None or isinstance(value, (int, float)) else type(value).__name__


_WWW = re.compile(r"www\d*\.(?=[^.]+\.[^.]+)")  # a leading www / www2 ... label, not the domain itself
DEFAULT_PORTS = {"http": 80, "https": 443}


def site_of(url: str) -> str:
    """One name per SMSC site, so that every spelling shares one budget: the host in lower
    case without a trailing dot or a leading ``www`` / ``www<digits>`` label (SMSC's backups
    ``www2``...``www5.smsc.ru`` are ``smsc.ru``), every loopback name as ``localhost``, and the
    port only when it is not the scheme's default (``http`` and ``https`` of one host are one
    site). Pure text: no DNS lookup."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if host == "localhost" or host.endswith(".localhost") or (address is not None and address.is_loopback):
        host = "localhost"
    elif isinstance(address, ipaddress.IPv6Address):
        host = f"[{address.compressed}]"
    elif address is not None:
        host = str(address)
    else:
        host = _WWW.sub("", host, count=1)
    port = parts.port
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme):
        host += f":{port}"
    return host


def _url(key: Key, value: Any) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        raise _error(key, f"must be an http(s) URL, got {_shown(value)}")
    parts = urlsplit(value)
    if not parts.hostname:
        raise _error(key, "has no host")
    if parts.username is not None or parts.password is not None:
        raise _error(key, "must not hold credentials (user:password@): set LOGIN and PASSWORD")
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        raise _error(key, "has an invalid port") from None
    return value


def _number(key: Key, value: Any, *, minimum: float, integer: bool = False) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) or value < minimum:
        what = "an integer" if integer else "a number"
        raise _error(key, f"must be {what} >= {minimum}, got {_shown(value)}")
    return value


def _dotted_paths(key: Key, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if (
        isinstance(value, str)
        or not isinstance(value, (list, tuple))
        or not all(isinstance(v, str) and "." in v for v in value)
    ):
        raise _error(key, "must be a list of dotted paths, e.g. ['rest_framework.permissions.IsAdminUser']")
    return tuple(value)


def _region(key: Key, value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise _error(key, f"must be a region code such as 'RU', 'KZ' or 'UA', got {_shown(value)}")
    return value.upper()


def _retention(value: Any) -> Retention | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _error("RETENTION", 'must be None or a dict, e.g. {"SNAPSHOT_DAYS": 90}')
    unknown = sorted(set(value) - set(RETENTION_DEFAULTS))
    if unknown:
        raise _error(
            "RETENTION", f"has an unknown key {unknown[0]!r} (known: {', '.join(RETENTION_DEFAULTS)})"
        )
    raw = {**RETENTION_DEFAULTS, **value}
    for key, v in raw.items():
        if (v is not None or key == "BATCH_SIZE") and (
            isinstance(v, bool) or not isinstance(v, int) or v < 1
        ):
            allowed = "an integer >= 1" + ("" if key == "BATCH_SIZE" else " or None")
            raise _error(("RETENTION", key), f"must be {allowed}, got {_shown(v)}")
    if raw["SNAPSHOT_DAYS"] is None and raw["MESSAGE_DAYS"] is None:
        raise _error("RETENTION", "needs SNAPSHOT_DAYS or MESSAGE_DAYS (or set RETENTION to None)")
    return Retention(raw["SNAPSHOT_DAYS"], raw["MESSAGE_DAYS"], raw["BATCH_SIZE"])


def _str(key: Key, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _error(key, f"must be a string, got {type(value).__name__}")
    return value


def _push_token(key: Key, value: Any) -> Secret:
    """A token that cannot be guessed (or "" for no pushes); the error never shows it."""
    token = _str(key, value)
    if token and not PUSH_TOKEN.fullmatch(token):
        raise _error(key, "must be 20 to 200 letters, digits, '-' or '_' (e.g. secrets.token_urlsafe(24))")
    return Secret(token)


class UnknownAccount(LookupError):
    """A name that is not an account in ``SMSC_STATUS`` (e.g. one removed from settings while
    messages still name it): the caller's argument is wrong, not the settings, so this is a
    ``LookupError`` (as Django's ``apps.get_app_config`` raises for an unknown label), not an
    ``ImproperlyConfigured``."""


class _Read:
    """What was read from one version of ``SMSC_STATUS``: the copy it was read from (with the
    ``FLOORS`` then in force), its account names and each account's validated settings.
    Shown without values (the DEBUG error page prints every frame's locals)."""

    def __init__(self, user: RedactedSettings) -> None:
        try:  # compared with the settings at each call: a plain copy compares fastest
            self.raw = copy.deepcopy(getattr(django_settings, SETTINGS_NAME))
        except Exception:  # a value that cannot be copied: compared as read (a copy, too)
            self.raw = user
        self.user, self.floors = user, dict(FLOORS)
        self.named: dict[str, RedactedSettings] | None = None
        self.accounts: dict[str, SmscSettings] = {}

    def __repr__(self) -> str:
        return f"<{SETTINGS_NAME} as read: {', '.join(self.accounts) or 'no account yet'}>"


_read: _Read | None = None


def _current() -> _Read:
    """What was read from the settings as they are now, read again if they changed."""
    global _read
    read = _read  # the settings themselves are never held in a local: see _user_settings
    if read is None or read.floors != FLOORS or read.raw != getattr(django_settings, SETTINGS_NAME, None):
        read = _read = _Read(_user_settings())
    return read


def _reload(*, setting: str, **kwargs) -> None:
    global _read
    if setting == SETTINGS_NAME:
        _read = None


setting_changed.connect(_reload)


def _user_settings() -> RedactedSettings:
    # Credentials never sit in a plain local: the DEBUG error page prints every frame's locals.
    if getattr(django_settings, SETTINGS_NAME, None) is None:
        raise ImproperlyConfigured(f"settings.{SETTINGS_NAME} is missing: set at least LOGIN and PASSWORD")
    if not isinstance(getattr(django_settings, SETTINGS_NAME), dict):
        raise ImproperlyConfigured(f"settings.{SETTINGS_NAME} must be a dict")
    user = RedactedSettings(getattr(django_settings, SETTINGS_NAME))
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        raise _error(unknown[0], f"is not a known key (known: {', '.join(sorted(DEFAULTS))})")
    return user


def _named_accounts(user: RedactedSettings) -> dict[str, RedactedSettings]:
    accounts = user.get("ACCOUNTS") or {}
    if not isinstance(accounts, dict):
        raise _error("ACCOUNTS", 'must be a dict of accounts by name, e.g. {"kz": {"LOGIN": ...}}')
    named = {}
    folded = {DEFAULT_ACCOUNT}
    for name, keys in accounts.items():
        if not isinstance(name, str) or not ACCOUNT_NAME.fullmatch(name) or name.casefold() in folded:
            raise _error(
                ("ACCOUNTS", name),
                f"is not a usable account name: 1 to 40 letters, digits, '_', '-' or '.', not "
                f"{DEFAULT_ACCOUNT!r} (the top-level keys configure that one), and not another "
                f"account's name in other letter case (MariaDB and MySQL compare names without case)",
            )
        folded.add(name.casefold())
        if not isinstance(keys, dict):
            raise _error(
                ("ACCOUNTS", name), "must be a dict of settings, e.g. {'LOGIN': ..., 'PASSWORD': ...}"
            )
        for key in sorted(keys, key=str):
            if key in SITE_KEYS:
                raise _error(("ACCOUNTS", name, key), "applies to the whole site: set it at the top level")
            if key not in DEFAULTS:
                known = ", ".join(sorted(set(DEFAULTS) - SITE_KEYS))
                raise _error(("ACCOUNTS", name, key), f"is not a known key (known: {known})")
        named[name] = RedactedSettings(keys)
    return named


def account_names() -> list[str]:
    """Every configured account: ``"default"`` first, then ``ACCOUNTS`` in the order given."""
    return [DEFAULT_ACCOUNT, *_named(_current())]


def _named(read: _Read) -> dict[str, RedactedSettings]:
    if read.named is None:
        read.named = _named_accounts(read.user)
    return read.named


def get_settings(account: str = DEFAULT_ACCOUNT) -> SmscSettings:
    """The validated settings of ``account`` (default: the top-level keys) as they are now.

    Raises :class:`UnknownAccount` for a name that is not configured."""
    read = _current()
    if account not in read.accounts:
        read.accounts[account] = _read_account(read.user, _named(read), account)
    return read.accounts[account]


def _read_account(user: RedactedSettings, named: dict[str, RedactedSettings], account: str) -> SmscSettings:
    if account == DEFAULT_ACCOUNT:
        own: RedactedSettings | dict = {}
    elif account in named:
        own = named[account]
    else:
        raise UnknownAccount(
            f"{SETTINGS_NAME} has no account {account!r} (configured: {', '.join([DEFAULT_ACCOUNT, *named])})"
        )

    def where(key: str) -> Key:  # errors name the account when the value is its own
        return ("ACCOUNTS", account, key) if key in own else key

    inherited = RedactedSettings(user)
    if CREDENTIALS & set(own):  # credentials never mix: an account with its own takes none
        for key in CREDENTIALS:
            inherited.pop(key, None)
    if account != DEFAULT_ACCOUNT:
        for key in OWN_ONLY:
            inherited.pop(key, None)
    return _validate(RedactedSettings({**DEFAULTS, **inherited, **own}), account, where)


def _validate(raw: RedactedSettings, name: str, where) -> SmscSettings:
    login = _str(where("LOGIN"), raw["LOGIN"])
    password = Secret(_str(where("PASSWORD"), raw["PASSWORD"]))
    api_key = Secret(_str(where("API_KEY"), raw["API_KEY"]))
    if not api_key and not (login and password):
        missing = "LOGIN" if not login else "PASSWORD"
        key = ("ACCOUNTS", name, missing) if name != DEFAULT_ACCOUNT else missing
        raise _error(key, "is required (or set API_KEY instead of LOGIN and PASSWORD)")

    endpoint = _url(where("ENDPOINT"), raw["ENDPOINT"])
    failover = raw["FAILOVER_ENDPOINTS"] or ()
    if isinstance(failover, str) or not isinstance(failover, (list, tuple)):
        raise _error(where("FAILOVER_ENDPOINTS"), "must be a list of URLs")
    wsdl = raw["WSDL"]
    if wsdl is not None and (not isinstance(wsdl, str) or not wsdl):
        raise _error(where("WSDL"), "must be None (the shipped copy), a file path or a URL")
    if type(raw["ALL"]) is not int or raw["ALL"] not in (0, 1, 2):
        raise _error(where("ALL"), f"must be 0, 1 or 2, got {_shown(raw['ALL'])}")
    namespace = raw["NAMESPACE"]
    namespace = endpoint if namespace is None else _str(where("NAMESPACE"), namespace)

    values: dict[str, Any] = {
        "name": name,
        "login": login,
        "password": password,
        "api_key": api_key,
        "endpoint": endpoint,
        "wsdl": wsdl,
        "namespace": namespace,
        "failover_endpoints": tuple(_url(where("FAILOVER_ENDPOINTS"), u) for u in failover),
        "all": raw["ALL"],
        "api_permission_classes": _dotted_paths("API_PERMISSION_CLASSES", raw["API_PERMISSION_CLASSES"]),
        "default_region": _region(where("DEFAULT_REGION"), raw["DEFAULT_REGION"]),
        "retention": _retention(raw["RETENTION"]),
        "push_token": _push_token(where("PUSH_TOKEN"), raw["PUSH_TOKEN"]),
        "push_secret": Secret(_str(where("PUSH_SECRET"), raw["PUSH_SECRET"])),
    }
    integers = {
        "MAX_CONCURRENT_REQUESTS",
        "SYNC_REFRESH_LIMIT",
        "CHUNK_SIZE",
        "SWEEP_INTERVAL_MINUTES",
        "SWEEP_LIMIT",
        "PUSH_RATE_LIMIT",
    }
    minimum_one = integers | {"TIMEOUT", "CONNECT_TIMEOUT"}
    for f in fields(SmscSettings):
        key = f.name.upper()
        if f.name in values:
            continue
        minimum = 1 if key in integers else (0.001 if key in minimum_one else FLOORS.get(key, 0))
        values[f.name] = _number(where(key), raw[key], minimum=minimum, integer=key in integers)
    if values["max_concurrent_requests"] > 4:
        raise _error(where("MAX_CONCURRENT_REQUESTS"), "must be at most 4 (SMSC allows fewer than 5)")
    if values["backoff_jitter"] >= 1:
        raise _error(where("BACKOFF_JITTER"), "must be a fraction below 1")
    return SmscSettings(**values)
