"""SMSC's status pushes (``django_smsc_status.push``): a trigger, never a source of status.

Requests go through Django's test client or, from the simulator's :class:`Pusher`, over real
HTTP to a live server; status requests are counted at the simulator. Tasks run inline (test
settings ``sync``), after the push's transaction commits: ``transaction=True`` where a refresh
must happen.
"""

import hashlib
import logging
import time
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from django_smsc_status import push
from django_smsc_status.conf import get_settings
from django_smsc_status.models import PushCounter, ReceivedPush, SentMessage, StatusSnapshot
from django_smsc_status.simulator import Pusher
from django_smsc_status.simulator.push import send

TOKEN = "pUsh-T0ken-for-tests_0123456789"
SECRET = "checksum-s3cret"
URL = f"/smsc/push/{TOKEN}/"


@pytest.fixture
def pushes_on(smsc_settings):
    """Pushes on for the default account, its rate count (in the cache) from zero."""
    cache.clear()
    smsc_settings["PUSH_TOKEN"] = TOKEN
    return smsc_settings


def form(fields: dict, charset: str = "windows-1251") -> bytes:
    return urlencode(fields, encoding=charset).encode()


def post(client, fields: dict, query: str = "", charset: str = "windows-1251", url: str = URL):
    return client.post(
        url + query, data=form(fields, charset), content_type="application/x-www-form-urlencoded"
    )


def counters(account: str = "default") -> dict:
    row = PushCounter.objects.filter(account=account).values().first() or {}
    return {k: v for k, v in row.items() if k not in ("id", "account", "last_received_at") and v}


def asked(smsc_simulator, message) -> int:
    """Status requests SMSC got about ``message``."""
    return len(smsc_simulator.smsc.status_checks.get((message.smsc_id, message.phone), []))


def status_push(message, status: int = 1, **extra) -> dict:
    return {"id": message.smsc_id, "phone": message.phone, "status": str(status), "err": "0", **extra}


# -- only SMSC gets in ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [f"/smsc/push/{TOKEN[:-1]}/", f"/smsc/push/{TOKEN}x/", "/smsc/push/é/"])
def test_wrong_token_is_404_and_stores_nothing(client, pushes_on, tracked, smsc_simulator, url):
    message = tracked((-1,), (1, 0, 0))
    for method in ("get", "post"):
        response = getattr(client, method)(url, status_push(message))
        assert response.status_code == 404
    assert not PushCounter.objects.exists() and not ReceivedPush.objects.exists()
    assert asked(smsc_simulator, message) == 0


@pytest.mark.django_db
def test_no_token_configured_means_no_pushes(client, smsc_settings, tracked):
    message = tracked()
    assert post(client, status_push(message)).status_code == 404
    assert client.post("/smsc/push/", status_push(message)).status_code == 404
    assert not PushCounter.objects.exists()


@pytest.mark.django_db
def test_each_account_has_its_own_token(client, pushes_on, kz_account):
    """A named account inherits no token: a push with the default's token is the default's."""
    assert get_settings("kz").push_token == ""
    pushes_on["ACCOUNTS"]["kz"]["PUSH_TOKEN"] = "kz-" + TOKEN
    assert post(client, {"mes": "hi"}, url=f"/smsc/push/kz-{TOKEN}/").status_code == 200
    assert post(client, {"mes": "hi"}).status_code == 200
    assert counters("kz") == {"received": 1, "incoming": 1} == counters("default")


@pytest.mark.parametrize("token", ["short", "has space in it 0123456789", "é" * 25, 12345678901234567890123])
def test_unguessable_token_required_and_never_shown(settings, token):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "PUSH_TOKEN": token}
    with pytest.raises(ImproperlyConfigured, match="PUSH_TOKEN") as error:
        get_settings()
    assert str(token) not in str(error.value)


def test_push_secrets_hidden_in_repr(settings):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "PUSH_TOKEN": TOKEN, "PUSH_SECRET": SECRET}
    config = get_settings()
    assert config.push_token == TOKEN and config.push_secret == SECRET
    assert TOKEN not in repr(config) and SECRET not in repr(config)
    assert TOKEN not in repr(config.push_token) and SECRET not in repr(config.push_secret)


