"""Several SMSC accounts in one site, against two simulated sites (two servers, two logins).

Each message is asked with its own login at its own site; a wrong password trips only its
own login's breaker; one account's backlog never starves another; limits hold per login
across real processes; rows of an account removed from settings are left alone.
"""

import itertools
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from django_smsc_status import service
from django_smsc_status.conf import UnknownAccount, account_names, get_settings
from django_smsc_status.exceptions import SmscAccountNotConfigured
from django_smsc_status.limits import LOGIN_PROOF_SECONDS
from django_smsc_status.models import LoginState, SentMessage
from django_smsc_status.service import Outcome
from django_smsc_status.simulator import timeline

from .conftest import KZ_LOGIN

RU_LOGIN = "alex"
_numbers = itertools.count(1)


@pytest.fixture
def track(smsc_simulator, kz_site, kz_account, db):
    """``track(account, *steps)``: a message known to that account's site and to the database."""
    sites = {"default": smsc_simulator, "kz": kz_site}

    def make(account, *steps, smsc_id=None, phone=None):
        n = next(_numbers)
        phone = phone or (f"7999{n:07d}" if account == "default" else f"7701{n:07d}")
        smsc_id = smsc_id or str(5000 + n)
        sites[account].smsc.add_message(phone, smsc_id=smsc_id, steps=timeline(*(steps or ((1,),))))
        return service.register(smsc_id, phone, account=account)[0]

    return make


def asked(site, message) -> int:
    return len(site.smsc.status_checks.get((message.smsc_id, message.phone), []))


@pytest.mark.django_db
def test_each_message_is_asked_with_its_own_login_at_its_own_site(smsc_simulator, kz_site, track):
    ru = [track("default", (1,)) for _ in range(3)]
    kz = [track("kz", (20, 1)) for _ in range(3)]  # undeliverable at the kz site

    report = service.refresh_due()

    assert report.counts[Outcome.CHANGED] == 6, str(report)
    assert {m.status for m in SentMessage.objects.filter(account="default")} == {1}
    assert {m.status for m in SentMessage.objects.filter(account="kz")} == {20}
    assert [asked(smsc_simulator, m) for m in ru] == [1, 1, 1]
    assert [asked(kz_site, m) for m in kz] == [1, 1, 1]
    assert set(smsc_simulator.smsc.max_in_flight) == {RU_LOGIN}  # no kz message went to the ru site
    assert set(kz_site.smsc.max_in_flight) == {KZ_LOGIN}
    assert smsc_simulator.smsc.errors_answered == {} and kz_site.smsc.errors_answered == {}


@pytest.mark.django_db
def test_register_is_idempotent_per_account(track, kz_account):
    ru = track("default", smsc_id="77", phone="77011234567")
    kz = track("kz", smsc_id="77", phone="8 701 123 45 67")  # KZ's national format, its region
    assert ru.pk != kz.pk and kz.phone == ru.phone == "77011234567"
    assert service.register("77", "+7 701 123-45-67", account="kz") == (kz, False)
    assert SentMessage.objects.count() == 2
    with pytest.raises(UnknownAccount, match="no account 'nope'"):
        service.register("78", "79991234567", account="nope")


@pytest.mark.django_db
def test_a_wrong_password_trips_only_its_own_logins_breaker(
    smsc_simulator, kz_site, kz_account, track, monkeypatch
):
    ru = [track("default", (-1,)) for _ in range(4)]
    for _ in range(4):
        track("kz", (-1,))
    monkeypatch.setitem(kz_site.smsc.logins, KZ_LOGIN, "changed-at-smsc")  # changed at SMSC

    first = service.refresh_due()

    assert first.counts[Outcome.CHANGED] == 4  # every ru message answered
    assert "kz" in first.skipped
    kz_state = LoginState.objects.get(login=KZ_LOGIN)
    assert kz_state.is_paused and kz_state.pause_code == 2
    assert not LoginState.objects.get(login=RU_LOGIN).is_paused
    assert kz_site.smsc.calls["get_status"] == 1  # half-open: a wrong password costs one call

    SentMessage.objects.update(next_check_at=SentMessage.objects.first().created_at, last_checked_at=None)
    second = service.refresh_due()

    assert second.counts[Outcome.UNCHANGED] == 4 and second.paused is None
    assert "paused" in second.skipped["kz"]
    assert [asked(smsc_simulator, m) for m in ru] == [2] * 4
    assert kz_site.smsc.calls["get_status"] == 1  # the open breaker sent nothing more
    assert service.account_status("kz").paused_until is not None
    assert service.account_status().paused_until is None
    assert service.reset_breaker("kz") and not service.reset_breaker()
    assert all(m.status is None for m in SentMessage.objects.filter(account="kz"))  # nothing lost


