"""Limits per site (issue 25): one SMSC however its ENDPOINT is spelled, one login's state per
site, every request in flight at a site within what its authorisation budget allows, and one
request per breaker reset. Counted at the server (the simulator); the concurrency tests run
real OS processes (on PostgreSQL when the suite runs there)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from django_smsc_status import limits, service
from django_smsc_status.conf import get_settings, site_of
from django_smsc_status.models import LoginState, RequestSlot, SentMessage
from django_smsc_status.service import Outcome

from .test_migrations import migrate  # noqa: F401 - the fixture

# -- one site, one key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spellings", "site"),
    [
        (
            [
                "https://smsc.ru/sys/soap.php",
                "http://smsc.ru/sys/soap.php",
                "https://www.smsc.ru/sys/soap.php",
                "https://www2.smsc.ru/sys/soap.php",
                "https://WWW5.SMSC.RU./sys/soap.php",
                "https://smsc.ru:443/sys/soap.php",
                "http://smsc.ru:80/sys/soap.php",
            ],
            "smsc.ru",
        ),
        (
            [
                "http://127.0.0.1:8201/sys/soap.php",
                "http://localhost:8201/sys/soap.php",
                "http://LOCALHOST.:8201/",
                "http://127.0.1.1:8201/",
                "http://[::1]:8201/",
                "http://[::ffff:127.0.0.1]:8201/",
            ],
            "localhost:8201",
        ),
        (["https://smsc.ru:8443/sys/soap.php"], "smsc.ru:8443"),  # another port: another site
        (["http://localhost:8202/"], "localhost:8202"),  # two simulators stay two sites
        (["https://www.ru/"], "www.ru"),  # www is the domain here, not a label in front of it
        (["https://10.0.0.7:8080/x"], "10.0.0.7:8080"),
        (["https://[2001:DB8::1]/x"], "[2001:db8::1]"),
    ],
)
def test_every_spelling_of_a_site_is_one_site(spellings, site):
    assert {site_of(url) for url in spellings} == {site}


def test_accounts_spelling_one_site_differently_share_its_key(settings):
    settings.SMSC_STATUS = {
        "LOGIN": "ru",
        "PASSWORD": "p",
        "ACCOUNTS": {"backup": {"ENDPOINT": "https://www2.smsc.ru/sys/soap.php"}},
    }
    assert get_settings().site == get_settings("backup").site == "smsc.ru"


def test_an_endpoint_with_a_port_out_of_range_is_refused(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "ENDPOINT": "https://smsc.ru:99999/sys/soap.php"}
    with pytest.raises(ImproperlyConfigured, match=r"\['ENDPOINT'\] has an invalid port"):
        get_settings()


@pytest.mark.django_db
def test_two_spellings_of_one_site_share_one_authorisation_budget(smsc_settings, smsc_simulator, monkeypatch):
    """Six logins with wrong passwords, half of them calling the simulator as 127.0.0.1, half
    as localhost: SMSC counts their errors 2 together, so must we."""
    sim = smsc_simulator.smsc
    assert "127.0.0.1" in smsc_simulator.endpoint
    spelled = [smsc_simulator.endpoint, smsc_simulator.endpoint.replace("127.0.0.1", "localhost")]
    smsc_settings["ACCOUNTS"] = {
        f"shop{n}": {
            "LOGIN": f"shop{n}",
            "PASSWORD": "wrong",
            "ENDPOINT": spelled[n % 2],
            "NAMESPACE": smsc_simulator.namespace,
        }
        for n in range(6)
    }
    for n in range(6):
        monkeypatch.setitem(sim.logins, f"shop{n}", "right")
        sim.add_message("79990000000", smsc_id=f"shop{n}")
        service.register(f"shop{n}", "79990000000", account=f"shop{n}")

    service.refresh_due()

    assert sim.errors_answered.get("2", 0) == 4, dict(sim.errors_answered)
    assert sim.blocked_until == {}  # never the fifth: the IP was not blocked


# -- one login, two sites ---------------------------------------------------------------------


@pytest.mark.django_db
def test_one_login_at_two_sites_keeps_its_state_at_each(
    smsc_settings, smsc_simulator, kz_site, tracked, monkeypatch
):
    """The login ``alex`` exists at both sites; its password at the second changed there. The
    first site's proof does not open the second site's slots (one probe there, not four), and
    the second site's error 2 pauses only the login there."""
    monkeypatch.setitem(kz_site.smsc.logins, "alex", "changed-at-smsc")
    smsc_settings["ACCOUNTS"] = {
        "kz": {"LOGIN": "alex", "PASSWORD": "old", "ENDPOINT": kz_site.endpoint, "DEFAULT_REGION": "KZ"}
    }
    service.balance()  # alex proves itself at the first site
    kz_site.smsc.latency = 0.05
    for n in range(8):
        kz_site.smsc.add_message(f"7701000000{n}", smsc_id=f"kz-{n}")
        service.register(f"kz-{n}", f"7701000000{n}", account="kz")
    ru = [tracked((-1,)) for _ in range(4)]

    report = service.refresh_due()

    assert kz_site.smsc.calls["get_status"] == 1  # half-open at the second site: one probe
    assert kz_site.smsc.errors_answered == {"2": 1}
    assert "kz" in report.skipped and "default" not in report.skipped, str(report)
    assert service.account_status("kz").paused_until is not None
    assert service.account_status().paused_until is None  # the first site goes on
    assert len(smsc_simulator.smsc.status_checks) == len(ru)
    assert {(s.site, s.login) for s in LoginState.objects.all()} == {
        (get_settings().site, "alex"),
        (get_settings("kz").site, "alex"),
    }


