"""Refreshing from the admin: the button, the actions, and how their outcome is told."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy
from django.views.decorators.http import require_POST

from .. import service
from ..conf import get_settings
from ..error_types import error_type
from ..models import SentMessage
from ..service import Outcome
from .base import REFRESH_PERMISSION

#: One sentence per outcome of a refresh, by count (the admin's summary of a selection).
OUTCOME_SENTENCES = {
    Outcome.CHANGED: ngettext_lazy("%(n)d status changed.", "%(n)d statuses changed.", "n"),
    Outcome.UNCHANGED: ngettext_lazy("%(n)d message unchanged.", "%(n)d messages unchanged.", "n"),
    Outcome.TOO_SOON: ngettext_lazy(
        "%(n)d message was checked moments ago: its stored status is shown.",
        "%(n)d messages were checked moments ago: their stored status is shown.",
        "n",
    ),
    Outcome.REQUEST_ERROR: ngettext_lazy(
        "SMSC refused the request for %(n)d message.", "SMSC refused the request for %(n)d messages.", "n"
    ),
    Outcome.TRANSPORT_ERROR: ngettext_lazy(
        "SMSC could not be reached for %(n)d message.", "SMSC could not be reached for %(n)d messages.", "n"
    ),
    Outcome.REFUSED: ngettext_lazy(
        "%(n)d message was not asked about: refused before calling SMSC.",
        "%(n)d messages were not asked about: refused before calling SMSC.",
        "n",
    ),
    Outcome.QUARANTINED: ngettext_lazy(
        "%(n)d message was not asked about: it holds data SMSC cannot be asked about.",
        "%(n)d messages were not asked about: they hold data SMSC cannot be asked about.",
        "n",
    ),
    Outcome.FAILED: ngettext_lazy(
        "Refreshing %(n)d message failed on our side (see the log).",
        "Refreshing %(n)d messages failed on our side (see the log).",
        "n",
    ),
}


def outcome_level(result: service.RefreshResult) -> int:
    """Green only when SMSC answered with a status; warning when not asked; error on failure.
    (Django's admin shows INFO as green too, so it is never used here.)"""
    if result.outcome in (Outcome.CHANGED, Outcome.UNCHANGED):
        return messages.SUCCESS
    if result.outcome in (Outcome.TOO_SOON, Outcome.REFUSED):
        return messages.WARNING
    return messages.ERROR


class RefreshActions(admin.ModelAdmin):
    """The change page's "Refresh status now" button and the changelist's refresh actions,
    each through ``service``, summed up in one message per outcome."""

    def has_refresh_status_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REFRESH_PERMISSION)

    def refresh_view(self, request: HttpRequest, pk: int):
        return require_POST(self._refresh_one)(request, pk)

    def _refresh_one(self, request: HttpRequest, pk: int):
        if not self.has_refresh_status_permission(request):
            raise PermissionDenied
        message = get_object_or_404(SentMessage, pk=pk)
        result = service.refresh(message)
        detail, label = result.detail, result.message.status_info.label
        self.message_user(
            request,
            # the status only when the outcome did not already say it (error 3: "Not found at SMSC")
            format_html("{}: {}", message, detail)
            if str(label) in detail
            else format_html("{}: {} — {}", message, detail, label),
            outcome_level(result),
        )
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[pk],
                current_app=self.admin_site.name,
            )
        )

    @admin.action(description=_("Refresh status now"), permissions=["refresh_status"])
    def refresh_now(self, request: HttpRequest, queryset) -> None:
        limit = get_settings().sync_refresh_limit
        count = queryset.count()
        if count > limit:
            self.message_user(
                request,
                ngettext(
                    "%(count)d message is too many to refresh while you wait (the limit is "
                    "%(limit)d). Use “Queue status refresh” instead.",
                    "%(count)d messages are too many to refresh while you wait (the limit is "
                    "%(limit)d). Use “Queue status refresh” instead.",
                    count,
                )
                % {"count": count, "limit": limit},
                messages.WARNING,
            )
            return
        results = service.refresh_many(queryset.order_by("pk"))
        self._summarize(request, results)

    @admin.action(description=_("Queue status refresh"), permissions=["refresh_status"])
    def queue_refresh(self, request: HttpRequest, queryset) -> None:
        from ..tasks import enqueue_refresh

        queued = enqueue_refresh(queryset.values_list("pk", flat=True))
        level = messages.SUCCESS if queued else messages.WARNING
        skipped = queryset.count() - queued
        text = ngettext(
            "Queued a status refresh of %(n)d message.", "Queued a status refresh of %(n)d messages.", queued
        ) % {"n": queued}
        if skipped:
            text += " " + ngettext("%(n)d was already queued.", "%(n)d were already queued.", skipped) % {
                "n": skipped
            }
        self.message_user(request, text, level)

    def _summarize(self, request: HttpRequest, results: list[service.RefreshResult]) -> None:
        counts = {outcome: 0 for outcome in Outcome}
        for result in results:
            counts[result.outcome] += 1
        summary = " ".join(
            [
                ngettext("Refreshed %(n)d message:", "Refreshed %(n)d messages:", len(results))
                % {"n": len(results)},
                *(OUTCOME_SENTENCES[outcome] % {"n": n} for outcome, n in counts.items() if n),
            ]
        )
        failed = [r for r in results if r.error is not None]
        levels = {outcome_level(r) for r in results}
        level = (
            messages.SUCCESS
            if levels <= {messages.SUCCESS}
            else messages.WARNING
            if messages.SUCCESS in levels or messages.ERROR not in levels
            else messages.ERROR
        )
        self.message_user(request, summary, level)
        reasons: dict[str, list[str]] = {}
        for result in failed:
            assert result.error is not None  # failed holds only results with an error
            reasons.setdefault(error_type(result.error)[1], []).append(str(result.message))
        for reason, which in list(reasons.items())[:5]:
            shown = ", ".join(which[:5]) + ("…" if len(which) > 5 else "")
            self.message_user(request, f"{reason}: {shown}", messages.ERROR)
