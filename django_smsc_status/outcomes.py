"""What a refresh can come to: one result per message, counts for a sweep."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .error_types import error_type
from .exceptions import SmscCallRefused, SmscError
from .models import SentMessage, StatusSnapshot


class Outcome(models.TextChoices):
    CHANGED = "changed", _("status changed")
    UNCHANGED = "unchanged", _("no change")
    TOO_SOON = "too_soon", _("checked moments ago; stored status shown")
    REQUEST_ERROR = "request_error", _("SMSC refused the request")
    TRANSPORT_ERROR = "transport_error", _("SMSC could not be reached")
    REFUSED = "refused", _("not asked: refused before calling SMSC")
    QUARANTINED = "quarantined", _("not asked: the message holds data SMSC cannot be asked about")
    FAILED = "failed", _("refresh failed on our side; see the log")


@dataclass(frozen=True)
class RefreshResult:
    """What happened to one message. ``message`` is the row as stored after the refresh."""

    message: SentMessage
    outcome: Outcome
    error: SmscError | None = None
    snapshot: StatusSnapshot | None = None
    retry_after: float | None = None  # seconds until asking again makes sense

    @property
    def detail(self) -> str:
        """The outcome in the user's language; the technical error is ``str(error)``."""
        if self.outcome == Outcome.TOO_SOON and self.retry_after:
            return str(
                _("checked moments ago; stored status shown; a check is allowed again in %(seconds)d s")
                % {"seconds": math.ceil(self.retry_after)}
            )
        if self.error is None:
            return str(self.outcome.label)
        return f"{self.outcome.label}: {error_type(self.error)[1]}"


@dataclass
class RefreshReport:
    """Counts per outcome of a large refresh (the sweep keeps no per-message list)."""

    counts: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    paused: SmscCallRefused | None = None  # set when the sweep did not run at all
    aborted: str = ""  # why the sweep stopped early (an error outside any one message)
    skipped: dict[str, str] = field(default_factory=dict)  # account -> why it was not (fully) served
    out_of_time: bool = False  # the sweep stopped claiming for its time limit; the rest stays due

    def add(self, result: RefreshResult) -> None:
        self.counts[result.outcome] += 1
        if result.error is not None:
            self.errors[result.error.detail] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        if self.paused:
            return f"not run: {self.paused}"
        parts = [f"{n} {Outcome(o).label}" for o, n in self.counts.most_common()]
        total = ngettext("%(count)d message", "%(count)d messages", self.total) % {"count": self.total}
        text = total + (": " + ", ".join(parts) if parts else "")
        for account, why in self.skipped.items():
            text += f"; account {account}: {why}"
        if self.out_of_time:
            text += "; stopped for time (the worker's timeout): the rest stays due for the next sweep"
        return text + (f"; stopped early: {self.aborted}" if self.aborted else "")
