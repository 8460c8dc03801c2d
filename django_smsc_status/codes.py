"""SMSC's three code vocabularies, with labels, finality and tolerant lookup.

* ``MessageStatus``: the ``status`` of a message (what happened to the SMS);
* ``DeliveryError``: ``err``, why a message could not be delivered;
* ``RequestError``: ``error``, why SMSC refused to answer the request itself.

SMSC adds codes over time, so every lookup tolerates unknown values: the raw integer is
what the database stores, and :func:`describe` turns any integer (or ``None``) into a label
without raising.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class MessageStatus(models.IntegerChoices):
    NOT_FOUND = -3, _("Not found at SMSC")
    STOPPED = -2, _("Stopped")
    WAITING = -1, _("Waiting to be sent")
    TRANSFERRED = 0, _("Transferred to operator")
    DELIVERED = 1, _("Delivered")
    READ = 2, _("Read")
    EXPIRED = 3, _("Expired")
    LINK_CLICKED = 4, _("Link clicked")
    IMPOSSIBLE = 20, _("Impossible to deliver")
    INVALID_NUMBER = 22, _("Invalid number")
    PROHIBITED = 23, _("Prohibited")
    INSUFFICIENT_FUNDS = 24, _("Insufficient funds")
    UNAVAILABLE_NUMBER = 25, _("Unavailable number")


#: Delivered, read or clicked. Final: SMSC may still move 1 to 2 or 4, but for SMS that is rare
#: and not worth polling for; a manual refresh still records it.
SUCCESS_STATUSES = frozenset({MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.LINK_CLICKED})
FAILURE_STATUSES = frozenset(
    {
        MessageStatus.EXPIRED,
        MessageStatus.IMPOSSIBLE,
        MessageStatus.INVALID_NUMBER,
        MessageStatus.PROHIBITED,
        MessageStatus.INSUFFICIENT_FUNDS,
        MessageStatus.UNAVAILABLE_NUMBER,
    }
)
#: Statuses after which polling stops. Everything else, unknown codes included, stays pending.
FINAL_STATUSES = SUCCESS_STATUSES | FAILURE_STATUSES


class DeliveryError(models.IntegerChoices):
    NONE = 0, _("No error")
    NO_SUBSCRIBER = 1, _("Subscriber does not exist")
    OFFLINE = 6, _("Subscriber is offline")
    SERVICE_NOT_CONNECTED = 11, _("Service not connected")
    PHONE_ERROR = 12, _("Error in the subscriber's phone")
    SUBSCRIBER_BLOCKED = 13, _("Subscriber blocked")
    NOT_SUPPORTED = 21, _("No support for the service")
    VIRTUAL = 200, _("Virtual sending (test mode)")
    SIM_REPLACED = 219, _("SIM card replaced")
    QUEUE_OVERFLOW = 220, _("Operator queue overflowed")
    NO_ANSWER = 237, _("No answer")
    NO_TEMPLATE = 238, _("No template")
    FORBIDDEN_IP = 239, _("Forbidden IP address")
    BUSY = 240, _("Busy")
    CONVERSION_ERROR = 241, _("Conversion error")
    ANSWERING_MACHINE = 242, _("Answering machine")
    NO_CONTRACT = 243, _("No contract")
    MAILINGS_PROHIBITED = 244, _("Mailings prohibited")
    STATUS_NOT_RECEIVED = 245, _("Status not received")
    TIME_RESTRICTION = 246, _("Time restriction")
    MESSAGE_LIMIT = 247, _("Message limit exceeded")
    NO_ROUTE = 248, _("No route")
    BAD_NUMBER_FORMAT = 249, _("Invalid number format")
    NUMBER_PROHIBITED_BY_SETTINGS = 250, _("Number prohibited by settings")
    PER_NUMBER_LIMIT = 251, _("Per-number limit exceeded")
    NUMBER_PROHIBITED = 252, _("Number prohibited")
    SPAM_FILTER = 253, _("Blocked by spam filter")
    UNREGISTERED_SENDER = 254, _("Unregistered sender ID")
    REJECTED_BY_OPERATOR = 255, _("Rejected by operator")


class RequestError(models.IntegerChoices):
    BAD_PARAMETERS = 1, _("Error in parameters")
    BAD_CREDENTIALS = 2, _("Invalid login or password, or IP address not allowed")
    NOT_FOUND = 3, _("Message not found")
    IP_BLOCKED = 4, _("IP address temporarily blocked")
    TOO_MANY_REQUESTS = 9, _("Too many requests for the same message or at once")


@dataclass(frozen=True)
class CodeInfo:
    """What is known of one code; ``is_known`` is False for codes SMSC added after this release."""

    code: int | None
    label: str
    is_known: bool
    is_final: bool = False
    is_success: bool = False


def describe(vocabulary: type[models.IntegerChoices], code: int | None) -> CodeInfo:
    """Look ``code`` up in ``vocabulary``; never raises, whatever the code."""
    if code is None:
        return CodeInfo(None, str(_("Not checked yet")), is_known=False)
    try:
        member = vocabulary(code)
    except ValueError:
        return CodeInfo(code, str(_("Unknown code %(code)s") % {"code": code}), is_known=False)
    final = vocabulary is MessageStatus and member in FINAL_STATUSES
    success = vocabulary is MessageStatus and member in SUCCESS_STATUSES
    return CodeInfo(code, str(member.label), is_known=True, is_final=final, is_success=success)


def describe_err(code: int | None, status: int | None) -> CodeInfo:
    """A message's (or snapshot's) ``err`` read beside its ``status``: no ``err`` with a status
    means SMSC gave none (error 3 stores status -3 and no ``err``), not "not checked yet"."""
    if code is None and status is not None:
        return CodeInfo(None, str(_("Not reported by SMSC")), is_known=False)
    return describe(DeliveryError, code)


_LIFECYCLE: dict[int, int] = {
    MessageStatus.NOT_FOUND: 0,
    MessageStatus.STOPPED: 1,
    MessageStatus.WAITING: 1,
    MessageStatus.TRANSFERRED: 2,
}


def lifecycle_rank(code: int | None) -> int:
    """How far along a message is: not found < waiting/stopped < at operator < final.

    SMSC's change times have one-second resolution; two statuses within one second are
    ordered by this rank instead (unknown codes rank with "at operator").
    """
    if code is None:
        return -1
    if code in FINAL_STATUSES:
        return 3
    return _LIFECYCLE.get(code, 2)


def is_final_status(code: int | None) -> bool:
    """True when polling a message with this status is pointless."""
    return code in FINAL_STATUSES