@pytest.mark.django_db
def test_one_accounts_backlog_does_not_starve_another(smsc_simulator, kz_site, track):
    """With a sweep limit far below the ru backlog, the kz messages still all get their turn."""
    ru = [track("default", (-1,)) for _ in range(120)]
    kz = [track("kz", (-1,)) for _ in range(10)]
    SentMessage.objects.filter(account="default").update(next_check_at=ru[0].created_at.replace(year=2000))

    report = service.refresh_due(limit=40)  # ru's messages are also the most overdue

    assert report.total == 40
    assert [asked(kz_site, m) for m in kz] == [1] * 10
    assert sum(asked(smsc_simulator, m) for m in ru) == 30


@pytest.mark.django_db
def test_a_refresh_of_mixed_accounts_asks_each_at_its_site(smsc_simulator, kz_site, track):
    messages = [track("default", (1,)), track("kz", (1,)), track("default", (0,)), track("kz", (3,))]

    results = service.refresh_many(messages)

    assert [r.message.pk for r in results] == [m.pk for m in messages]
    assert [r.message.status for r in results] == [1, 1, 0, 3]
    assert [asked(smsc_simulator, m) for m in messages[::2]] == [1, 1]
    assert [asked(kz_site, m) for m in messages[1::2]] == [1, 1]


@pytest.mark.django_db
def test_rows_of_an_account_removed_from_settings_are_left_alone(smsc_settings, kz_site, track, caplog):
    kept = track("default", (1,))
    orphan = track("kz", (1,))
    del smsc_settings["ACCOUNTS"]  # the kz account is removed from settings
    before = SentMessage.objects.values().get(pk=orphan.pk)

    report = service.refresh_due()

    assert report.counts[Outcome.CHANGED] == 1 and report.skipped == {
        "kz": "1 due message names an account not in settings; left alone"
    }
    assert "account 'kz', which is not configured" in caplog.text
    assert SentMessage.objects.values().get(pk=orphan.pk) == before  # untouched, not deleted
    assert SentMessage.objects.get(pk=kept.pk).status == 1
    [result] = service.refresh_many([orphan])
    assert result.outcome == Outcome.REFUSED and isinstance(result.error, SmscAccountNotConfigured)
    assert "'kz' is not in SMSC_STATUS" in str(result.error)
    assert kz_site.smsc.calls["get_status"] == 0
    assert SentMessage.objects.values().get(pk=orphan.pk) == before


# -- settings ---------------------------------------------------------------------------------


