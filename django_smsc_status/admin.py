"""The admin: status at a glance, filters, and refresh actions that go through ``service``.

Permissions: the "Refresh status now" and "Queue status refresh" actions and the change-form
button need the custom ``django_smsc_status.refresh_status`` permission ("Can refresh message
status from SMSC"); a superuser has it. The button POSTs (CSRF-protected); a GET changes nothing.

The "Delivery report" page (``report/``, linked from the changelist with its filters) and the
"Export as CSV" action need the view permission; their numbers come from ``service.stats``.
"""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import timezone as dt_timezone

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router, transaction
from django.db.models import Q
from django.http import (
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from . import charts, csv_export, service, validation
from .codes import DeliveryError, MessageStatus, describe
from .conf import DEFAULT_ACCOUNT, account_names, get_settings
from .error_types import error_type
from .models import POLLING_STATES, AccountState, PushCounter, ReceivedPush, SentMessage, StatusSnapshot
from .service import Outcome

REFRESH_PERMISSION = "django_smsc_status.refresh_status"


def status_badge(info) -> str:
    """Green only for success, red for failure, dark amber for "not found at SMSC" (still
    polled), amber for pending, grey for not checked or unknown codes."""
    kind = (
        "success"
        if info.is_success
        else "failure"
        if info.is_final
        else "notfound"
        if info.code == MessageStatus.NOT_FOUND
        else "pending"
        if info.is_known
        else "unknown"
    )
    return format_html(
        '<span class="smsc-badge {}" title="{}">{}</span>',
        kind,
        "" if info.code is None else info.code,
        info.label,
    )


#: The report's CSV links: one file per grouping (a stats.GROUPS key).
CSV_GROUP_LABELS = {
    "day": _("by day"),
    "operator": _("by operator"),
    "region": _("by region"),
    "err": _("by delivery error"),
    "status": _("by status"),
    "account": _("by account"),
}

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


#: SMSC's codes are small; a filter value outside a 32-bit integer is refused before the query.
CODE_RANGE = range(-(2**31), 2**31)


def code_param(value: str) -> int:
    """A code typed in the query string: ``?status=abc``, ``1.5``, ``1e3`` or one beyond any
    column is a bad filter (Django's ``?e=1`` redirect), not a 500."""
    try:
        code = int(value)
    except ValueError:
        code = None
    if code is None or code not in CODE_RANGE:
        raise IncorrectLookupParameters(f"not a code: {value[:20]!r}")
    return code


def refuse_nul(request: HttpRequest) -> None:
    """A query-string value with a NUL character (PostgreSQL refuses to compare it) is a bad
    filter, as Django's form fields say: changelists and the report redirect."""
    if any("\x00" in value for _name, values in request.GET.lists() for value in values):
        raise IncorrectLookupParameters("NUL character in the query string")


class ViewingAdmin(admin.ModelAdmin):
    """Rows that are viewed and acted on, never edited: Django's own "view" titles and no Save
    buttons (Django shows them only to users without the change permission), and a NUL in
    the query string refused as a bad filter."""

    def get_changelist_instance(self, request):
        refuse_nul(request)
        return super().get_changelist_instance(request)

    def changelist_view(self, request, extra_context=None):
        title = gettext("Select %s to view") % self.model._meta.verbose_name
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id:
            extra_context = {
                "show_save": False,
                "show_save_and_continue": False,
                "show_save_and_add_another": False,
                "title": gettext("View %s") % self.model._meta.verbose_name,
                **(extra_context or {}),
            }
        return super().changeform_view(request, object_id, form_url, extra_context)


class StatusFilter(admin.SimpleListFilter):
    title = capfirst(_("status"))  # Russian shows the bare title
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [
            ("none", _("Not checked yet")),
            *((str(s.value), s.label) for s in MessageStatus),
            ("other", _("Unknown code")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(status__isnull=True)
        if value == "other":
            return queryset.exclude(status__in=MessageStatus.values).exclude(status__isnull=True)
        if value:
            return queryset.filter(status=code_param(value))
        return queryset


class StateFilter(admin.SimpleListFilter):
    title = capfirst(_("polling"))
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return POLLING_STATES

    def queryset(self, request, queryset):
        return queryset.in_state(self.value()) if self.value() in dict(POLLING_STATES) else queryset


class AccountFilter(admin.SimpleListFilter):
    """The configured accounts, and "not in settings" for rows naming an account removed since
    (their refreshes are refused; check W004 counts them). No query: a DISTINCT over every
    row's account would scan the whole table on each page load."""

    title = capfirst(_("account"))
    parameter_name = "account"
    NOT_CONFIGURED = "_none"  # no account name starts with "_" (conf.ACCOUNT_NAME)

    def lookups(self, request, model_admin):
        return [*((name, name) for name in account_names()), (self.NOT_CONFIGURED, _("Not in settings"))]

    def queryset(self, request, queryset):
        if self.value() == self.NOT_CONFIGURED:
            return queryset.exclude(account__in=account_names())
        if self.value():  # any name, configured or not (?account=old typed by hand)
            return queryset.filter(account=self.value())
        return queryset


class ErrFilter(admin.SimpleListFilter):
    title = capfirst(_("delivery error"))
    parameter_name = "err"

    def lookups(self, request, model_admin):
        """ "Any error", then only the codes that occur (SMSC has some 30), by code."""
        present = (
            model_admin.get_queryset(request)
            .exclude(Q(err__isnull=True) | Q(err=0))
            .order_by("err")
            .values_list("err", flat=True)
            .distinct()
        )
        return [("any", _("Any error")), *((str(code), _err_option(code)) for code in present)]

    def queryset(self, request, queryset):
        if self.value() == "any":
            return queryset.exclude(Q(err__isnull=True) | Q(err=0))
        if self.value():
            return queryset.filter(err=code_param(self.value()))
        return queryset


def local_datetime(value, format: str = "DATETIME_FORMAT") -> str:
    """``value`` in the locale's ``format`` and the current time zone; in UTC (and marked so)
    when the local time would leave the calendar (9999-12-31T22:00Z east of UTC, stored before
    dates were checked)."""
    try:
        return formats.date_format(timezone.localtime(value), format)
    except OverflowError:
        return f"{formats.date_format(value.astimezone(dt_timezone.utc), format)} UTC"


def short_datetime(value) -> str:
    """``29.11.2026 10:27`` (the locale's short format) in the current time zone."""
    return local_datetime(value, "SHORT_DATETIME_FORMAT")


def datetime_display(model, name: str):
    """A read-only admin column showing the datetime field ``name`` with :func:`local_datetime`
    (Django's own display raises ``OverflowError`` on such a value: a 500 for the page)."""

    @admin.display(description=model._meta.get_field(name).verbose_name, ordering=name)
    def show(model_admin, obj) -> str:
        value = getattr(obj, name)
        return model_admin.get_empty_value_display() if value is None else local_datetime(value)

    return show


class SafeDateFieldListFilter(admin.DateFieldListFilter):
    """Django's date filter, with a bound that cannot be a UTC time (``?sent_at__gte=0001-01-01``
    east of UTC) refused like any other bad filter value, instead of failing in the query."""

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = capfirst(self.title)
        for name in (self.lookup_kwarg_since, self.lookup_kwarg_until):
            values = self.used_parameters.get(name) or []
            for value in values if isinstance(values, list) else [values]:
                try:
                    moment = field.to_python(value)
                    if moment is not None and timezone.is_naive(moment):
                        moment = timezone.make_aware(moment)
                    if moment is not None:
                        moment.astimezone(dt_timezone.utc)
                except (ValidationError, ValueError, OverflowError) as exc:
                    raise IncorrectLookupParameters(exc) from None


def _err_option(code: int) -> str:
    info = describe(DeliveryError, code)
    return f"{code} · {info.label}" if info.is_known else info.label


class RegisterForm(forms.ModelForm):
    """Register a message sent elsewhere; a duplicate is reported once, not created again."""

    # First, so that the phone is read in the chosen account's DEFAULT_REGION.
    account = forms.ChoiceField(
        label=capfirst(_("account")),  # as Django labels the model's fields
        initial=DEFAULT_ACCOUNT,
        required=False,  # left out: the default account, as service.register does
        help_text=_("The SMSC account (in SMSC_STATUS) the message was sent through."),
    )

    class Meta:
        model = SentMessage
        fields = ("account", "smsc_id", "phone", "text", "sender")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Read now, not at import: settings may change (override_settings, a reload).
        self.fields["account"].choices = [(name, name) for name in account_names()]  # type: ignore[attr-defined]

    def clean_account(self) -> str:
        return self.cleaned_data.get("account") or DEFAULT_ACCOUNT

    def clean_smsc_id(self) -> str:
        return validation.clean_smsc_id(self.cleaned_data["smsc_id"])

    def clean_phone(self) -> str:
        account = self.cleaned_data.get("account")
        region = get_settings(account).default_region if account else None
        return validation.normalize_phone(self.cleaned_data["phone"], region)

    def clean_text(self) -> str:
        return validation.clean_text(self.cleaned_data.get("text"))

    def clean_sender(self) -> str:
        return validation.clean_sender(self.cleaned_data.get("sender"))

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if data.get("smsc_id") and data.get("phone"):
            existing = SentMessage.objects.filter(
                account=data.get("account", DEFAULT_ACCOUNT), smsc_id=data["smsc_id"], phone=data["phone"]
            ).first()
            if existing:
                # On the field, so the model's unique constraint (which skips fields with errors)
                # does not report the same duplicate a second time.
                self.add_error(
                    "smsc_id",
                    ValidationError(
                        _("This message is already tracked (#%(pk)s)."),
                        code="duplicate",
                        params={"pk": existing.pk},
                    ),
                )
        return data


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
class SentMessageAdmin(ViewingAdmin):
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
    show_full_result_count = False  # a COUNT(*) over millions of rows is not worth it
    actions = ("refresh_now", "queue_refresh", "export_csv")
    inlines = (SnapshotInline,)
    add_form = RegisterForm
    change_form_template = "admin/django_smsc_status/sentmessage/change_form.html"
    # Not change_list.html: Django would give that to any admin of this model, report or not.
    change_list_template = "admin/django_smsc_status/sentmessage/change_list_with_report.html"
    report_template = "admin/django_smsc_status/sentmessage/report.html"
    #: How many operators, regions and errors the report draws.
    report_top = 10
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

    def has_refresh_status_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REFRESH_PERMISSION)

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
        from .tasks import enqueue_refresh

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

    @admin.action(description=_("Export selected messages as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset):
        return _csv_response(csv_export.messages_csv(queryset), "sent-messages.csv")

    # -- delivery report -----------------------------------------------------------------------

    REPORT_PARAMS = ("format", "group")  # the report's own; everything else is a changelist filter

    def get_changelist(self, request: HttpRequest, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        if not getattr(request, "_smsc_filters_only", False):
            return changelist

        class FiltersOnly(changelist):  # type: ignore[valid-type,misc]  # mypy takes no dynamic base
            def get_results(self, request):  # no COUNT, no page: the report aggregates
                self.result_count = self.full_result_count = None
                self.result_list = self.queryset.none()

        return FiltersOnly

    def filtered_changelist(self, request: HttpRequest):
        """The changelist of this request's filters and search, without its page of rows."""
        changelist_request = copy.copy(request)
        query = request.GET.copy()
        for name in self.REPORT_PARAMS:
            query.pop(name, None)
        changelist_request.GET = query  # type: ignore[assignment]  # stubs allow only an immutable GET
        changelist_request._smsc_filters_only = True  # type: ignore[attr-defined]  # a marker for get_changelist
        return self.get_changelist_instance(changelist_request)

    def report_view(self, request: HttpRequest):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        opts = self.model._meta
        try:
            changelist = self.filtered_changelist(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_report", current_app=self.admin_site.name)
            )
        queryset = changelist.queryset
        if request.GET.get("format") == "csv":
            group = request.GET.get("group", "day")
            if group not in service.STATS_GROUPS:
                return HttpResponseBadRequest(
                    f"group must be one of {', '.join(service.STATS_GROUPS)}", content_type="text/plain"
                )
            return _csv_response(
                csv_export.stats_csv(service.stats(queryset, group), group), f"delivery-report-{group}.csv"
            )
        days = service.stats(queryset, "day")
        top = self.report_top
        errors = queryset.exclude(Q(err__isnull=True) | Q(err=0))
        sections = [
            (_("Top operators"), "operator", service.stats(queryset, "operator", limit=top)),
            (_("Top regions"), "region", service.stats(queryset, "region", limit=top)),
            (_("Top delivery errors"), "err", service.stats(errors, "err", limit=top)),
        ]
        query = changelist.get_query_string(remove=[*self.REPORT_PARAMS])
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "title": _("Delivery report"),
            "changelist": changelist,
            "changelist_query": query,
            "active_filters": _active_filters(changelist),
            "totals": service.combine_stats(days),  # the days add up: no second scan
            "days": days,
            "volume_chart": charts.daily_volume(days, str(_("Messages and delivery rate per day"))),
            "cost_chart": charts.daily_cost(days, str(_("Cost per day"))),
            "sections": [
                (title, group, rows, charts.top_bars(rows, str(title))) for title, group, rows in sections
            ],
            "csv_groups": [(group, CSV_GROUP_LABELS.get(group, group)) for group in service.STATS_GROUPS],
            "empty": self.get_empty_value_display(),
        }
        return TemplateResponse(request, self.report_template, context)

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


def _csv_response(lines, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _active_filters(changelist) -> list[tuple[str, str]]:
    """``(title, chosen value)`` of each changelist filter in use, and the search term."""
    chosen = []
    for spec in changelist.filter_specs:
        for choice in spec.choices(changelist):
            if choice.get("selected") and choice.get("query_string") != changelist.get_query_string(
                remove=spec.expected_parameters()
            ):
                chosen.append((str(spec.title), str(choice["display"])))
    if changelist.query:
        chosen.append((str(_("search")), changelist.query))
    return chosen


def _per_row(state: AccountState, key: str, compute):
    """``compute()`` once per row object: several columns (and the change view) show parts of
    one answer, and each computation costs queries."""
    cache = vars(state)
    if key not in cache:
        cache[key] = compute()
    return cache[key]


@admin.register(AccountState)
class AccountStateAdmin(ViewingAdmin):
    """Where a tripped circuit breaker (error 2) or an IP block (error 4) shows, and is reset.

    A row is a login at a site (SMSC counts its limits per login), not an account: the
    "accounts" column names the configured accounts that use it, and resetting a row resets
    them all."""

    # Health in words (a green tick on a paused login would read as good), and few enough
    # columns to fit beside nothing at 1280 px in Russian too.
    list_display = ("login", "site", "accounts", "health", "auth_errors", "next_call_at", "updated_at_short")
    readonly_fields = (
        "login",
        "site",
        "accounts",
        "health",
        "paused_until_local",
        "pause_code",
        "verified_at_local",
        "auth_errors",
        "next_call_at",
        "updated_at_local",
        "pushes",
    )
    fields = readonly_fields
    actions = ("reset",)

    class Media:
        css = {"all": ("django_smsc_status/admin.css",)}

    paused_until_local = datetime_display(AccountState, "paused_until")
    verified_at_local = datetime_display(AccountState, "verified_at")
    updated_at_local = datetime_display(AccountState, "updated_at")

    @admin.display(description=_("updated at"), ordering="updated_at")
    def updated_at_short(self, state: AccountState) -> str:
        return short_datetime(state.updated_at)

    def has_add_permission(self, request) -> bool:
        return False

    def _names(self, state: AccountState) -> list[str]:
        """The configured accounts whose login is this row's (none if it left the settings)."""
        return _per_row(
            state, "_smsc_names", lambda: service.accounts_by_login().get((state.site, state.account), [])
        )

    def _status(self, state: AccountState):
        """``service.account_status`` of the row's login, or None if no account uses it."""
        names = self._names(state)
        return _per_row(state, "_smsc_status", lambda: service.account_status(names[0]) if names else None)

    @admin.display(description=_("login"), ordering="account")
    def login(self, state: AccountState) -> str:
        return state.account

    @admin.display(description=_("accounts in settings"))
    def accounts(self, state: AccountState) -> str:
        return ", ".join(self._names(state)) or str(_("none (no longer in settings)"))

    @admin.display(description=_("state"))
    def health(self, state: AccountState) -> str:
        """In words and a colour that mean the same: red paused, amber limited, green working."""
        status = self._status(state)
        if state.is_paused:
            kind = "failure"
            text = gettext("Paused until %(time)s") % {"time": short_datetime(state.paused_until)}
            if state.pause_reason:
                text = f"{text} — {state.pause_reason}"
        elif status is None:
            kind, text = "unknown", gettext("Not in settings: not used")
        elif status.next_call_at is not None:
            kind = "pending"
            until = short_datetime(status.next_call_at)
            text = gettext("Waiting for SMSC's limits until %(time)s") % {"time": until}
        elif state.is_half_open:
            kind, text = "pending", gettext("Working, one request at a time until SMSC answers")
        else:
            kind, text = "success", gettext("Working")
        return format_html('<span class="smsc-badge {}">{}</span>', kind, text)

    @admin.display(description=_("authorisation errors in 30 min (SMSC blocks the IP at 5)"))
    def auth_errors(self, state: AccountState) -> int | str:
        status = self._status(state)
        return self.get_empty_value_display() if status is None else status.auth_errors

    @admin.display(description=_("next call allowed at"))
    def next_call_at(self, state: AccountState) -> str:
        status = self._status(state)
        if status is None:
            return self.get_empty_value_display()
        return short_datetime(status.next_call_at) if status.next_call_at else str(_("now"))

    @admin.display(description=_("status pushes from SMSC"))
    def pushes(self, state: AccountState) -> str:
        """Per account of the login: whether pushes arrive, and what became of them."""
        names = self._names(state)
        rows = {row.account: row for row in PushCounter.objects.filter(account__in=names)}
        lines = []
        for name in names:
            row = rows.get(name)
            if row is None:
                lines.append((name, gettext("none received")))
                continue
            counts = [
                (getattr(PushCounter._meta.get_field(field), "verbose_name", field), getattr(row, field))
                for field in ("matched", "unknown", "incoming", "calls", "malformed", "bad_checksum")
            ]
            text = gettext("%(received)d received, last at %(time)s") % {
                "received": row.received,
                "time": short_datetime(row.last_received_at),
            }
            lines.append((name, f"{text}: " + ", ".join(f"{label} {n}" for label, n in counts)))
        return format_html_join(mark_safe("<br>"), "{}: {}", lines) or self.get_empty_value_display()

    @admin.action(description=_("Allow calls to SMSC again (reset the breaker)"), permissions=["change"])
    def reset(self, request: HttpRequest, queryset) -> None:
        by_login = service.accounts_by_login()
        reset, unconfigured = 0, []
        for key in queryset.order_by("account", "site").values_list("site", "account"):
            if key in by_login:  # one reset serves every account of the login at the site
                reset += service.reset_breaker(by_login[key][0])
            else:
                unconfigured.append(f"{key[1]} @ {key[0]}")
        self.message_user(
            request,
            ngettext("Reset %(n)d account.", "Reset %(n)d accounts.", reset) % {"n": reset},
            messages.SUCCESS,
        )
        if unconfigured:
            self.message_user(
                request,
                _("No account in settings uses %(logins)s: nothing was reset for it.")
                % {"logins": ", ".join(unconfigured)},
                messages.WARNING,
            )


@admin.register(ReceivedPush)
class ReceivedPushAdmin(ViewingAdmin):
    """The raw fields of the last pushes per account, to read what SMSC really sends: never a
    source of status (see ``push``)."""

    list_display = ("received_at_short", "account", "kind", "message", "fields_short")
    list_filter = ("account", "kind")
    fields = ("received_at_local", "account", "kind", "message", "fields_pretty")
    readonly_fields = fields
    received_at_local = datetime_display(ReceivedPush, "received_at")

    class Media:
        css = {"all": ("django_smsc_status/admin.css",)}

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("received at"), ordering="pk")
    def received_at_short(self, push: ReceivedPush) -> str:
        return short_datetime(push.received_at)

    @admin.display(description=_("fields as received"))
    def fields_short(self, push: ReceivedPush) -> str:
        return " ".join(f"{k}={v}" for k, v in push.fields.items())[:120]

    @admin.display(description=_("fields as received"))
    def fields_pretty(self, push: ReceivedPush) -> str:
        text = json.dumps(push.fields, ensure_ascii=False, indent=1, sort_keys=True)
        return format_html('<pre class="smsc-raw">{}</pre>', text)
