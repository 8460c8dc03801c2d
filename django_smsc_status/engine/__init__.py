"""How a refresh runs: claims, one request thread per leased slot, and writing the answers.

``service`` says what to refresh; ``sweep`` groups it per SMSC account and calls :class:`Run`
with one :class:`Lane` per account, each with its own leased request slots and a source of that
account's messages (:class:`Listed` for a caller's selection, :class:`Due` for the sweep). The
lanes are served in turn from one calling thread, so accounts run in parallel and none starves another:

1. Messages are **claimed** just before a slot can take them (``limits.claim_messages`` /
   ``limits.claim_due``): a conditional UPDATE stamps ``last_checked_at`` with the latest moment
   the request may reach SMSC, so however many processes refresh at once, two requests about
   one message are ``MIN_CHECK_INTERVAL`` apart; messages asked moments ago are answered from
   the database ("too soon"). A sweep claims only messages no other process holds.
2. One thread per leased request slot takes claimed messages in order from a queue and only
   talks to SMSC, never to the database; a message it gets too late is dropped unsent.
3. The calling thread writes the answers in batches, in one transaction each (rows locked with
   ``SELECT ... FOR UPDATE`` where the database has it), row by row if a batch fails. How an
   answer changes a message is ``policy``'s business; ``status_changed`` is sent after commit.

The package: ``sweep`` (the sweep's passes and a selection's lanes, behind ``service``),
``lanes`` (lanes and their sources, claiming), ``loop`` (:class:`Run`), ``gate``
(where signals may raise) and ``writes`` (applying answers). ``from django_smsc_status import
engine`` and ``engine.<name>`` reach every public name; a setting read inside the loop, such as
``FINISH_MARGIN`` or ``FLUSH_SECONDS``, is ``engine.loop.<name>`` (``FOLLOW_PAUSE``:
``engine.sweep``).
"""

from . import sweep  # noqa: F401 - engine.sweep, where FOLLOW_PAUSE is read
from .gate import HELD_SIGNALS
from .lanes import QUEUE_SPAN, Allowance, Due, Lane, Listed, refused, too_soon
from .loop import (
    FINISH_MARGIN,
    FLUSH_SECONDS,
    UNPROVEN_HELD_BACK,
    UNREADABLE_WHILE_UNPROVED,
    Run,
    longest_request,
)
from .writes import UPDATED_FIELDS

__all__ = [
    "FINISH_MARGIN",
    "FLUSH_SECONDS",
    "HELD_SIGNALS",
    "QUEUE_SPAN",
    "UNPROVEN_HELD_BACK",
    "UNREADABLE_WHILE_UNPROVED",
    "UPDATED_FIELDS",
    "Allowance",
    "Due",
    "Lane",
    "Listed",
    "Run",
    "longest_request",
    "refused",
    "too_soon",
]
