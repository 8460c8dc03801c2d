"""``manage.py smsc_status`` subcommands."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_smsc_status.conf import get_settings
from django_smsc_status.models import LoginState, SentMessage

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("smsc_status", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_register_and_refresh_ids(smsc_settings, smsc_simulator):
    smsc_simulator.smsc.add_message("79991234567", smsc_id="55")
    out, _ = run("register", "55", "+7 999 123-45-67", "--text", "hi")
    assert "Registered" in out
    assert "Already tracked" in run("register", "55", "79991234567")[0]
    pk = SentMessage.objects.get().pk
    out, _ = run("refresh", str(pk))
    assert out.startswith("1 message: 1 status changed")


def test_refresh_due_with_progress_bar(smsc_settings, smsc_simulator, tracked):
    for _ in range(25):
        tracked((1,))
    out, err = run("refresh", "--due")
    assert "25 messages: 25 status changed" in out
    assert "[" + "#" * 30 + "] 25/25" in err


def test_refresh_all_with_limit(smsc_settings, tracked):
    for _ in range(5):
        tracked((1,))
    out, _ = run("refresh", "--all", "--limit", "2")
    assert out.startswith("2 messages")


def test_refresh_reports_errors(smsc_settings, smsc_simulator, tracked):
    tracked((1,))
    smsc_simulator.inject("http500")
    out, _ = run("refresh")
    assert "1 SMSC could not be reached" in out and "HTTP 500" in out


def test_send_and_balance(smsc_settings, smsc_simulator):
    out, _ = run("send", "79991112233,79991112244", "Привет", "--sender", "Shop")
    assert out.count("Sent:") == 2
    assert run("balance")[0].strip() == "Balance: 996.40"


def test_errors_become_command_errors(smsc_settings):
    with pytest.raises(CommandError, match="valid phone number"):
        run("register", "1", "12")
    smsc_settings["PASSWORD"] = "wrong"
    with pytest.raises(CommandError, match="error 2"):
        run("balance")
    with pytest.raises(CommandError, match="give message ids"):
        run("refresh", "--all", "5")


def test_reset_breaker(smsc_settings):
    from django.utils import timezone

    LoginState.objects.create(
        site=get_settings().site, login="alex", paused_until=timezone.now().replace(year=2099), pause_code=2
    )
    assert "reset" in run("reset-breaker")[0]
    assert not LoginState.objects.get(login="alex").is_paused
    assert "was not open" in run("reset-breaker")[0]


def test_schedule(smsc_settings):
    from django_q.models import Schedule

    assert "Created schedule" in run("schedule")[0]
    assert "Updated schedule 'django_smsc_status.sweep': every 3 min" in run("schedule", "--minutes", "3")[0]
    assert Schedule.objects.get(name="django_smsc_status.sweep").minutes == 3


def test_refresh_reports_a_missing_id(smsc_settings, tracked):
    message = tracked((1,))
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="no message with id 99999"):
        call_command("smsc_status", "refresh", str(message.pk), "99999", stdout=out, stderr=err)
    assert "1 message: 1 status changed" in out.getvalue()  # the others are still refreshed


@pytest.mark.parametrize(
    "args", [("schedule", "--minutes", "0"), ("schedule", "--minutes", "-5"), ("refresh", "--limit", "0")]
)
def test_zero_or_negative_numbers_are_refused(smsc_settings, args):
    with pytest.raises(CommandError, match="from 1 to"):
        run(*args)


def test_progress_bar_is_not_styled_as_an_error(smsc_settings, tracked):
    from django_smsc_status.management.commands.smsc_status import Command

    class Terminal(StringIO):
        def isatty(self):
            return True

    for _ in range(20):
        tracked((1,))
    err = Terminal()
    command = Command(stdout=StringIO(), stderr=err, force_color=True)
    call_command(command, "refresh", "--due")
    assert "] 20/20" in err.getvalue()
    assert "\x1b[" not in err.getvalue()  # no ANSI colour (bold red is stderr's default)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("register", "1\x01", "79991234567"), "SMSC id"),
        (("register", "1", "7999\x011234567"), "phone"),
        (("register", "1", "79991234567", "--sender", "Sh\x07op"), "sender"),
        (("register", "1", "79991234567", "--text", "a\x00b"), "control characters"),
        (("send", "79991234567", "hi", "--sender", "a\x01b"), "sender"),
    ],
)
def test_control_characters_are_refused(smsc_settings, smsc_simulator, args, field):
    with pytest.raises(CommandError, match=field):
        run(*args)
    assert not SentMessage.objects.exists() and smsc_simulator.requests == 0


# -- several accounts (issue 13) ------------------------------------------------------------------


def test_register_refresh_and_balance_per_account(kz_login, smsc_simulator):
    smsc_simulator.smsc.add_message("79991234567", smsc_id="55")
    out, _ = run("register", "55", "79991234567", "--account", "kz")
    assert "Registered" in out and "account kz" in out
    message = SentMessage.objects.get()
    assert message.account == "kz"
    assert run("refresh", str(message.pk))[0].startswith("1 message: 1 status changed")
    sim = smsc_simulator.smsc
    assert sim.max_in_flight["kzlogin"] == 1 and sim.max_in_flight["alex"] == 0
    assert run("balance", "--account", "kz")[0].strip() == "Balance: 5.00"
    assert run("balance")[0].strip() == "Balance: 1000.00"


@pytest.mark.parametrize("args", [("balance",), ("reset-breaker",), ("register", "1", "79991234567")])
def test_an_unknown_account_is_a_usage_error(kz_login, smsc_simulator, args):
    with pytest.raises(CommandError, match="no account 'nope' in SMSC_STATUS \\(configured: default, kz\\)"):
        run(*args, "--account", "nope")
    assert smsc_simulator.requests == 0 and not SentMessage.objects.exists()


def test_refresh_one_account(kz_login, smsc_simulator, tracked):
    default, kz = tracked((1,)), tracked((1,), account="kz")
    out, _ = run("refresh", "--due", "--account", "kz")
    assert out.startswith("1 message: 1 status changed")
    assert [m.account for m in SentMessage.objects.filter(status=1)] == ["kz"]
    assert smsc_simulator.smsc.max_in_flight["alex"] == 0
    out, _ = run("refresh", str(default.pk), str(kz.pk), "--account", "kz")
    assert f"Left alone (not of account kz): {default.pk}" in out
    assert SentMessage.objects.get(pk=default.pk).status is None


def test_the_sweep_serves_every_account_and_names_the_missing(kz_login, smsc_simulator, tracked):
    from django.utils import timezone

    tracked((1,))
    tracked((1,), account="kz")
    SentMessage.objects.create(account="old", smsc_id="9", phone="79990000009", next_check_at=timezone.now())
    out, _ = run("refresh")
    assert out.startswith("2 messages: 2 status changed")
    assert "account old: 1 due message names an account not in settings; left alone" in out
    assert SentMessage.objects.get(account="old").status is None


def test_accounts_and_reset_breaker_per_account(kz_login):
    from django.utils import timezone

    LoginState.objects.create(
        site=get_settings().site,
        login="kzlogin",
        paused_until=timezone.now().replace(year=2099),
        pause_code=2,
    )
    SentMessage.objects.create(account="old", smsc_id="9", phone="79990000009")
    lines = run("accounts")[0].splitlines()
    assert lines == [
        "default: login alex: calls allowed, one at a time until SMSC answers",
        "kz: login kzlogin: calls refused until 2099-"
        + lines[1].split("2099-")[1].split(" UTC")[0]
        + " UTC (SMSC error 2)",
        "old: not in SMSC_STATUS: 1 pending message, left alone",
    ]
    assert "was not open" in run("reset-breaker")[0]  # the default account's login
    assert "Breaker reset" in run("reset-breaker", "--account", "kz")[0]
    assert not LoginState.objects.get(login="kzlogin").is_paused
    assert "kz: login kzlogin: calls allowed" in run("accounts")[0]


# -- issue 22: what the commands said wrong ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "argument", "limits"),
    [
        (("prune", "--days", "0"), "--days", "from 1 to 36500"),
        (("prune", "--days", "99999999"), "--days", "from 1 to 36500"),
        (("prune", "--days", "3000000", "--dry-run"), "--days", "from 1 to 36500"),
        (("prune", "--messages-days", "3000000"), "--messages-days", "from 1 to 36500"),
        (
            ("prune", "--days", "30", "--batch-size", "99999999999999999999"),
            "--batch-size",
            "from 1 to 100000",
        ),
        (("prune", "--days", "ten"), "--days", "from 1 to 36500"),
        (("schedule", "--minutes", "99999"), "--minutes", "from 1 to 1440"),
        (("refresh", "--limit", "99999999999999999999"), "--limit", "from 1 to 1000000000"),
        (("refresh", "99999999999999999999"), "ids", "from 1 to 9223372036854775807"),
    ],
)
def test_out_of_range_arguments_are_named(smsc_settings, smsc_simulator, args, argument, limits):
    with pytest.raises(CommandError, match=f"argument {argument}: must be a whole number {limits}"):
        run(*args)
    assert smsc_simulator.requests == 0


def test_refresh_fails_when_every_message_was_refused(smsc_settings, smsc_simulator, tracked):
    from django_smsc_status import limits
    from django_smsc_status.conf import get_settings

    message = tracked((1,))
    limits.pause(get_settings(), 4, 600)  # SMSC blocked the IP: every call refused for 10 minutes
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="no message was refreshed"):
        call_command("smsc_status", "refresh", str(message.pk), stdout=out, stderr=err)
    assert out.getvalue().startswith("1 message: 1 not asked") and smsc_simulator.requests == 0


def test_register_names_the_account_once(kz_login):
    out, _ = run("register", "55", "79991234567", "--account", "kz")
    assert out.count("kz") == 1 and "(kz)" not in out
    out, _ = run("send", "79991234567", "hi", "--account", "kz")
    assert out.count("kz") == 1


def test_counts_agree_with_their_nouns(kz_login):
    from django_smsc_status import limits
    from django_smsc_status.conf import get_settings
    from django_smsc_status.exceptions import SmscAuthError
    from django_smsc_status.retention import PruneReport

    limits.pause_after([SmscAuthError(code=2)], get_settings())  # one error 2 at the site
    assert "; 1 authorisation error in the last 30 minutes" in run("accounts")[0]
    assert str(PruneReport(snapshots=1, messages=1, message_snapshots=1, batches=1, with_messages=True)) == (
        "Deleted 1 old snapshot of final messages, and 1 old final message with 1 snapshot (1 batch, 0.0 s)."
    )