def test_accounts_inherit_top_level_keys_and_override_their_own(settings):
    settings.SMSC_STATUS = {
        "LOGIN": "ru",
        "PASSWORD": "p1",
        "TIMEOUT": 7.0,
        "ACCOUNTS": {
            "kz": {"LOGIN": "kz", "PASSWORD": "p2", "ENDPOINT": "https://smsc.kz/sys/soap.php"},
            "marketing": {"TIMEOUT": 3.0},  # the login and password too: the same login
            "ua": {"API_KEY": "ua-key", "ENDPOINT": "https://smsc.ua/sys/soap.php"},
        },
    }
    assert account_names() == ["default", "kz", "marketing", "ua"]
    kz, marketing, default, ua = (get_settings(n) for n in ("kz", "marketing", "default", "ua"))
    assert (kz.name, kz.login, kz.timeout, kz.namespace) == ("kz", "kz", 7.0, "https://smsc.kz/sys/soap.php")
    assert (marketing.login, marketing.password, marketing.timeout) == ("ru", "p1", 3.0)
    assert marketing.limits_login == default.limits_login  # one login: one set of limits
    assert (default.name, default.login) == ("default", "ru")
    # credentials are inherited all together or not at all: an API key never goes with the
    # top level's login and password
    assert (ua.login, ua.password, ua.api_key) == ("", "", "ua-key")
    assert ua.limits_login.startswith("apikey:") and kz.limits_login == "kz"


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        ({"kz": {"TIMEUOT": 3}}, "SMSC_STATUS['ACCOUNTS']['kz']['TIMEUOT'] is not a known key"),
        (
            {"kz": {"SWEEP_LIMIT": 3}},
            "SMSC_STATUS['ACCOUNTS']['kz']['SWEEP_LIMIT'] applies to the whole site",
        ),
        ({"kz": {"TIMEOUT": -1}}, "SMSC_STATUS['ACCOUNTS']['kz']['TIMEOUT'] must be a number >= 0.001"),
        ({"kz": {"ENDPOINT": "smsc.kz"}}, "SMSC_STATUS['ACCOUNTS']['kz']['ENDPOINT'] must be an http(s) URL"),
        ({"kz": {"LOGIN": "", "PASSWORD": ""}}, "SMSC_STATUS['ACCOUNTS']['kz']['LOGIN'] is required"),
        ({"kz": {"LOGIN": "kz"}}, "SMSC_STATUS['ACCOUNTS']['kz']['PASSWORD'] is required"),
        ({"kz": {"TIMEOUT": float("nan")}}, "SMSC_STATUS['ACCOUNTS']['kz']['TIMEOUT'] must be a number"),
        ({"kz": {"SLOT_WAIT": float("inf")}}, "SMSC_STATUS['ACCOUNTS']['kz']['SLOT_WAIT'] must be a number"),
        ({"kz": {"ALL": 2.0}}, "SMSC_STATUS['ACCOUNTS']['kz']['ALL'] must be 0, 1 or 2"),
        ({"kz": {}, "KZ": {}}, "SMSC_STATUS['ACCOUNTS']['KZ'] is not a usable account name"),
        ({"Default": {}}, "SMSC_STATUS['ACCOUNTS']['Default'] is not a usable account name"),
        (
            {"kz": {"ENDPOINT": "https://kz:pw@smsc.kz/sys/soap.php"}},
            "SMSC_STATUS['ACCOUNTS']['kz']['ENDPOINT'] must not hold credentials",
        ),
        ({"kz": "kz-login"}, "SMSC_STATUS['ACCOUNTS']['kz'] must be a dict of settings"),
        ({"default": {}}, "SMSC_STATUS['ACCOUNTS']['default'] is not a usable account name"),
        ({"a b": {}}, "SMSC_STATUS['ACCOUNTS']['a b'] is not a usable account name"),
        (["kz"], "SMSC_STATUS['ACCOUNTS'] must be a dict of accounts by name"),
    ],
)
def test_malformed_accounts_name_the_account_and_key(settings, accounts, message):
    settings.SMSC_STATUS = {"LOGIN": "ru", "PASSWORD": "p1", "ACCOUNTS": accounts}
    with pytest.raises(ImproperlyConfigured) as raised:
        for name in account_names():
            get_settings(name)
    assert str(raised.value).startswith(message)


def test_errors_never_repeat_a_string_that_could_be_a_password(settings):
    settings.SMSC_STATUS = {
        "LOGIN": "ru",
        "PASSWORD": "p1",
        "ACCOUNTS": {"kz": {"TIMEOUT": "hunter2-Secret"}},
    }
    with pytest.raises(ImproperlyConfigured) as raised:
        get_settings("kz")
    assert str(raised.value) == "SMSC_STATUS['ACCOUNTS']['kz']['TIMEOUT'] must be a number >= 0.001, got str"
    settings.SMSC_STATUS["ACCOUNTS"] = {"kz": {"ENDPOINT": "https://kz:hunter2-Secret@smsc.kz/"}}
    with pytest.raises(ImproperlyConfigured) as raised:
        get_settings("kz")
    assert "hunter2" not in str(raised.value)


def test_a_bad_top_level_value_is_named_at_the_top_level(settings):
    settings.SMSC_STATUS = {"LOGIN": "ru", "PASSWORD": "p1", "ALL": 5, "ACCOUNTS": {"kz": {"TIMEOUT": 3}}}
    with pytest.raises(ImproperlyConfigured, match=r"^SMSC_STATUS\['ALL'\] must be 0, 1 or 2"):
        get_settings("kz")


def test_account_passwords_stay_out_of_reprs(settings):
    settings.SMSC_STATUS = {
        "LOGIN": "ru",
        "PASSWORD": "top-Secret-1",
        "ACCOUNTS": {"kz": {"LOGIN": "kz", "PASSWORD": "kz-Secret-2", "API_KEY": "kz-Key-3"}},
    }
    from django_smsc_status.conf.accounts import _user_settings

    shown = repr(_user_settings()) + repr(get_settings("kz")) + str(get_settings("kz"))
    for secret in ("top-Secret-1", "kz-Secret-2", "kz-Key-3"):
        assert secret not in shown
    assert "'kz'" in shown


