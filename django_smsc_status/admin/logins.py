"""Logins at SMSC sites: where a paused login (errors 2 and 4) shows, and is reset."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import service
from ..models import LoginState, PushCounter
from .base import ViewingAdmin, datetime_display, short_datetime


def _per_row(state: LoginState, key: str, compute):
    """``compute()`` once per row object: several columns (and the change view) show parts of
    one answer, and each computation costs queries."""
    cache = vars(state)
    if key not in cache:
        cache[key] = compute()
    return cache[key]


@admin.register(LoginState)
class LoginStateAdmin(ViewingAdmin):
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

    paused_until_local = datetime_display(LoginState, "paused_until")
    verified_at_local = datetime_display(LoginState, "verified_at")
    updated_at_local = datetime_display(LoginState, "updated_at")

    @admin.display(description=_("updated at"), ordering="updated_at")
    def updated_at_short(self, state: LoginState) -> str:
        return short_datetime(state.updated_at)

    def has_add_permission(self, request) -> bool:
        return False

    def _names(self, state: LoginState) -> list[str]:
        """The configured accounts whose login is this row's (none if it left the settings)."""
        return _per_row(
            state, "_smsc_names", lambda: service.accounts_by_login().get((state.site, state.login), [])
        )

    def _status(self, state: LoginState):
        """``service.account_status`` of the row's login, or None if no account uses it."""
        names = self._names(state)
        return _per_row(state, "_smsc_status", lambda: service.account_status(names[0]) if names else None)

    @admin.display(description=_("accounts in settings"))
    def accounts(self, state: LoginState) -> str:
        return ", ".join(self._names(state)) or str(_("none (no longer in settings)"))

    @admin.display(description=_("state"))
    def health(self, state: LoginState) -> str:
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
    def auth_errors(self, state: LoginState) -> int | str:
        status = self._status(state)
        return self.get_empty_value_display() if status is None else status.auth_errors

    @admin.display(description=_("next call allowed at"))
    def next_call_at(self, state: LoginState) -> str:
        status = self._status(state)
        if status is None:
            return self.get_empty_value_display()
        return short_datetime(status.next_call_at) if status.next_call_at else str(_("now"))

    @admin.display(description=_("status pushes from SMSC"))
    def pushes(self, state: LoginState) -> str:
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
        for key in queryset.order_by("login", "site").values_list("site", "login"):
            if key in by_login:  # one reset serves every account of the login at the site
                reset += service.reset_breaker(by_login[key][0])
            else:
                unconfigured.append(f"{key[1]} @ {key[0]}")
        self.message_user(
            request,
            ngettext("Reset %(n)d login.", "Reset %(n)d logins.", reset) % {"n": reset},
            messages.SUCCESS,
        )
        if unconfigured:
            self.message_user(
                request,
                _("No account in settings uses %(logins)s: nothing was reset for it.")
                % {"logins": ", ".join(unconfigured)},
                messages.WARNING,
            )
