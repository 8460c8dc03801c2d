"""``manage.py check`` catches misconfiguration before the first SMSC call does.

smsc_status.E001  SMSC_STATUS is missing or invalid (the message names the key, and the
                  account when the key is in ``ACCOUNTS``)
smsc_status.E002  an account's WSDL names a file that does not exist
smsc_status.W001  an account's ENDPOINT is not a known SMSC site (a typo would only show at the
                  first call)
smsc_status.W002  SQLite without ``"transaction_mode": "IMMEDIATE"`` (concurrent refreshes
                  may fail with "database is locked")
smsc_status.W003  Q_CLUSTER names no broker (django-q2 then silently needs Redis)
smsc_status.W004  pending messages name an account no longer in SMSC_STATUS (the sweep leaves
                  them alone); a database check: ``check --database default`` and ``migrate``
smsc_status.W005  Q_CLUSTER's timeout is too short for one status request and the sweep's last
                  writes (the sweep stops in time for the worker's timeout; it would ask nothing)
smsc_status.W006  PostgreSQL's per-day stats tallies count days in another time zone than
                  ``TIME_ZONE`` (the report and ``stats/`` then count live: slow at millions of
                  messages); a database check
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, router, transaction

from .conf import KNOWN_ENDPOINTS, account_names, get_settings, site_of

BROKER_KEYS = ("orm", "redis", "broker_class", "iron_mq", "sqs", "mongo", "disque_nodes")


@register()
def check_settings(app_configs=None, **kwargs) -> list:
    """Every configured account: an error stops at the first bad key of each account; a WSDL
    file or endpoint several accounts share (inherited from the top level) is reported once."""
    try:
        names = account_names()
    except ImproperlyConfigured as exc:
        return [_invalid(exc)]
    problems: list[CheckMessage] = []
    wsdls: dict[str, list[str]] = {}
    endpoints: dict[str, list[str]] = {}
    tokens: dict[str, list[str]] = {}
    for name in names:
        try:
            config = get_settings(name)
        except ImproperlyConfigured as exc:
            problems.append(_invalid(exc))
            continue
        if config.wsdl:
            wsdls.setdefault(config.wsdl, []).append(name)
        for url in config.endpoints:
            endpoints.setdefault(url, []).append(name)
        if config.push_token:
            tokens.setdefault(config.push_token, []).append(name)
    for users in tokens.values():
        if len(users) > 1:
            problems.append(
                Error(
                    f"SMSC_STATUS PUSH_TOKEN is the same for {_accounts(users)}",  # never the token
                    hint="Give each account its own: a push URL names one account.",
                    id="smsc_status.E003",
                )
            )
    for wsdl, users in wsdls.items():
        if urlsplit(wsdl).scheme not in ("http", "https") and not Path(wsdl).expanduser().is_file():
            problems.append(
                Error(
                    # not the value: a password pasted into WSDL would reach the console and logs
                    f"SMSC_STATUS WSDL of {_accounts(users)} names a file that does not exist",
                    hint="Remove WSDL to use the copy shipped with the package.",
                    id="smsc_status.E002",
                )
            )
    known_sites = {site_of(u) for u in KNOWN_ENDPOINTS}  # www2..www5 backups are these sites
    for url, users in endpoints.items():
        site = site_of(url)
        if site not in known_sites and site.partition(":")[0] != "localhost":
            problems.append(
                Warning(
                    f"{site} is not a known SMSC site ({_accounts(users)})",  # not the URL's path or query
                    hint=f"Known: {', '.join(KNOWN_ENDPOINTS)} (and www2..www5 backups).",
                    id="smsc_status.W001",
                )
            )
    return problems


def _invalid(exc: ImproperlyConfigured) -> Error:
    return Error(
        str(exc), hint="See docs/reference/settings.rst (the settings reference).", id="smsc_status.E001"
    )


def _accounts(names: list[str]) -> str:
    return ("account " if len(names) == 1 else "accounts ") + ", ".join(names)


@register(Tags.database)
def check_unconfigured_accounts(app_configs=None, databases=None, **kwargs) -> list:
    """Pending messages whose account was removed from settings: never polled again, and
    easy to miss (the sweep only logs them). Needs the database, so only with ``databases``."""
    from . import service
    from .models import SentMessage

    alias = router.db_for_read(SentMessage)
    if alias not in (databases or ()):
        return []
    try:
        with transaction.atomic(using=alias):  # a missing table must not break an outer transaction
            counts = service.unconfigured_due(account_names())
    except ImproperlyConfigured:
        return []  # E001 says why
    except DatabaseError:
        return []  # not migrated yet: no table, no messages
    return [
        Warning(
            f"{count} pending messages name account {name!r}, which is not in SMSC_STATUS",
            hint="The sweep leaves them alone and refreshing them is refused; nothing is deleted. "
            "Add the account back to SMSC_STATUS['ACCOUNTS'] to poll them again.",
            id="smsc_status.W004",
        )
        for name, count in counts.items()
    ]


@register("database")
def check_sqlite_locking(app_configs=None, databases=None, **kwargs) -> list:
    return sqlite_locking_warnings(settings.DATABASES)


def sqlite_locking_warnings(databases: dict) -> list:
    problems: list[CheckMessage] = []
    for alias, db in databases.items():
        if (
            db.get("ENGINE", "").endswith("sqlite3")
            and db.get("OPTIONS", {}).get("transaction_mode") != "IMMEDIATE"
        ):
            problems.append(
                Warning(
                    f"Database {alias!r} is SQLite without transaction_mode IMMEDIATE",
                    hint='Add "OPTIONS": {"transaction_mode": "IMMEDIATE"} so that a worker and the '
                    "web process refreshing at once wait for each other instead of failing "
                    'with "database is locked".',
                    id="smsc_status.W002",
                )
            )
    return problems


@register()
def check_q_cluster(app_configs=None, **kwargs) -> list:
    if "django_q" not in settings.INSTALLED_APPS:
        return []
    cluster = getattr(settings, "Q_CLUSTER", {}) or {}
    problems: list[CheckMessage] = []
    if not any(cluster.get(key) for key in BROKER_KEYS):
        problems.append(
            Warning(
                "Q_CLUSTER names no broker, so django-q2 will try Redis on localhost",
                hint='Set Q_CLUSTER = {"orm": "default", ...} to use the database as the broker.',
                id="smsc_status.W003",
            )
        )
    timeout = cluster.get("timeout")
    if isinstance(timeout, (int, float)) and timeout > 0:
        problems += _sweep_fits(timeout)
    return problems


def _sweep_fits(timeout: float) -> list[CheckMessage]:
    """W005: a sweep stops before django-q2's timeout, keeping room for its longest request
    and its last writes; a timeout shorter than that leaves it no request at all."""
    from .engine import FINISH_MARGIN, longest_request

    too_short = []
    for name in account_names():
        try:
            config = get_settings(name)
        except ImproperlyConfigured:
            continue  # E001 says it
        if timeout <= longest_request(config) + FINISH_MARGIN:
            too_short.append((name, longest_request(config) + FINISH_MARGIN))
    if not too_short:
        return []
    needed = max(seconds for _name, seconds in too_short)
    accounts = _accounts([name for name, _seconds in too_short])
    return [
        Warning(
            f"Q_CLUSTER['timeout'] ({timeout:g} s) leaves the sweep of {accounts} no time for a "
            f"request (one may take up to {needed:g} s with its last writes)",
            hint="Raise Q_CLUSTER['timeout'] (the worker guide's 110 lets a sweep follow due messages "
            "for its whole interval; keep it below 'retry') or lower SMSC_STATUS TIMEOUT / CONNECT_TIMEOUT.",
            id="smsc_status.W005",
        )
    ]


@register(Tags.database)
def check_tally_time_zone(app_configs=None, databases=None, **kwargs) -> list:
    """W006: the tallies' days are in the zone the triggers were made with; after a change of
    ``TIME_ZONE`` the fast path is off until ``smsc_status tallies --rebuild``."""
    from . import tallies
    from .models import SentMessage

    alias = router.db_for_read(SentMessage)
    if alias not in (databases or ()) or not tallies.enabled():
        return []
    try:
        with transaction.atomic(using=alias):
            zone = tallies.current_time_zone()
    except DatabaseError:
        return []  # not migrated yet
    if zone == settings.TIME_ZONE:
        return []
    return [
        Warning(
            f"The delivery tallies count days in {zone!r}, TIME_ZONE is {settings.TIME_ZONE!r}",
            hint="The delivery report and the stats API count every message live meanwhile. Run "
            "'manage.py smsc_status tallies --rebuild' (it recounts every message, holding writes).",
            id="smsc_status.W006",
        )
    ]