# -- a hint, never the truth ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_push_makes_the_message_asked_and_stores_smscs_answer_not_the_push(
    client, pushes_on, tracked, smsc_simulator
):
    """SMSC says "queued" (-1); a push claims "delivered" (1) with forged cost and time: the
    message holds what SMSC answered, nothing from the push."""
    message = tracked((-1,))
    SentMessage.objects.filter(pk=message.pk).update(next_check_at="2099-01-01T00:00Z")
    fields = status_push(message, 1, cost="999.99", ts="4102444800", cnt="77", sender_id="FORGED")
    response = post(client, fields)
    assert response.status_code == 200 and response.content == b"OK"
    assert response["Content-Type"].startswith("text/plain")
    message.refresh_from_db()
    assert asked(smsc_simulator, message) == 1
    assert (message.status, message.sender, message.sms_count) == (-1, "SMSC", 1)
    assert message.cost != 999 and message.status_changed_at.year < 2099
    assert list(StatusSnapshot.objects.values_list("status", flat=True)) == [-1]
    assert counters() == {"received": 1, "matched": 1}
    kept = ReceivedPush.objects.get()
    assert (kept.kind, kept.message_id, kept.fields["sender_id"]) == ("matched", message.pk, "FORGED")


@pytest.mark.django_db(transaction=True)
def test_replays_and_floods_cost_one_request_per_min_check_interval(
    client, pushes_on, tracked, smsc_simulator
):
    message, other = tracked((-1,), (1, 0, 0)), tracked((-1,))
    for status in (1, 0, -1, 1, 20) * 8:  # repeated and out of order
        assert post(client, status_push(message, status)).status_code == 200
    assert post(client, status_push(other, 1)).status_code == 200
    assert asked(smsc_simulator, message) == 1 and asked(smsc_simulator, other) == 1
    assert counters()["matched"] == 41
    assert ReceivedPush.objects.count() == 41


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"id": "", "phone": "79990000001", "status": "1"},
        {"id": "1\x002", "phone": "79990000001"},
        {"id": "1 2", "phone": "79990000001"},
        {"id": "1", "phone": "seven nine nine"},
        {"id": "x" * 41, "phone": "79990000001"},
        {"id": "1", "phone": "1" * 500, "status": "1" * 6000},
        {f"f{i}": "1" for i in range(60)},  # more fields than a push has
    ],
)
def test_malformed_pushes_are_counted_and_change_nothing(client, pushes_on, tracked, smsc_simulator, fields):
    message = tracked((1,))
    before = SentMessage.objects.values().get(pk=message.pk)
    assert post(client, fields).status_code == 200
    assert counters() == {"received": 1, "malformed": 1}
    assert SentMessage.objects.values().get(pk=message.pk) == before
    assert asked(smsc_simulator, message) == 0
    kept = ReceivedPush.objects.get().fields
    assert all(len(value) <= 5000 for value in kept.values())  # cut as snapshots are


@pytest.mark.django_db
def test_unknown_message_is_counted_not_stored(client, pushes_on, tracked):
    tracked()
    assert post(client, {"id": "404", "phone": "+7 999 000-00-01", "status": "1"}).status_code == 200
    assert counters() == {"received": 1, "unknown": 1}
    assert SentMessage.objects.count() == 1


@pytest.mark.django_db
def test_final_message_is_not_asked_again(client, pushes_on, tracked, smsc_simulator):
    message = tracked((1,))
    SentMessage.objects.filter(pk=message.pk).update(status=1, is_final=True)
    post(client, status_push(message, 20))
    assert asked(smsc_simulator, message) == 0 and counters()["matched"] == 1


