"""The message changelist's filters: each refuses a bad value as a bad filter, none scans the
table to list its choices."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import timezone as dt_timezone

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from ..codes import DeliveryError, MessageStatus, describe
from ..conf import account_names
from ..models import POLLING_STATES
from .base import code_param


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
            return queryset.filter(outside_codes("status", MessageStatus.values))
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
            return queryset.filter(outside_codes("account", account_names()))
        if self.value():  # any name, configured or not (?account=old typed by hand)
            return queryset.filter(account=self.value())
        return queryset


class ErrFilter(admin.SimpleListFilter):
    """SMSC's documented delivery errors, whether they occur or not, and "Unknown code" for
    any other: no query. Listing only the codes that occur took a ``SELECT DISTINCT err``
    over every row on each page load (90 ms at a million messages on PostgreSQL, linear in
    the table), as the status filter lists every status."""

    title = capfirst(_("delivery error"))
    parameter_name = "err"

    def lookups(self, request, model_admin):
        return [
            ("any", _("Any error")),
            *((str(code), _err_option(code)) for code in DeliveryError.values if code),
            ("other", _("Unknown code")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "any":  # not NULL, not 0: ranges, as outside_codes
            return queryset.filter(Q(err__lt=0) | Q(err__gt=0))
        if self.value() == "other":
            return queryset.filter(outside_codes("err", DeliveryError.values))
        if self.value():
            return queryset.filter(err=code_param(self.value()))
        return queryset


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


def outside_codes(field: str, known: Iterable[int] | Iterable[str]) -> Q:
    """``field`` holds a value (not NULL), none of ``known``: the ranges between the known
    values, each an index range scan, where ``NOT IN (...)`` reads every row (usually to
    find none)."""
    values = sorted(set(known))  # type: ignore[type-var]
    if not values:
        return Q(**{f"{field}__isnull": False})
    condition = Q(**{f"{field}__lt": values[0]}) | Q(**{f"{field}__gt": values[-1]})
    for low, high in itertools.pairwise(values):
        if isinstance(low, int) and isinstance(high, int) and high - low <= 2:
            if high - low == 2:  # one code between: equality, not a range
                condition |= Q(**{field: low + 1})
        else:  # a gap of several codes, or between two names
            condition |= Q(**{f"{field}__gt": low, f"{field}__lt": high})
    return condition


def _err_option(code: int) -> str:
    info = describe(DeliveryError, code)
    return f"{code} · {info.label}" if info.is_known else info.label
