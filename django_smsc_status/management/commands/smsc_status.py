"""``manage.py smsc_status``: refresh, register, send, balance, accounts, reset-breaker, schedule,
prune. ``--account NAME`` picks one of the accounts in ``SMSC_STATUS`` (default: ``default``)."""

from __future__ import annotations

import argparse

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ... import service
from ...conf import DEFAULT_ACCOUNT, account_names
from ...exceptions import SmscError
from ...models import SentMessage


def _plain(text: str) -> str:
    return text


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


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
        refresh.add_argument("ids", nargs="*", type=int, help="primary keys of messages")
        refresh.add_argument("--limit", type=positive_int, default=None)
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

        with_account(sub.add_parser("balance", help="show the SMSC account balance"), "default: default")
        sub.add_parser("accounts", help="list the configured accounts and whether calls are allowed")
        reset = sub.add_parser("reset-breaker", help="allow SMSC calls again after error 2 or 4")
        with_account(reset, "default: default (the reset applies to every account of its login)")

        schedule = sub.add_parser(
            "schedule",
            help="create or update the django-q2 sweep schedule (and the daily prune if RETENTION is set)",
        )
        schedule.add_argument(
            "--minutes", type=positive_int, default=None, help="interval (default: SWEEP_INTERVAL_MINUTES)"
        )

        prune = sub.add_parser(
            "prune", help="delete old history of final messages (default: as RETENTION says)"
        )
        prune.add_argument(
            "--days",
            type=int,
            default=None,
            help="delete snapshots older than this of final messages, keeping each one's first and latest",
        )
        prune.add_argument(
            "--messages-days",
            type=int,
            default=None,
            help="also delete final messages older than this, with their history",
        )
        prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")
        prune.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="messages per batch (default: RETENTION's BATCH_SIZE, 1000)",
        )

    def handle(self, *args, action: str, **options) -> None:
        try:
            getattr(self, "do_" + action.replace("-", "_"))(**options)
        except (SmscError, ValidationError) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from None

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

    def do_register(
        self, *, smsc_id: str, phone: str, text: str, sender: str, account: str | None, **options
    ) -> None:
        account = account or DEFAULT_ACCOUNT
        message, created = service.register(smsc_id, phone, account=account, text=text, sender=sender)
        verb = "Registered" if created else "Already tracked"
        self.stdout.write(f"{verb}: message {message.pk} ({message}, account {account})")

    def do_send(self, *, phones: str, text: str, sender: str | None, account: str | None, **options) -> None:
        for message in service.send(phones, text, sender=sender, account=account or DEFAULT_ACCOUNT):
            self.stdout.write(f"Sent: message {message.pk} ({message}, account {message.account})")

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
                state += f"; {status.auth_errors} authorisation errors in the last 30 minutes"
            for name in names:
                self.stdout.write(f"{name}: login {login}: {state}")
        for name, count in service.unconfigured_due(account_names()).items():
            self.stdout.write(f"{name}: not in SMSC_STATUS: {count} pending messages, left alone")

    def do_reset_breaker(self, *, account: str | None, **options) -> None:
        account = account or DEFAULT_ACCOUNT
        was_open = service.reset_breaker(account)
        status = service.account_status(account)
        if status.next_call_at is not None:
            self.stdout.write(
                f"{'Breaker reset, but' if was_open else 'The breaker was not open, but'} "
                f"{status.auth_errors} authorisation errors (SMSC error 2) in the last 30 minutes: "
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
