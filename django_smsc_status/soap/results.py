"""What SMSC's answers mean as Python values: immutable result types, read from the answer's fields.

Kept apart from the client so that callers needing only the types (``policy``, the engine) do not
import zeep's machinery, and so that the reading rules (SMSC times are Moscow time, counts are
32-bit) sit in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from ..exceptions import SmscMalformedResponse
from ..validation import clean_smsc_id

MOSCOW = ZoneInfo("Europe/Moscow")


@dataclass(frozen=True)
class StatusResult:
    """One ``get_status`` answer. Dates are aware UTC; absent fields are ``None`` or ``""``."""

    status: int
    err: int | None
    changed_at: datetime | None
    sent_at: datetime | None = None
    phone: str = ""
    cost: Decimal | None = None
    sender: str = ""
    status_name: str = ""
    text: str = ""
    sms_count: int | None = None
    operator: str = ""
    region: str = ""
    raw: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SendResult:
    """One ``send_sms`` answer: SMSC's message id and what the sending cost."""

    smsc_id: str
    sms_count: int | None
    cost: Decimal | None
    balance: Decimal | None
    raw: Mapping[str, str] = field(default_factory=dict, compare=False)


def _int(fields: Mapping[str, str], name: str, *, required: bool = False) -> int | None:
    value = fields.get(name, "")
    if value == "":
        if required:
            raise SmscMalformedResponse(f"response has no {name!r}")
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise SmscMalformedResponse(f"{name!r} is not an integer: {value[:40]!r}") from exc
    if not -(2**31) <= number < 2**31:  # codes and counts are 32-bit columns
        raise SmscMalformedResponse(f"{name!r} is out of range: {value[:40]!r}")
    return number


def _decimal(value: str | None) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def parse_smsc_time(timestamp: str | None, text: str | None) -> datetime | None:
    """An aware UTC datetime from a unix ``*_timestamp``, else from Moscow-time ``DD.MM.YYYY hh:mm:ss``."""
    if timestamp:
        try:
            return datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            pass
    if text:
        try:
            local = datetime.strptime(text, "%d.%m.%Y %H:%M:%S").replace(tzinfo=MOSCOW)
        except ValueError:
            return None
        return local.astimezone(timezone.utc)
    return None


def _status_result(fields: Mapping[str, str]) -> StatusResult:
    status = _int(fields, "status", required=True)
    assert status is not None  # required=True raises instead
    return StatusResult(
        status=status,
        err=_int(fields, "err"),
        changed_at=parse_smsc_time(fields.get("last_timestamp"), fields.get("last_date")),
        sent_at=parse_smsc_time(fields.get("send_timestamp"), fields.get("send_date")),
        phone=fields.get("phone", ""),
        cost=_decimal(fields.get("cost")),
        sender=fields.get("sender_id", ""),
        status_name=fields.get("status_name", ""),
        text=fields.get("message", ""),
        sms_count=_int(fields, "sms_cnt"),
        operator=fields.get("operator", ""),
        region=fields.get("region", ""),
        raw=MappingProxyType(dict(fields)),
    )


def _send_result(fields: Mapping[str, str]) -> SendResult:
    if not fields.get("id"):
        raise SmscMalformedResponse("send_sms response has no message id")
    try:  # an id no message can be stored under (too long, control characters) is no answer
        smsc_id = clean_smsc_id(fields["id"])
    except ValidationError:
        raise SmscMalformedResponse("send_sms response has a message id no SMSC message has") from None
    return SendResult(
        smsc_id=smsc_id,
        sms_count=_int(fields, "cnt"),
        cost=_decimal(fields.get("cost")),
        balance=_decimal(fields.get("balance")),
        raw=MappingProxyType(dict(fields)),
    )


def _balance(fields: Mapping[str, str]) -> Decimal:
    balance = _decimal(fields.get("balance"))
    if balance is None:
        raise SmscMalformedResponse("balance is missing or not a number")
    return balance