# -- what is in flight at a site ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_proved_logins_whose_passwords_change_at_once_never_make_a_fifth_error_2(
    smsc_settings, smsc_simulator, kz_login, tracked, spawn, monkeypatch
):
    """Two logins at one site, both proved, many messages due, SMSC slow: then both passwords
    change at SMSC (a rotation, or the IP dropped from the allow-list). Three sweeping
    processes: whatever they have in flight, at most 4 errors 2 reach SMSC, never error 4."""
    sim = smsc_simulator.smsc
    service.balance()
    service.balance("kz")  # both logins proved: each alone could have 4 requests in flight
    for _ in range(24):
        tracked((-1,))
    for n in range(24):
        sim.add_message(f"7999200{n:04d}", smsc_id=f"kz-{n}")
        service.register(f"kz-{n}", f"7999200{n:04d}", account="kz")
    sim.latency = 0.3
    monkeypatch.setitem(sim.logins, "alex", "rotated")
    monkeypatch.setitem(sim.logins, "kzlogin", "rotated")

    workers = [spawn("sweep", 3) for _ in range(3)]
    for worker in workers:
        assert worker.wait(60) == 0

    assert 1 <= sim.errors_answered.get("2", 0) <= 4, dict(sim.errors_answered)
    assert "4" not in sim.errors_answered and sim.blocked_until == {}
    assert limits.auth_budget(get_settings())[2] == sim.errors_answered["2"]  # each one counted


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_each_breaker_reset_lets_one_request_out_while_six_processes_sweep(
    smsc_settings, smsc_simulator, tracked, spawn, monkeypatch
):
    """A wrong password, six processes sweeping all the time, and an admin resetting the
    breaker again and again: each reset lets exactly one request reach SMSC (the login is
    half-open), never two. The site's error count is cleared between resets (here only the
    race between the pause and the slots is measured, not the budget)."""
    sim = smsc_simulator.smsc
    smsc_settings.update(BACKOFF_INITIAL=1, BACKOFF_MAX=1, BACKOFF_JITTER=0)
    for _ in range(150):
        tracked((-1,))
    monkeypatch.setitem(sim.logins, "alex", "changed-at-smsc")
    service.refresh_due()  # one request: error 2, the breaker opens
    assert sim.calls["get_status"] == 1

    for _ in range(6):
        spawn("sweep", 30)  # killed when the test ends
    requests = []
    for _ in range(10):
        RequestSlot.objects.filter(holder=limits.AUTH_ERROR_HOLDER).update(holder="", expires_at=None)
        sim.auth_failures.clear()
        before = sim.calls["get_status"]
        assert service.reset_breaker()
        deadline = time.monotonic() + 5
        while not service.account_status().paused_until:  # a sweeper's probe paused it again
            assert time.monotonic() < deadline, "no process sent a request after the reset"
            time.sleep(0.02)
        time.sleep(0.5)  # a second request would be out by now
        requests.append(sim.calls["get_status"] - before)

    assert requests == [1] * 10
    assert sim.blocked_until == {}


