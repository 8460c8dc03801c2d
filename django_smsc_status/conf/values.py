"""Validating one account's values into an immutable :class:`SmscSettings`: each key's type,
range and floor, with errors that name the key (and the account) but never repeat a string
value (it could be a password pasted into the wrong key).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from django.core.exceptions import ImproperlyConfigured

from ..redaction import RedactedSettings, Secret
from . import defaults
from .defaults import DEFAULT_ACCOUNT, PUSH_TOKEN, RETENTION_DEFAULTS, SETTINGS_NAME


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
    push_first_check_after: float = 15
    push_backoff_initial: float = 30
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
        minimum = 1 if key in integers else (0.001 if key in minimum_one else defaults.FLOORS.get(key, 0))
        values[f.name] = _number(where(key), raw[key], minimum=minimum, integer=key in integers)
    if values["max_concurrent_requests"] > 4:
        raise _error(where("MAX_CONCURRENT_REQUESTS"), "must be at most 4 (SMSC allows fewer than 5)")
    if values["backoff_jitter"] >= 1:
        raise _error(where("BACKOFF_JITTER"), "must be a fraction below 1")
    return SmscSettings(**values)
