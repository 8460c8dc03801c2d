"""The admin: status at a glance, filters, and refresh actions that go through ``service``.

Permissions: the "Refresh status now" and "Queue status refresh" actions and the change-form
button need the custom ``django_smsc_status.refresh_status`` permission ("Can refresh message
status from SMSC"); a superuser has it. The button POSTs (CSRF-protected); a GET changes nothing.

The "Delivery report" page (``report/``, linked from the changelist with its filters) and the
"Export as CSV" action need the view permission; their numbers come from ``service.stats``.

One module per page or part: ``sent_messages`` (with ``refresh`` and ``report`` as its
mixins, ``filters`` and ``forms``), ``logins``, ``pushes``; ``base`` holds what they share.
"""

from .base import REFRESH_PERMISSION, ViewingAdmin, local_datetime, short_datetime, status_badge
from .logins import LoginStateAdmin
from .pushes import ReceivedPushAdmin
from .refresh import OUTCOME_SENTENCES, outcome_level
from .sent_messages import SentMessageAdmin, SnapshotInline

__all__ = [
    "OUTCOME_SENTENCES",
    "REFRESH_PERMISSION",
    "LoginStateAdmin",
    "ReceivedPushAdmin",
    "SentMessageAdmin",
    "SnapshotInline",
    "ViewingAdmin",
    "local_datetime",
    "outcome_level",
    "short_datetime",
    "status_badge",
]