# -- a status on the way is no trigger -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", ["0", "-1", " 0"])
def test_a_push_of_a_status_on_the_way_makes_nothing_due(client, pushes_on, tracked, smsc_simulator, status):
    """ "At the operator" (0) or "waiting" (-1) says more is to come: asking would only learn
    that. Counted and kept like any push, nothing asked or changed."""
    message = tracked((-1,), (1, 0, 0))
    SentMessage.objects.filter(pk=message.pk).update(next_check_at="2099-01-01T00:00Z")
    before = SentMessage.objects.values().get(pk=message.pk)
    assert post(client, {**status_push(message), "status": status}).status_code == 200
    assert asked(smsc_simulator, message) == 0
    assert SentMessage.objects.values().get(pk=message.pk) == before
    assert counters() == {"received": 1, "matched": 1}
    kept = ReceivedPush.objects.get()
    assert (kept.kind, kept.message_id, kept.fields["status"]) == ("matched", message.pk, status)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", [None, "", "delivered", "1.0", "-2", "5", "99999999999999999999"])
def test_a_push_whose_status_is_unreadable_or_not_on_the_way_is_a_trigger(
    client, pushes_on, tracked, smsc_simulator, status
):
    """Only the two statuses known to mean "more to come" are skipped: anything else, a code
    SMSC may add later included, costs one request as any push does."""
    message = tracked((-1,), (1, 0, 0))
    SentMessage.objects.filter(pk=message.pk).update(next_check_at="2099-01-01T00:00Z")
    fields = status_push(message)
    if status is None:
        del fields["status"]
    else:
        fields["status"] = status
    post(client, fields)
    assert asked(smsc_simulator, message) == 1
    assert SentMessage.objects.get(pk=message.pk).status == 1  # SMSC's answer


@pytest.mark.django_db(transaction=True)
def test_simulator_pushes_ask_once_per_message_at_its_final_status(
    live_server, pushes_on, tracked, smsc_simulator
):
    """SMSC pushes 0 ("at the operator") 0.3 s after sending and the final status 0.3 s later:
    only the final push makes the app ask, so nothing holds it back (no request in the last
    ``MIN_CHECK_INTERVAL``) and each message costs exactly one request."""
    messages = [tracked((-1,), (0, 0, 0.3), (1, 0, 0.6)), tracked((-1,), (0, 0, 0.3), (20, 1, 0.6))]
    SentMessage.objects.update(next_check_at="2099-01-01T00:00Z")
    with Pusher(smsc_simulator.smsc, {"alex": live_server.url + URL}) as pusher:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            SentMessage.objects.filter(is_final=True).count() < 2 or pusher.counts["sent"] < 4
        ):
            time.sleep(0.05)
    assert sorted(SentMessage.objects.values_list("status", flat=True)) == [1, 20]
    assert pusher.counts == {"sent": 4} and counters()["matched"] == 4
    assert [asked(smsc_simulator, m) for m in messages] == [1, 1]


# -- encodings, methods, JSON --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "query", "charset"),
    [
        ("POST", "", "windows-1251"),
        ("POST", "?charset=utf-8", "utf-8"),
        ("GET", "", "windows-1251"),
        ("GET", "?charset=utf-8", "utf-8"),
        ("POST", "?fmt=3", "windows-1251"),
        ("POST", "?fmt=3&charset=utf-8", "utf-8"),
    ],
)
def test_encodings_methods_and_json_over_http(
    live_server, pushes_on, tracked, smsc_simulator, method, query, charset
):
    """Real HTTP from the simulator's sender: the phone as SMSC writes it (digits) or as a
    person does, a Cyrillic sender read back as sent."""
    message = tracked((-1,), (1, 0, 0), phone="79991112233")
    fields = status_push(message, 1, sender_id="Магазин", phone="8 (999) 111-22-33")
    assert send(live_server.url + URL + query, fields, method=method)
    assert asked(smsc_simulator, message) == 1
    kept = ReceivedPush.objects.get()
    assert (kept.kind, kept.fields["sender_id"]) == ("matched", "Магазин")
    assert "charset" not in kept.fields and "fmt" not in kept.fields
    assert SentMessage.objects.get(pk=message.pk).status == 1  # from SMSC's answer


