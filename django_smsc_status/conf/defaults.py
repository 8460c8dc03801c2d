"""Every key of ``SMSC_STATUS`` with its default, and the rules about keys: which apply to the
whole site, which are inherited how, and the floors that keep SMSC's limits.

``FLOORS`` is read as ``defaults.FLOORS`` wherever it is used, so lifting it (the tests'
``fast_polling``) means setting ``conf.defaults.FLOORS``.
"""

from __future__ import annotations

import re
from typing import Any

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
    # Defaults: checks 15, 45, 105, 225 ... s after sending (FIRST_CHECK_AFTER etc. otherwise).
    "PUSH_FIRST_CHECK_AFTER": 15,
    "PUSH_BACKOFF_INITIAL": 30,
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
