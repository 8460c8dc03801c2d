"""What every admin page of the app shares: the read-only base, status badges, dates that any
stored value can show, and query-string values refused as bad filters."""

from __future__ import annotations

from datetime import timezone as dt_timezone

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext

from ..codes import MessageStatus

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