@pytest.mark.django_db
def test_unreadable_json_is_malformed(client, pushes_on):
    for body in (b"[1, 2]", b"{not json", b"[" * 5000):
        response = client.post(URL + "?fmt=3", data=body, content_type="application/json")
        assert response.status_code == 200
    assert counters() == {"received": 3, "malformed": 3}


# -- incoming SMS, calls, checksums --------------------------------------------------------------


@pytest.mark.django_db
def test_incoming_sms_and_call_confirmations_are_counted_not_stored(
    client, pushes_on, tracked, smsc_simulator
):
    message = tracked()
    post(
        client,
        {"id": message.smsc_id, "phone": message.phone, "mes": "Привет, код 1234", "to": "79990000000"},
    )
    post(client, {"id": "5", "phone": message.phone, "waitcall": "1"})
    assert counters() == {"received": 2, "incoming": 1, "calls": 1}
    assert SentMessage.objects.count() == 1 and asked(smsc_simulator, message) == 0
    texts = [str(p.fields) for p in ReceivedPush.objects.all()]
    assert not any("1234" in text for text in texts) and "16 characters, not kept" in texts[1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("algorithm", ["md5", "sha1"])
def test_checksum_checked_and_mismatches_counted(client, pushes_on, tracked, smsc_simulator, algorithm):
    pushes_on["PUSH_SECRET"] = SECRET
    message = tracked((-1,), (1, 0, 0))
    fields = status_push(message, 1)
    good = hashlib.new(algorithm, f"{message.smsc_id}:{message.phone}:1:{SECRET}".encode()).hexdigest()
    post(client, fields)  # none
    post(client, {**fields, algorithm: "0" * len(good)})  # wrong
    post(client, {**fields, "status": "20", algorithm: good})  # for another status
    assert counters() == {"received": 3, "bad_checksum": 3} and asked(smsc_simulator, message) == 0
    post(client, {**fields, algorithm: good.upper()})
    assert counters()["matched"] == 1 and asked(smsc_simulator, message) == 1
    assert SECRET not in str(list(ReceivedPush.objects.values_list("fields", flat=True)))


# -- bounded, rate-limited, OK whatever happens, secrets kept ------------------------------------


@pytest.mark.django_db
def test_big_bodies_other_methods_and_floods_are_refused_untouched(client, pushes_on, tracked):
    pushes_on["PUSH_RATE_LIMIT"] = 5
    message = tracked()
    big = client.post(
        URL, data=b"id=1&phone=2&x=" + b"a" * 9000, content_type="application/x-www-form-urlencoded"
    )
    assert big.status_code == 413
    assert client.put(URL).status_code == 405 and client.delete(URL).status_code == 405
    answers = [post(client, status_push(message)).status_code for _ in range(20)]
    assert answers.count(200) >= 5 and 429 in answers  # a second boundary may fall within the 20
    assert counters()["received"] == answers.count(200)


@pytest.mark.django_db
def test_answers_ok_when_the_database_fails_and_never_shows_the_token(
    client, pushes_on, tracked, settings, caplog
):
    """A table gone (a real database error inside the request): still OK, logged without the
    token; the other answers neither show nor log it, DEBUG on."""
    if not connection.features.can_rollback_ddl:
        pytest.skip("the DROP TABLE must roll back with the test (SQLite, PostgreSQL; not MariaDB)")
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    message = tracked()
    responses = [
        client.get(f"/smsc/push/{TOKEN[:-1]}/"),
        client.put(URL),
        client.post(URL, data=b"x" * 9000, content_type="text/plain"),
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {ReceivedPush._meta.db_table}")
    responses.append(post(client, status_push(message)))
    assert responses[-1].status_code == 200 and responses[-1].content == b"OK"
    assert "not handled" in caplog.text
    for text in [caplog.text, *(r.content.decode() for r in responses)]:
        assert TOKEN not in text and TOKEN[:-1] not in text


@pytest.mark.django_db
def test_only_the_last_pushes_are_kept(client, pushes_on, monkeypatch):
    monkeypatch.setattr(push, "KEEP", 3)
    for n in range(6):
        post(client, {"id": str(n), "phone": "79990000001", "status": "1"})
    assert [p.fields["id"] for p in ReceivedPush.objects.all()] == ["5", "4", "3"]
    assert counters() == {"received": 6, "unknown": 6}


# -- the simulator pushes ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_simulator_pushes_make_statuses_known_in_seconds(live_server, pushes_on, tracked, smsc_simulator):
    """Statuses turn 0.2 s and 0.4 s after sending; no sweep runs, polling is far off: only
    the pushes (each duplicated, delayed and reordered) make the app ask, once per change."""
    messages = [tracked((-1,), (1, 0, 0.2)), tracked((-1,), (20, 1, 0.4))]
    SentMessage.objects.update(next_check_at="2099-01-01T00:00Z")
    pusher = Pusher(
        smsc_simulator.smsc, {"alex": live_server.url + URL}, duplicate=2, delay=0.1, reorder=True
    )
    with pusher:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            SentMessage.objects.filter(is_final=True).count() < 2 or pusher.counts["sent"] < 6
        ):
            time.sleep(0.05)
    assert sorted(SentMessage.objects.values_list("status", flat=True)) == [1, 20]
    assert pusher.counts == {"sent": 6}
    assert [asked(smsc_simulator, m) for m in messages] == [1, 1]
    assert counters()["matched"] == 6


@pytest.mark.django_db(transaction=True)
def test_lost_pushes_leave_the_message_to_polling(live_server, pushes_on, tracked, smsc_simulator):
    message = tracked((-1,), (1, 0, 0.1))
    with Pusher(smsc_simulator.smsc, {"alex": live_server.url + URL}, drop=1.0) as pusher:
        time.sleep(0.4)
    assert pusher.counts == {"dropped": 1} and not PushCounter.objects.exists()
    assert asked(smsc_simulator, message) == 0
    from django_smsc_status import service

    service.refresh_due()  # the sweep, unchanged by pushes
    assert SentMessage.objects.get(pk=message.pk).status == 1


# -- the admin -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_shows_counters_and_raw_pushes(admin_client, client, pushes_on, tracked):
    from django.urls import reverse

    from django_smsc_status.models import LoginState

    message = tracked()
    config = get_settings()
    state = LoginState.objects.create(site=config.site, login=config.limits_login)
    page = admin_client.get(reverse("admin:django_smsc_status_loginstate_change", args=[state.pk]))
    assert "none received" in page.content.decode()
    post(client, status_push(message, sender_id="Магазин"))
    post(client, {"id": "404", "phone": message.phone, "md5": "x"})
    post(client, {"mes": "hi"})
    page = admin_client.get(reverse("admin:django_smsc_status_loginstate_change", args=[state.pk]))
    text = page.content.decode()
    assert "3 received" in text and "matched a message 1" in text and "unknown message 1" in text
    assert "incoming SMS 1" in text and TOKEN not in text
    listing = admin_client.get(reverse("admin:django_smsc_status_receivedpush_changelist")).content.decode()
    assert "sender_id=Магазин" in listing and TOKEN not in listing
    pk = ReceivedPush.objects.get(kind="matched").pk
    detail = admin_client.get(reverse("admin:django_smsc_status_receivedpush_change", args=[pk]))
    assert detail.status_code == 200 and "Магазин" in detail.content.decode()


@pytest.mark.django_db(transaction=True)
def test_simulator_signs_pushes_and_pushes_no_change_from_before_it_started(
    live_server, pushes_on, tracked, smsc_simulator
):
    """With ``md5`` and ``charset=utf-8`` in the URL the app verifies the simulator's checksum;
    a message that became final an hour ago is not pushed (SMSC did that back then)."""
    pushes_on["PUSH_SECRET"] = SECRET
    smsc_simulator.smsc.add_message("79990000009", smsc_id="old", sent_at=time.time() - 3600)
    message = tracked((-1,), (1, 0, 0.1))
    url = live_server.url + URL + "?charset=utf-8&md5"
    with Pusher(smsc_simulator.smsc, {"alex": url}, secrets={"alex": SECRET}) as pusher:
        deadline = time.monotonic() + 20  # a bound, not a wait: a loaded machine is slow
        while time.monotonic() < deadline and not pusher.counts:
            time.sleep(0.05)
    assert pusher.counts == {"sent": 1}
    assert counters() == {"received": 1, "matched": 1}
    assert ReceivedPush.objects.get().fields["md5"]
    assert SentMessage.objects.get(pk=message.pk).status == 1


@pytest.mark.django_db(transaction=True)
def test_simulator_command_line_pushes_to_the_callback_url(live_server, pushes_on, fast_polling):
    """``python -m django_smsc_status.simulator --callback-url URL``: a message sent through
    it is delivered in 0.15 s (scaled timeline) and pushed to the site, which then asks (no
    ``MIN_CHECK_INTERVAL``: the change to 0 and to 1 come 0.1 s apart)."""
    import subprocess
    import sys

    from django_smsc_status import service

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django_smsc_status.simulator",
            "--port",
            "0",
            "--timeline-scale",
            "0.01",
            "--callback-url",
            f"demo={live_server.url}{URL}",
            "--push-duplicate",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = process.stdout.readline().split()[3]
        assert "pushing status changes of 'demo'" in process.stdout.readline()
        fast_polling.update(LOGIN="demo", PASSWORD="demo", ENDPOINT=endpoint)
        (message,) = service.send("79991234567", "hi")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (
            SentMessage.objects.get(pk=message.pk).status == 1 and counters().get("matched")
        ):
            time.sleep(0.05)
        assert SentMessage.objects.get(pk=message.pk).status == 1
        assert counters()["matched"] >= 1  # counted after the (inline) refresh
    finally:
        process.terminate()
        process.wait(10)


def test_callback_argument():
    from django_smsc_status.simulator.__main__ import callback

    assert callback("http://h/smsc/push/T/?charset=utf-8") == ("", "http://h/smsc/push/T/?charset=utf-8")
    assert callback("kz=http://h/p/?a=b") == ("kz", "http://h/p/?a=b")


@pytest.mark.django_db(transaction=True)
def test_a_final_status_pushed_moments_after_a_poll_is_asked_at_once(
    client, pushes_on, tracked, smsc_simulator
):
    """The poll just before the final push does not hold it back for ``MIN_CHECK_INTERVAL``."""
    from django_smsc_status import service

    message = tracked((-1,), (1, 0, 0), by_checks=True)  # SMSC answers -1, then 1
    service.refresh(message)
    post(client, status_push(message, 1))
    message.refresh_from_db()
    assert asked(smsc_simulator, message) == 2 and message.status == 1 and message.is_final
    assert not smsc_simulator.smsc.errors_answered


@pytest.mark.django_db(transaction=True)
def test_pushes_naming_a_status_smsc_does_not_give_cost_two_requests_a_half_minute(
    client, pushes_on, tracked, smsc_simulator
):
    """Forged (or early) pushes: the first is asked about at once, the next one after the first
    request, then the pair rule (two requests at least ``PUSHED_PAIR`` apart) holds the rest:
    the message becomes due when it may be asked again, and the sweep asks then."""
    from datetime import timedelta

    from django.utils import timezone

    from django_smsc_status import limits

    message = tracked((-1,), (1, 0, 600))  # final only in ten minutes
    for _ in range(10):
        post(client, status_push(message, 1))
    message.refresh_from_db()
    assert asked(smsc_simulator, message) == 2 and message.status == -1
    # due when the rule lets it be asked again: twice MIN_CHECK_INTERVAL after the first request
    assert message.next_check_at == limits.free_at(message, get_settings())
    assert message.next_check_at == message.previous_checked_at + timedelta(seconds=30)
    assert not SentMessage.objects.due(timezone.now()).exists()
    assert SentMessage.objects.due(message.next_check_at).get() == message


@pytest.mark.django_db(transaction=True)
def test_a_repeated_push_of_the_known_status_asks_nothing(client, pushes_on, tracked, smsc_simulator):
    from django_smsc_status import service

    message = tracked((-1,), (20, 1, 0), by_checks=True)
    service.refresh(message)  # -1
    SentMessage.objects.filter(pk=message.pk).update(status=22)  # pretend SMSC's 22 was learned
    post(client, status_push(message, 22))
    assert asked(smsc_simulator, message) == 1
    assert SentMessage.objects.get(pk=message.pk).pushed_at is None


def test_two_accounts_with_one_token_is_a_check_error(settings):
    from django_smsc_status.checks import check_settings

    settings.SMSC_STATUS = {
        "LOGIN": "a",
        "PASSWORD": "b",
        "PUSH_TOKEN": TOKEN,
        "ACCOUNTS": {"kz": {"PUSH_TOKEN": TOKEN}, "ua": {"PUSH_TOKEN": "ua-" + TOKEN}},
    }
    errors = [e for e in check_settings() if e.id == "smsc_status.E003"]
    assert len(errors) == 1 and "default" in errors[0].msg and "kz" in errors[0].msg
    assert TOKEN not in str(errors[0])


def test_debug_error_page_of_bad_settings_shows_no_push_secret(settings, rf):
    from tests.test_secrets import debug_page

    settings.DEBUG = True
    settings.SMSC_STATUS = {
        "LOGIN": "a",
        "PASSWORD": "b",
        "PUSH_TOKEN": TOKEN,
        "PUSH_SECRET": SECRET,
        "ALL": 7,
    }
    page = debug_page(rf, get_settings)
    assert "ImproperlyConfigured" in page and TOKEN not in page and SECRET not in page


@pytest.mark.django_db(transaction=True)
def test_the_message_page_shows_the_last_push_and_the_check_before(
    client, admin_client, pushes_on, tracked, smsc_simulator
):
    import re

    from django.urls import reverse

    def empty(label: str, page: str) -> bool:
        return bool(re.search(label + r':</label>\s*<div class="readonly">-</div>', page))

    message = tracked((-1,), (1, 0, 600))
    change = reverse("admin:django_smsc_status_sentmessage_change", args=[message.pk])
    page = admin_client.get(change).content.decode()
    assert empty("Last push at", page) and empty("Checked before that at", page)
    post(client, status_push(message, 1))
    post(client, status_push(message, 1))
    page = admin_client.get(change).content.decode()
    assert not empty("Last push at", page) and not empty("Checked before that at", page)


@pytest.mark.django_db(transaction=True)
def test_a_push_while_the_request_is_on_its_way_is_not_lost(client, pushes_on, tracked, smsc_simulator):
    """SMSC answers 0 to a poll that reached it before delivery and pushes 1 while that answer
    is still on its way back: the message is due again as soon as it may be asked, not after
    its backoff (here an hour). Found by review."""
    import threading

    from django.test import Client
    from django.utils import timezone

    from django_smsc_status import limits, service

    message = tracked((0,), (1, 0, 0), by_checks=True)
    SentMessage.objects.filter(pk=message.pk).update(status=0, err=0, check_attempts=6)
    smsc_simulator.smsc.latency_for[message.smsc_id] = 0.5  # within the tests' TIMEOUT of 1 s
    pushed = threading.Event()

    def push_meanwhile():
        claimed = SentMessage.objects.filter(pk=message.pk, last_checked_at__gt=timezone.now())
        while not claimed.exists():  # the claim's stamp (ahead of now): the request is on its way
            time.sleep(0.01)
        post(Client(), status_push(message, 1))
        pushed.set()
        connection.close()  # this thread's own

    pusher = threading.Thread(target=push_meanwhile)
    pusher.start()
    service.refresh(message)
    pusher.join(10)
    assert pushed.is_set()
    message.refresh_from_db()
    assert message.status == 0 and message.pushed_at < message.last_checked_at
    waits = (message.next_check_at - timezone.now()).total_seconds()
    assert message.check_attempts == 7  # an unchanged answer, not an error
    assert waits <= get_settings().min_check_interval + 1  # not the hour the backoff says
    assert message.next_check_at >= limits.free_at(message, get_settings())  # and never sooner
