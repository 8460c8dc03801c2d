"""The delivery report: the message changelist's filters applied to ``service.stats``."""

from __future__ import annotations

import copy
import re

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import charts, csv_export, service
from ..models import SentMessage
from ..stats import TallyFilter
from .filters import AccountFilter

#: The report's CSV links: one file per grouping (a stats.GROUPS key).
CSV_GROUP_LABELS = {
    "day": _("by day"),
    "operator": _("by operator"),
    "region": _("by region"),
    "err": _("by delivery error"),
    "status": _("by status"),
    "account": _("by account"),
}


def csv_response(lines, filename: str) -> StreamingHttpResponse:
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


def _moment(value: str):
    moment = SentMessage._meta.get_field("sent_at").to_python(value)
    return timezone.make_aware(moment) if moment is not None and timezone.is_naive(moment) else moment


def tally_filter(params) -> TallyFilter | None:
    """The changelist's filters as a :class:`~stats.TallyFilter` (the report then reads the
    per-day tallies), or None when one is beyond them (search, error, creation date …)."""
    allowed = {"status", "state", "account", "sent_at__gte", "sent_at__lt", "o", "q"}
    values = {name: params.get(name, "") for name in params}
    if not set(values) <= allowed or values.get("q"):
        return None
    status, state, account = values.get("status", ""), values.get("state", ""), values.get("account", "")
    if status not in ("", "none") and not re.fullmatch(r"-?[0-9]+", status):
        return None
    if state not in ("", "pending", "final") or account == AccountFilter.NOT_CONFIGURED:
        return None
    try:
        after, before = (
            _moment(values[n]) if values.get(n) else None for n in ("sent_at__gte", "sent_at__lt")
        )
    except (ValidationError, ValueError, OverflowError):
        return None
    return TallyFilter(
        sent_after=after,
        sent_before=before,
        account=account or None,
        statuses=None if not status else (None,) if status == "none" else (int(status),),
        is_final={"": None, "pending": False, "final": True}[state],
    )


class DeliveryReport(admin.ModelAdmin):
    """The "Delivery report" page (``report/``): ``service.stats`` of the changelist's filters
    and search, as charts, tables and CSV files."""

    report_template = "admin/django_smsc_status/sentmessage/report.html"
    #: How many operators, regions and errors the report draws.
    report_top = 10

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
        filters = request.GET.copy()
        for name in self.REPORT_PARAMS:
            filters.pop(name, None)
        tally = tally_filter(filters)
        if request.GET.get("format") == "csv":
            group = request.GET.get("group", "day")
            if group not in service.STATS_GROUPS:
                return HttpResponseBadRequest(
                    f"group must be one of {', '.join(service.STATS_GROUPS)}", content_type="text/plain"
                )
            return csv_response(
                csv_export.stats_csv(service.stats(queryset, group, tally=tally), group),
                f"delivery-report-{group}.csv",
            )
        days = service.stats(queryset, "day", tally=tally)
        top = self.report_top
        # every error group but "none" (NULL, 0): a handful of groups, the same order as live
        errors = [row for row in service.stats(queryset, "err", tally=tally) if row["key"] not in (None, 0)]
        sections = [
            (_("Top operators"), "operator", service.stats(queryset, "operator", limit=top, tally=tally)),
            (_("Top regions"), "region", service.stats(queryset, "region", limit=top, tally=tally)),
            (_("Top delivery errors"), "err", errors[:top]),
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
