"""What may enter the app: SMSC ids, phone numbers, senders and texts, checked in one place.

The service, the admin forms, the API serializers and the management command all call these,
so every entry refuses the same things with the same message: what SMSC or an XML envelope
cannot carry (control characters), phone numbers that are not phone numbers, and dates that
cannot be the time of an SMS (:func:`clean_date`; ``policy`` drops such dates from SMSC's
answers and ``stats`` counts stored ones as an unknown day, with the same window).

Each function returns the cleaned value or raises Django's ``ValidationError`` whose ``code``
names the field (``smsc_id``, ``phone``, ``sender``, ``text``, ``date``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy as _

#: Characters an XML 1.0 document cannot hold (the envelope builder would refuse them).
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

SMSC_ID_MAX = 40
SENDER_MAX = 20
DEFAULT_REGION = "RU"


def _has_control(value: str) -> bool:
    """Control, format or surrogate characters (``\\x01``, ``\\u200b``, ...)."""
    return bool(XML_INVALID.search(value)) or any(
        unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in value
    )


def clean_smsc_id(smsc_id: str | int) -> str:
    """SMSC's message id: 1 to 40 printable characters without spaces (SMSC's own are numbers)."""
    value = str(smsc_id).strip()
    if not value or len(value) > SMSC_ID_MAX or _has_control(value) or any(c.isspace() for c in value):
        raise ValidationError(
            _("An SMSC id is 1 to 40 characters without spaces or control characters."), code="smsc_id"
        )
    return value


def default_region() -> str:
    """``SMSC_STATUS["DEFAULT_REGION"]`` without validating the rest of the settings (migrations
    run where credentials may be missing)."""
    region = (getattr(settings, "SMSC_STATUS", None) or {}).get("DEFAULT_REGION")
    return str(region or DEFAULT_REGION).upper()


def normalize_phone(phone: str, region: str | None = None) -> str:
    """E.164 digits, as SMSC stores them: ``8 (999) 123-45-67`` -> ``79991234567``.

    Parsed with libphonenumber's data (``phonenumbers``) in ``region`` (default
    ``SMSC_STATUS["DEFAULT_REGION"]``, "RU"), so the national prefix (8 in Russia and
    Kazakhstan, 0 in Ukraine) is understood. Digits without ``+`` that are not a valid national
    number are tried as international (``380501234567`` in region RU). Anything that is not a
    valid phone number is refused.
    """
    text = str(phone).strip()
    invalid = ValidationError(_("Enter a valid phone number, e.g. +7 999 123-45-67."), code="phone")
    # Letters would be read as a keypad word ("abc" -> 222): refuse them.
    if not text or len(text) > 32 or any(not (c.isdigit() or c in "+ ()-./") for c in text):
        raise invalid
    candidates: list[tuple[str, str | None]] = [(text, region or default_region())]
    if text[0].isdigit():
        candidates.append(("+" + text, None))
    for candidate, candidate_region in candidates:
        try:
            number = phonenumbers.parse(candidate, candidate_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    raise invalid


def clean_sender(sender: str | None) -> str:
    """A sender name: at most 20 characters, no control characters; "" for none."""
    value = (sender or "").strip()
    if len(value) > SENDER_MAX or _has_control(value):
        raise ValidationError(
            _("A sender is at most 20 characters without control characters."), code="sender"
        )
    return value


def clean_text(text: str | None, *, required: bool = False) -> str:
    """Message text: anything SMS can carry (line breaks and tabs included), no other control
    characters."""
    value = text or ""
    if required and not value.strip():
        raise ValidationError(_("The message text is empty."), code="text")
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r" for c in value):
        raise ValidationError(_("The text contains control characters that SMS cannot carry."), code="text")
    return value


#: The earliest time a message tracked here can have been sent or changed: a floor well before any
#: real one, and far from year 1, where a shift to a time zone west of UTC leaves the calendar.
EARLIEST_DATE = datetime(2000, 1, 1, tzinfo=timezone.utc)
#: How far ahead of our clock a time may be: SMSC's clock and ours may differ, and a local time
#: taken for UTC is off by at most 14 hours. A change time further ahead would make every later
#: real status look older (and be ignored); a date near year 9999 cannot even be shown in a
#: time zone east of UTC.
FUTURE_LEEWAY = timedelta(days=1)


def date_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """``(earliest, latest)`` that a sending or status-change time may take (both included)."""
    return EARLIEST_DATE, (now or django_timezone.now()) + FUTURE_LEEWAY


def is_plausible_date(value: datetime, now: datetime | None = None) -> bool:
    """``value`` (aware) lies in :func:`date_window`."""
    earliest, latest = date_window(now)
    return earliest <= value <= latest


def clean_date(value: datetime | None, now: datetime | None = None) -> datetime | None:
    """An aware datetime in :func:`date_window`, as UTC; None stays None."""
    if value is None:
        return None
    if django_timezone.is_naive(value):
        raise ValidationError(_("Give the time with its time zone."), code="date")
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        utc = None
    if utc is None or not is_plausible_date(utc, now):
        raise ValidationError(_("A date must lie between 2000-01-01 and one day from now."), code="date")
    return utc
