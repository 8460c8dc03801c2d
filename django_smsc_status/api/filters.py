"""List filters (django-filter): account, status, final/pending, err, phone, SMSC id, date ranges."""

from __future__ import annotations

from datetime import timezone

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from .. import validation
from ..models import POLLING_STATES, SentMessage
from ..stats import TallyFilter

INT32 = {"min_value": -(2**31), "max_value": 2**31 - 1}  # codes are 32-bit in every database


class CodeInFilter(django_filters.BaseInFilter, django_filters.NumberFilter):
    field_class = forms.IntegerField


class UtcIsoDateTimeField(IsoDateTimeField):
    def clean(self, value):
        value = super().clean(value)
        try:
            return value.astimezone(timezone.utc) if value else value
        except OverflowError:
            raise forms.ValidationError("Date out of range.") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO-8601 with any offset, compared in UTC (PostgreSQL refuses offsets beyond ±15 h)."""

    field_class = UtcIsoDateTimeField


class SentMessageFilter(django_filters.FilterSet):
    status = CodeInFilter(
        field_name="status", lookup_expr="in", **INT32, help_text="Status codes, comma-separated: 1,20"
    )
    err = CodeInFilter(
        field_name="err", lookup_expr="in", **INT32, help_text="Delivery error codes, comma-separated"
    )
    state = django_filters.ChoiceFilter(
        method="filter_state",
        choices=POLLING_STATES,
        help_text="pending: not final; due: pending and due for a check; final; given_up: no "
        "longer polled (too old); quarantined: holds data SMSC cannot be asked about",
    )
    phone = django_filters.CharFilter(method="filter_phone", help_text="Any format: +7 999 123-45-67")
    # Any name, not only configured ones: ?account=old finds the messages of a removed account
    # (an unknown name selects nothing, as any other value that matches no row).
    account = django_filters.CharFilter(
        field_name="account", max_length=40, help_text="Account name in SMSC_STATUS: default, kz, ..."
    )
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    sent_after = UtcDateTimeFilter(field_name="sent_at", lookup_expr="gte")
    sent_before = UtcDateTimeFilter(field_name="sent_at", lookup_expr="lt")
    changed_after = UtcDateTimeFilter(field_name="status_changed_at", lookup_expr="gte")
    changed_before = UtcDateTimeFilter(field_name="status_changed_at", lookup_expr="lt")

    class Meta:
        model = SentMessage
        fields = ("account", "status", "err", "is_final", "smsc_id", "phone")

    def filter_state(self, queryset, name, value):
        return queryset.in_state(value)

    def filter_phone(self, queryset, name, value):
        try:
            return queryset.filter(phone=validation.normalize_phone(value))
        except ValidationError:
            return queryset.none()


#: The filters the per-day tallies can answer (``stats.TallyFilter``); any other makes ``stats/``
#: count live.
TALLIED = frozenset({"sent_after", "sent_before", "account", "status", "state", "is_final"})


def tally_filter(params) -> TallyFilter | None:
    """``params``' filters as a :class:`~stats.TallyFilter`, or None when one of them is beyond
    what the tallies hold (a phone, an error code, a creation date, the ``due`` state …)."""
    filterset = SentMessageFilter(params, queryset=SentMessage.objects.none())
    if not filterset.is_valid():
        return None
    data = filterset.form.cleaned_data
    used = {name for name, value in data.items() if value not in (None, "", [])}
    state = data.get("state") or None
    if not used <= TALLIED or state not in (None, "pending", "final"):
        return None
    finals = {value for value in (data.get("is_final"), state and state == "final") if value is not None}
    if len(finals) > 1:
        return None  # pending and final at once: nothing, counted live in no time
    # an empty item (``?status=1,``) is no code: the list filter's IN drops it, so here too
    listed = data.get("status") or []
    statuses = tuple(code for code in listed if code is not None)
    if listed and not statuses:
        return None  # only empty items: no message matches, counted live in no time
    return TallyFilter(
        sent_after=data.get("sent_after"),
        sent_before=data.get("sent_before"),
        account=data.get("account") or None,
        statuses=statuses or None,
        is_final=finals.pop() if finals else None,
    )
