"""``manage.py check`` catches misconfiguration before the first SMSC call does.

smsc_status.E001  SMSC_STATUS is missing or invalid (the message names the key)
smsc_status.E002  WSDL names a file that does not exist
smsc_status.W001  ENDPOINT is not a known SMSC site (a typo would only show at the first call)
smsc_status.W002  SQLite without ``"transaction_mode": "IMMEDIATE"`` (concurrent refreshes
                  may fail with "database is locked")
smsc_status.W003  Q_CLUSTER names no broker (django-q2 then silently needs Redis)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .conf import KNOWN_ENDPOINTS, get_settings

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}  # as urlsplit().hostname gives them (no brackets)
BROKER_KEYS = ("orm", "redis", "broker_class", "iron_mq", "sqs", "mongo", "disque_nodes")


@register()
def check_settings(app_configs=None, **kwargs) -> list:
    try:
        config = get_settings()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="See the settings reference in the README.", id="smsc_status.E001")]
    problems: list[CheckMessage] = []
    wsdl = config.wsdl
    if wsdl and urlsplit(wsdl).scheme not in ("http", "https") and not Path(wsdl).expanduser().is_file():
        problems.append(
            Error(
                f"SMSC_STATUS['WSDL'] names a file that does not exist: {wsdl}",
                hint="Remove WSDL to use the copy shipped with the package.",
                id="smsc_status.E002",
            )
        )
    known_hosts = {urlsplit(u).hostname for u in KNOWN_ENDPOINTS}
    for url in config.endpoints:
        host = urlsplit(url).hostname or ""
        if host not in known_hosts and host not in LOCAL_HOSTS and not host.startswith("www"):
            problems.append(
                Warning(
                    f"{url} is not a known SMSC site",
                    hint=f"Known: {', '.join(KNOWN_ENDPOINTS)} (and www2..www5 backups).",
                    id="smsc_status.W001",
                )
            )
    return problems


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
    if any(cluster.get(key) for key in BROKER_KEYS):
        return []
    return [
        Warning(
            "Q_CLUSTER names no broker, so django-q2 will try Redis on localhost",
            hint='Set Q_CLUSTER = {"orm": "default", ...} to use the database as the broker.',
            id="smsc_status.W003",
        )
    ]
