"""The last status pushes SMSC sent, as received."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import ReceivedPush
from .base import ViewingAdmin, datetime_display, short_datetime


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