# -- an error flood -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_error_flood_stays_within_the_sites_error_budget_and_the_rest_are_still_asked(
    fast_polling, smsc_simulator, tracked
):
    """150 messages SMSC does not know (error 3: ids registered under the wrong account, say),
    the most overdue, and 50 it knows: sweep after sweep every known message is asked, and the
    error answers stay within what unknown messages may spend of the site's budget; a refresh
    of all the unknown ones stops at the budget (50 per 10 minutes; SMSC blocks the IP at 100)."""
    sim = smsc_simulator.smsc
    good = [tracked((-1,)) for _ in range(50)]
    service.refresh_many(good)  # SMSC has answered about these before
    bad = [service.register(str(90000 + n), f"7999300{n:04d}")[0] for n in range(150)]
    SentMessage.objects.filter(pk__in=[m.pk for m in bad]).update(
        next_check_at=timezone.now() - timedelta(hours=1)
    )

    def asked(message):
        return len(sim.status_checks.get((message.smsc_id, message.phone), []))

    room = limits.ERROR_BUDGET - limits.ERROR_RESERVE
    for sweep in range(2, 5):
        service.refresh_due()
        assert [asked(m) for m in good] == [sweep] * 50
        assert set(sim.errors_answered) == {"3"}
        # the unknown ones stop at the reserve, give or take those in flight when they reached it
        swept = sim.errors_answered["3"]
        assert room <= swept <= room + limits.SITE_SLOTS

    results = service.refresh_many(bad)

    assert sim.errors_answered == {"3": limits.ERROR_BUDGET}  # the budget holds exactly
    assert sim.blocked_until == {}
    assert [r.outcome for r in results].count(Outcome.REQUEST_ERROR) == limits.ERROR_BUDGET - swept
    refused = [r for r in results if r.outcome == Outcome.REFUSED]
    assert any("erroneous requests to this site" in str(r.error) for r in refused)
    assert limits.error_budget(get_settings())[0] == 0


@pytest.mark.django_db
def test_the_reserve_holds_back_erring_messages_only(smsc_settings, smsc_simulator, tracked):
    """Fresh messages have no good answer yet either: as long as they do not err, a sweep asks
    them all, however many (the reserve counts the unproven ones in flight and those that
    erred, not those answered)."""
    messages = [tracked((1,)) for _ in range(3 * limits.ERROR_BUDGET)]
    report = service.refresh_due()
    assert report.total == len(messages) and smsc_simulator.smsc.errors_answered == {}


# -- migration 0006 -------------------------------------------------------------------------------


def test_migration_keeps_pauses_per_site_and_recent_errors_2_as_site_slots(migrate, smsc_settings):  # noqa: F811
    from urllib.parse import urlsplit

    old = migrate(("django_smsc_status", "0005_accounts"))
    now = timezone.now()
    old_site_key = "site:" + urlsplit(smsc_settings["ENDPOINT"]).netloc  # 127.0.0.1:port
    old.get_model("django_smsc_status", "AccountState").objects.create(
        account="alex", paused_until=now + timedelta(minutes=20), pause_code=2
    )
    old.get_model("django_smsc_status", "AccountState").objects.create(account="gone")
    AuthFailure = old.get_model("django_smsc_status", "AuthFailure")
    for minutes in (1, 2, 40):  # the last one has left the 30-minute window
        AuthFailure.objects.create(account=old_site_key, occurred_at=now - timedelta(minutes=minutes))
    old.get_model("django_smsc_status", "RequestSlot").objects.create(account="alex", number=0)

    new = migrate(("django_smsc_status", "0006_site_limits"))

    config = get_settings()
    states = new.get_model("django_smsc_status", "AccountState").objects.all()
    assert [(s.site, s.account, s.pause_code) for s in states] == [(config.site, "alex", 2)]
    slots = new.get_model("django_smsc_status", "RequestSlot").objects
    assert not slots.filter(account="alex").exists()
    kept = slots.filter(account="site:" + config.site, holder=limits.AUTH_ERROR_HOLDER).order_by("expires_at")
    assert [s.expires_at for s in kept] == [now + timedelta(minutes=28), now + timedelta(minutes=29)]
