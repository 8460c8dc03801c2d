"""``manage.py smsc_status``: refresh, register, send, balance, accounts, reset-breaker, schedule,
prune. ``--account NAME`` picks one of the accounts in ``SMSC_STATUS`` (default: ``default``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from ... import service
from ...conf import DEFAULT_ACCOUNT, account_names
from ...exceptions import SmscError
from ...models import SentMessage
from ...outcomes import Outcome
from ...retention import MAX_BATCH_SIZE, MAX_DAYS

MAX_ID = 2**63 - 1  # a 64-bit primary key
MAX_LIMIT = 10**9
MAX_MINUTES = 1440  # a day (django-q2 stores minutes as a small integer)


def _plain(text: str) -> str:
    return text


def _described(message: SentMessage) -> str:
    """The account once (``str(message)`` names it too, for any account but default)."""
    return f"message {message.pk} ({message.smsc_id} → {message.phone}, account {message.account})"


def int_from(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``. Out of range is a usage error
    naming the argument, not an overflow deep in the database."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, got {value[:40]}")
        return number

    return parse


def account_name(value: str) -> str:
    """An account configured now: a typo is a usage error before anything is asked or written."""
    names = account_names()
    if value not in names:
        raise argparse.ArgumentTypeError(
            f"no account {value!r} in SMSC_STATUS (configured: {', '.join(names)})"
        )
    return value


class Progress:
    """A one-line progress bar on stderr, redrawn at most every 1 %."""

    def __init__(self, stream, total: int, width: int = 30) -> None:
        self.stream, self.total, self.width = stream, total, width
        self.shown = -1

    def __call__(self, report: service.RefreshReport) -> None:
        done = report.total
        percent = done * 100 // self.total if self.total else 100
        if percent == self.shown:
            return
        self.shown = percent
        filled = self.width * percent // 100
        bar = "#" * filled + "." * (self.width - filled)
        # Plain text: stderr's default style is bold red, which reads as an error.
        self.stream.write(
            f"\r[{bar}] {done}/{self.total}", ending="\n" if done >= self.total else "", style_func=_plain
        )
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Track SMS delivery status with SMSC: refresh, register, send, balance, accounts, "
        "reset-breaker, schedule, prune."
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def with_account(command, help: str) -> None:
            command.add_argument("--account", type=account_name, default=None, help=help)

        refresh = sub.add_parser("refresh", help="ask SMSC for current statuses")
        which = refresh.add_mutually_exclusive_group()
        which.add_argument("--due", action="store_true", help="pending messages whose check is due (default)")
        which.add_argument("--all", action="store_true", help="every pending message, due or not")
        refresh.add_argument("ids", nargs="*", type=int_from(1, MAX_ID), help="primary keys of messages")
        refresh.add_argument("--limit", type=int_from(1, MAX_LIMIT), default=None)
        refresh.add_argument("--no-progress", action="store_true")
        with_account(refresh, "only messages of this account (default: every account)")

        register = sub.add_parser("register", help="track a message sent elsewhere")
        register.add_argument("smsc_id")
        register.add_argument("phone")
        register.add_argument("--text", default="")
        register.add_argument("--sender", default="")
        with_account(register, "the account it was sent through (default: default)")

        send = sub.add_parser("send", help="send an SMS through SMSC and track it")
        send.add_argument("phones", help="comma-separated phone numbers")
        send.add_argument("text")
        send.add_argument("--sender", default=None)
        with_account(send, "the account to send through (default: default)")

        balance = sub.add_parser("balance", help="show the balance of the account's login at SMSC")
        with_account(balance, "default: default")
        sub.add_parser("accounts", help="list the configured accounts and whether calls are allowed")
        reset = sub.add_parser("reset-breaker", help="allow SMSC calls again after error 2 or 4")
        with_account(reset, "default: default (the reset applies to every account of its login)")

        schedule = sub.add_parser(
            "schedule",
            help="create or update the django-q2 sweep schedule (and the daily prune if RETENTION is set)",
        )
        schedule.add_argument(
            "--minutes",
            type=int_from(1, MAX_MINUTES),
            default=None,
            help="interval (default: SWEEP_INTERVAL_MINUTES)",
        )

        prune = sub.add_parser(
            "prune", help="delete old history of final messages (default: as RETENTION says)"
        )
        prune.add_argument(
            "--days",
            type=int_from(1, MAX_DAYS),
            default=None,
            help="delete snapshots older than this of final messages, keeping each one's first and latest",
        )
        prune.add_argument(
            "--messages-days",
            type=int_from(1, MAX_DAYS),
            default=None,
            help="also delete final messages older than this, with their history",
        )
        prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")
        prune.add_argument(
            "--batch-size",
            type=int_from(1, MAX_BATCH_SIZE),
            default=None,
            help="messages per batch (default: RETENTION's BATCH_SIZE, 1000)",
        )

        tally = sub.add_parser(
            "tallies", help="fold the stats deltas into the per-day tallies (PostgreSQL; the sweep task does)"
        )
        tally.add_argument(
            "--rebuild",
            action="store_true",
            help="recount every message in the days of TIME_ZONE (after changing it; holds writes meanwhile)",
        )

    def handle(self, *args, action: str, **options) -> None:
        try:
            getattr(self, "do_" + action.replace("-", "_"))(**options)
        except (SmscError, ValidationError) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from None

    def do_tallies(self, *, rebuild: bool, **options) -> None:
        from ... import tallies

        if not tallies.enabled():
            self.stdout.write("No tallies on this database (PostgreSQL only): the figures are counted live.")
            return
        if rebuild:
            tallies.install()
            self.stdout.write(f"Tallies recounted, days in {tallies.current_time_zone()}.")
        else:
            self.stdout.write(f"{tallies.compact()} changes folded into the tallies.")

    def do_refresh(
        self,
        *,
        due: bool,
        all: bool,
        ids: list[int],
        limit: int | None,
        no_progress: bool,
        account: str | None,
        **options,
    ) -> None:
        if ids and (due or all):
            raise CommandError("give message ids, or --due, or --all")
        found = dict(SentMessage.objects.filter(pk__in=ids).values_list("pk", "account"))
        missing = sorted(set(ids) - set(found))
        if ids:
            selection = SentMessage.objects.filter(pk__in=ids)
        elif all:
            selection = SentMessage.objects.pending()
        else:
            selection = SentMessage.objects.due()
        if account:
            selection = selection.filter(account=account)
            others = sorted(pk for pk, name in found.items() if name != account)
            if others:
                self.stdout.write(f"Left alone (not of account {account}): {', '.join(map(str, others))}")
        total = selection.count() if limit is None else min(selection.count(), limit)
        progress = None
        if total >= 20 and not no_progress and options.get("verbosity", 1) > 0:
            progress = Progress(self.stderr, total)
        if ids or all or account:  # the sweep (no selection) serves every account in turn
            report = service.refresh_selection(selection, limit=limit, progress=progress)
        else:
            report = service.refresh_due(limit, progress=progress)
        self.stdout.write(str(report))
        for error, count in report.errors.most_common(5):
            self.stdout.write(f"  {count} × {error}")
        if missing:
            raise CommandError(f"no message with id {', '.join(map(str, missing))}")
        if report.paused or (report.total and report.counts[Outcome.REFUSED] == report.total):
            raise CommandError("no message was refreshed: calls to SMSC were refused (see above)")

    def do_register(
        self, *, smsc_id: str, phone: str, text: str, sender: str, account: str | None, **options
    ) -> None:
        account = account or DEFAULT_ACCOUNT
        message, created = service.register(smsc_id, phone, account=account, text=text, sender=sender)
        verb = "Registered" if created else "Already tracked"
        self.stdout.write(f"{verb}: {_described(message)}")

    def do_send(self, *, phones: str, text: str, sender: str | None, account: str | None, **options) -> None:
        for message in service.send(phones, text, sender=sender, account=account or DEFAULT_ACCOUNT):
            self.stdout.write(f"Sent: {_described(message)}")

    def do_balance(self, *, account: str | None, **options) -> None:
        self.stdout.write(f"Balance: {service.balance(account or DEFAULT_ACCOUNT)}")

    def do_accounts(self, **options) -> None:
        """One line per configured account (a login's limits show on each of its accounts), then
        the accounts that pending messages name but settings no longer do."""
        for (_site, login), names in service.accounts_by_login().items():
            status = service.account_status(names[0])
            if status.next_call_at is None:
                state = "calls allowed" + (", one at a time until SMSC answers" if status.half_open else "")
            else:
                state = f"calls refused until {status.next_call_at:%Y-%m-%d %H:%M:%S} UTC"
                if status.pause_code is not None:
                    state += f" (SMSC error {status.pause_code})"
            if status.auth_errors:
                state += "; " + ngettext(
                    "%(count)d authorisation error in the last 30 minutes",
                    "%(count)d authorisation errors in the last 30 minutes",
                    status.auth_errors,
                ) % {"count": status.auth_errors}
            for name in names:
                self.stdout.write(f"{name}: login {login}: {state}")
        for name, count in service.unconfigured_due(account_names()).items():
            pending = ngettext(
                "%(count)d pending message, left alone", "%(count)d pending messages, left alone", count
            ) % {"count": count}
            self.stdout.write(f"{name}: not in SMSC_STATUS: {pending}")

    def do_reset_breaker(self, *, account: str | None, **options) -> None:
        account = account or DEFAULT_ACCOUNT
        was_open = service.reset_breaker(account)
        status = service.account_status(account)
        if status.next_call_at is not None:
            errors = ngettext(
                "%(count)d authorisation error (SMSC error 2) in the last 30 minutes",
                "%(count)d authorisation errors (SMSC error 2) in the last 30 minutes",
                status.auth_errors,
            ) % {"count": status.auth_errors}
            self.stdout.write(
                f"{'Breaker reset, but' if was_open else 'The breaker was not open, but'} {errors}: "
                f"one more would get this server's IP blocked. The next call is allowed at "
                f"{status.next_call_at:%Y-%m-%d %H:%M:%S} UTC."
            )
        elif was_open:
            self.stdout.write(
                "Breaker reset: calls to SMSC are allowed again, one at a time until SMSC answers."
            )
        else:
            self.stdout.write("The breaker was not open.")

    def do_schedule(self, *, minutes: int | None, **options) -> None:
        from ...tasks import PRUNE_SCHEDULE_NAME, ensure_prune_schedule, ensure_schedule

        schedule, created = ensure_schedule(minutes)
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} schedule {schedule.name!r}: every {schedule.minutes} min")
        prune, created = ensure_prune_schedule()
        if prune is None:
            self.stdout.write(f"No schedule {PRUNE_SCHEDULE_NAME!r}: RETENTION is not set.")
        else:
            verb = "Created" if created else "Updated"
            self.stdout.write(f"{verb} schedule {prune.name!r}: daily")

    def do_prune(
        self, *, days: int | None, messages_days: int | None, dry_run: bool, batch_size: int | None, **options
    ) -> None:
        from ...conf import get_settings
        from ...retention import DEFAULT_BATCH_SIZE

        retention = get_settings().retention
        if days is None and messages_days is None:
            if retention is None:
                raise CommandError("give --days and/or --messages-days, or set SMSC_STATUS['RETENTION']")
            days, messages_days = retention.snapshot_days, retention.message_days
        if batch_size is None:
            batch_size = retention.batch_size if retention else DEFAULT_BATCH_SIZE
        try:
            report = service.prune(days, messages_days, dry_run=dry_run, batch_size=batch_size)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(str(report))
