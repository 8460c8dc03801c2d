"""Accounts and the cached settings: which accounts ``SMSC_STATUS`` configures, what each one
inherits from the top-level keys, and the validated settings kept until the settings change.
"""

from __future__ import annotations

import copy

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from ..redaction import RedactedSettings
from . import defaults
from .defaults import ACCOUNT_NAME, CREDENTIALS, DEFAULT_ACCOUNT, DEFAULTS, OWN_ONLY, SETTINGS_NAME, SITE_KEYS
from .values import Key, SmscSettings, _error, _validate


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
        self.user, self.floors = user, dict(defaults.FLOORS)
        self.named: dict[str, RedactedSettings] | None = None
        self.accounts: dict[str, SmscSettings] = {}

    def __repr__(self) -> str:
        return f"<{SETTINGS_NAME} as read: {', '.join(self.accounts) or 'no account yet'}>"


_read: _Read | None = None


def _current() -> _Read:
    """What was read from the settings as they are now, read again if they changed."""
    global _read
    read = _read  # the settings themselves are never held in a local: see _user_settings
    if (
        read is None
        or read.floors != defaults.FLOORS
        or read.raw != getattr(django_settings, SETTINGS_NAME, None)
    ):
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
