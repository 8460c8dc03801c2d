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

The package, by concern: ``defaults`` (every key, its default, the floors), ``values``
(validating one account's values into :class:`SmscSettings`) and ``accounts`` (the accounts,
inheritance and the cached settings). ``conf.<name>`` reaches every name below; ``FLOORS`` is
read as ``conf.defaults.FLOORS``, so lift it there.
"""

from .accounts import UnknownAccount, account_names, get_settings
from .defaults import (
    ACCOUNT_NAME,
    CREDENTIALS,
    DEFAULT_ACCOUNT,
    DEFAULTS,
    FLOORS,
    KNOWN_ENDPOINTS,
    OWN_ONLY,
    PUSH_TOKEN,
    RETENTION_DEFAULTS,
    SETTINGS_NAME,
    SITE_KEYS,
)
from .values import DEFAULT_PORTS, Retention, SmscSettings, site_of

__all__ = [
    "ACCOUNT_NAME",
    "CREDENTIALS",
    "DEFAULTS",
    "DEFAULT_ACCOUNT",
    "DEFAULT_PORTS",
    "FLOORS",
    "KNOWN_ENDPOINTS",
    "OWN_ONLY",
    "PUSH_TOKEN",
    "RETENTION_DEFAULTS",
    "SETTINGS_NAME",
    "SITE_KEYS",
    "Retention",
    "SmscSettings",
    "UnknownAccount",
    "account_names",
    "get_settings",
    "site_of",
]
