"""The sent messages' admin: the changelist, the register form on add, the read-only change
page with the status history, and (through its mixins) refreshes and the delivery report."""

from __future__ import annotations

import contextlib
import json

from django.contrib import admin
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import csv_export, service, validation
from ..models import SentMessage, StatusSnapshot
from ..pagination import CappedPaginator
from .base import ViewingAdmin, datetime_display, short_datetime, status_badge
from .filters import AccountFilter, ErrFilter, SafeDateFieldListFilter, StateFilter, StatusFilter
from .forms import RegisterForm
from .refresh import RefreshActions
from .report import DeliveryReport, csv_response


class SnapshotInline(admin.TabularInline):
    model = StatusSnapshot
    extra = 0
    can_delete = False
    ordering = ("-observed_at", "-pk")
    fields = ("observed_at_local", "status_label", "err_label", "changed_at_local", "raw_pretty")
    readonly_fields = fields
    verbose_name_plural = _("status history (newest first)")
    template = "admin/django_smsc_status/sentmessage/snapshots.html"  # says when there is none
    observed_at_local = datetime_display(StatusSnapshot, "observed_at")
    changed_at_local = datetime_display(StatusSnapshot, "changed_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # Whoever may see a message may see its history; no separate snapshot permission.
        return request.user.has_perm("django_smsc_status.view_sentmessage") or request.user.has_perm(
            "django_smsc_status.change_sentmessage"
        )

    @admin.display(description=_("status"))
    def status_label(self, snapshot: StatusSnapshot) -> str:
        return status_badge(snapshot.status_info)

    @admin.display(description=_("delivery error"))
    def err_label(self, snapshot: StatusSnapshot) -> str:
        return snapshot.err_info.label if snapshot.err else self.get_empty_value_display()

    @admin.display(description=_("raw response"))
    def raw_pretty(self, snapshot: StatusSnapshot) -> str:
        return format_html(
            '<pre class="smsc-raw">{}</pre>',
            json.dumps(snapshot.raw, ensure_ascii=False, indent=1, sort_keys=True),
        )


@admin.register(SentMessage)
class SentMessageAdmin(RefreshActions, DeliveryReport, ViewingAdmin):
    # Short dates and no polling bookkeeping (on the change form), so the columns fit beside
    # the filters at 1400 px in Russian too.
    list_display = (
        "smsc_id",
        "phone",
        "account",
        "status_label",
        "err_label",
        "sent_at_short",
        "status_changed_at_short",
    )
    list_display_links = ("smsc_id", "phone")
    list_filter = (
        StatusFilter,
        StateFilter,
        ErrFilter,
        AccountFilter,
        ("created_at", SafeDateFieldListFilter),
        ("sent_at", SafeDateFieldListFilter),
    )
    # Exact SMSC id or phone (any format): both use an index (see get_search_results).
    search_fields = ("smsc_id", "phone")
    search_help_text = _("SMSC id, or phone number in any format")
    ordering = ("-created_at", "-pk")
    # No date_hierarchy: its SELECT DISTINCT over the dates scans the whole table on every
    # load (0.5 s per page at 100,000 messages on SQLite); the date filters remain.
    list_per_page = 50
    # Counting: no COUNT(*) over millions of rows to draw a page. The paginator counts at most
    # to the page asked for (or 10,000 rows), or takes PostgreSQL's estimate when unfiltered
    # (get_paginator); no "N total" beside a search; no facet counts (one COUNT per choice of
    # every filter over the filtered rows).
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ("refresh_now", "queue_refresh", "export_csv")
    inlines = (SnapshotInline,)
    add_form = RegisterForm
    change_form_template = "admin/django_smsc_status/sentmessage/change_form.html"
    # Not change_list.html: Django would give that to any admin of this model, report or not.
    change_list_template = "admin/django_smsc_status/sentmessage/change_list_with_report.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "account",
                    "smsc_id",
                    "phone",
                    "status_label",
                    "err_label",
                    "status_changed_at_local",
                    "polling_state",
                )
            },
        ),
        (
            _("Message"),
            {"fields": ("text", "sender", "sent_at_local", "cost", "sms_count", "operator", "region")},
        ),
        (
            _("Polling"),
            {
                "fields": (
                    "last_checked_at_local",
                    "previous_checked_at_local",
                    "pushed_at_local",
                    "next_check_at_local",
                    "check_attempts",
                    "last_request_error",
                    "quarantine_reason",
                    "refresh_queued_at_local",
                    "created_at_local",
                )
            },
        ),
    )

    class Media:
        css = {"all": ("django_smsc_status/admin.css",)}

    # The change page's times, through local_datetime (any stored value can be shown).
    sent_at_local = datetime_display(SentMessage, "sent_at")
    status_changed_at_local = datetime_display(SentMessage, "status_changed_at")
    last_checked_at_local = datetime_display(SentMessage, "last_checked_at")
    previous_checked_at_local = datetime_display(SentMessage, "previous_checked_at")
    pushed_at_local = datetime_display(SentMessage, "pushed_at")
    next_check_at_local = datetime_display(SentMessage, "next_check_at")
    refresh_queued_at_local = datetime_display(SentMessage, "refresh_queued_at")
    created_at_local = datetime_display(SentMessage, "created_at")

    def get_search_results(self, request, queryset, search_term):
        """Exact matches only: ``icontains``/``iexact`` would scan every row."""
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(smsc_id=term)
        with contextlib.suppress(ValidationError):  # not a phone number: the SMSC id only
            match |= Q(phone=validation.normalize_phone(term))
        return queryset.filter(match), False

    def get_ordering(self, request):
        """Filtered by send date, ordered by it (newest first) unless a column says otherwise:
        the sent_at index then reads only the page, where the created_at order would read
        every newer row before an old range (ChangeList asks this only without ``?o=``). The
        messages due now come most overdue first, off the due index: in creation order the
        page sorted every overdue message, seconds when a stopped worker left 100,000."""
        if any(name.startswith("sent_at__") and value for name, value in request.GET.items()):
            return ("-sent_at", "-pk")
        if request.GET.get("state") == "due":
            return ("next_check_at", "pk")
        return super().get_ordering(request)

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return CappedPaginator(
            queryset,
            per_page,
            orphans,
            allow_empty_first_page,
            page=request.GET.get(PAGE_VAR, 1),
            estimate=True,
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None) if isinstance(response, TemplateResponse) else None
        cl = (context or {}).get("cl")
        if cl is not None and not cl.paginator.is_exact:
            # Django's "All 10001 selected" would state a count nobody made.
            context["selection_note_all"] = gettext("All that match selected")
        return response

    # -- display -----------------------------------------------------------------------------

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, message: SentMessage) -> str:
        return status_badge(message.status_info)

    @admin.display(description=_("delivery error"), ordering="err")
    def err_label(self, message: SentMessage) -> str:
        return message.err_info.label if message.err else self.get_empty_value_display()

    @admin.display(description=_("sent at"), ordering="sent_at")
    def sent_at_short(self, message: SentMessage) -> str | None:
        return short_datetime(message.sent_at) if message.sent_at else None

    @admin.display(description=_("status changed at"), ordering="status_changed_at")
    def status_changed_at_short(self, message: SentMessage) -> str | None:
        return short_datetime(message.status_changed_at) if message.status_changed_at else None

    @admin.display(description=_("polling"))
    def polling_state(self, message: SentMessage) -> str:
        """Finality in words: a red or green icon would read as failure or success."""
        if message.is_final:
            return str(_("Final: no more checks"))
        if message.is_given_up:
            return str(_("Given up: no more automatic checks"))
        return str(_("Pending: checked again automatically"))

    # -- forms: register on add, read-only afterwards -----------------------------------------

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": ("account", "smsc_id", "phone", "text", "sender")}),)
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return  # nothing on the change form is editable
        data = form.cleaned_data
        message, _created = service.register(
            data["smsc_id"],
            data["phone"],
            account=data["account"],
            text=data.get("text", ""),
            sender=data.get("sender", ""),
        )
        obj.pk = message.pk
        obj._state.adding = False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if object_id:
            extra_context.update(show_delete=True, can_refresh=self.has_refresh_status_permission(request))
        return super().changeform_view(request, object_id, form_url, extra_context)

    # -- refresh -------------------------------------------------------------------------------
    def get_urls(self):
        opts = self.model._meta
        # Refreshes (the button, and the changelist's "Refresh status now" action) run outside
        # ATOMIC_REQUESTS: the limits' rows they write (request-slot leases, message claims)
        # must be seen by every other process while SMSC is asked, not at the response.
        non_atomic = transaction.non_atomic_requests(using=router.db_for_write(SentMessage))
        urls = super().get_urls()
        for url in urls:
            if url.name == f"{opts.app_label}_{opts.model_name}_changelist":
                non_atomic(url.callback)
        return [
            path(
                "<int:pk>/refresh/",
                non_atomic(self.admin_site.admin_view(self.refresh_view)),
                name=f"{opts.app_label}_{opts.model_name}_refresh",
            ),
            path(
                "report/",
                self.admin_site.admin_view(self.report_view),
                name=f"{opts.app_label}_{opts.model_name}_report",
            ),
            *urls,
        ]

    @admin.action(description=_("Export selected messages as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset):
        return csv_response(csv_export.messages_csv(queryset), "sent-messages.csv")