# -- limits per login across real processes (PostgreSQL in CI) ---------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_limits_hold_per_login_across_processes(
    smsc_simulator, kz_site, kz_account, smsc_settings, track, spawn
):
    """Three sweeping processes over two accounts: each login has at most 4 requests in flight
    at its site, both accounts are served at once, and no message is asked twice."""
    smsc_simulator.smsc.latency = kz_site.smsc.latency = 0.05
    ru = [track("default", (-1,)) for _ in range(150)]
    kz = [track("kz", (-1,)) for _ in range(150)]
    service.balance()  # both logins prove themselves: four slots each
    service.balance("kz")

    workers = [spawn("sweep", 8) for _ in range(3)]
    for worker in workers:
        assert worker.wait(60) == 0

    for site, login, messages in ((smsc_simulator, RU_LOGIN, ru), (kz_site, KZ_LOGIN, kz)):
        assert 2 <= site.smsc.max_in_flight[login] <= 4, (login, site.smsc.max_in_flight)
        assert [asked(site, m) for m in messages] == [1] * len(messages)  # all, once each
        assert site.smsc.errors_answered == {}
    assert SentMessage.objects.filter(last_checked_at__isnull=True).count() == 0
    # served at once: each site was asked while the other was still being asked
    spans = [
        [t for m in messages for t in site.smsc.status_checks[(m.smsc_id, m.phone)]]
        for site, messages in ((smsc_simulator, ru), (kz_site, kz))
    ]
    assert max(min(times) for times in spans) < min(max(times) for times in spans)


@pytest.mark.django_db
def test_one_accounts_malformed_settings_stop_only_that_account(smsc_simulator, kz_site, kz_account, track):
    ru, kz = track("default", (1,)), track("kz", (1,))
    kz_account["TIMEOUT"] = -1

    report = service.refresh_due()

    assert report.counts == {Outcome.CHANGED: 1} and not report.aborted
    assert report.skipped["kz"].startswith("SMSC_STATUS['ACCOUNTS']['kz']['TIMEOUT'] must be a number")
    assert SentMessage.objects.get(pk=ru.pk).status == 1
    [result] = service.refresh_many([kz])
    assert result.outcome == Outcome.REFUSED and "['TIMEOUT']" in str(result.error)
    assert kz_site.smsc.calls["get_status"] == 0


@pytest.mark.django_db
def test_a_password_changed_since_the_login_last_answered_costs_one_request(
    smsc_settings, smsc_simulator, tracked, monkeypatch
):
    """A login that answered more than LOGIN_PROOF_SECONDS ago is half-open again: the next run
    sends one request first, so a password changed meanwhile costs one error 2, not four."""
    service.balance()
    for _ in range(8):
        tracked((-1,))
    LoginState.objects.update(verified_at=timezone.now() - timedelta(seconds=LOGIN_PROOF_SECONDS + 1))
    monkeypatch.setitem(smsc_simulator.smsc.logins, RU_LOGIN, "changed-at-smsc")

    service.refresh_due()

    assert smsc_simulator.smsc.calls["get_status"] == 1
    assert smsc_simulator.smsc.errors_answered == {"2": 1}
    assert service.account_status().paused_until is not None


@pytest.mark.django_db
def test_wrong_passwords_of_many_logins_at_one_site_never_get_its_ip_blocked(
    smsc_settings, smsc_simulator, tracked, monkeypatch
):
    """SMSC blocks the calling IP after 5 errors 2 within 30 minutes, whichever logins made
    them: five accounts with wrong passwords at one site cost at most 4, the good account keeps
    its answers, and then every call to that site waits for the window to pass."""
    bad = {f"shop{n}": f"shop{n}-login" for n in range(5)}
    smsc_settings["ACCOUNTS"] = {name: {"LOGIN": login, "PASSWORD": "wrong"} for name, login in bad.items()}
    for login in bad.values():
        monkeypatch.setitem(smsc_simulator.smsc.logins, login, "right")
    service.balance()  # the default login has proved itself
    good = [tracked((1,)) for _ in range(4)]
    for name in bad:
        for n in range(3):
            smsc_simulator.smsc.add_message("79990000000", smsc_id=f"{name}-{n}")
            service.register(f"{name}-{n}", "79990000000", account=name)

    first = service.refresh_due()

    assert smsc_simulator.smsc.errors_answered.get("2", 0) <= 4, smsc_simulator.smsc.errors_answered
    assert "4" not in smsc_simulator.smsc.errors_answered  # never blocked
    assert all(SentMessage.objects.get(pk=m.pk).status == 1 for m in good), str(first)
    second = service.refresh_due()
    assert smsc_simulator.smsc.errors_answered.get("2", 0) <= 4
    assert "4" not in smsc_simulator.smsc.errors_answered
    assert any("a fifth would get this server's IP blocked" in why for why in second.skipped.values()), str(
        second
    )
