"""No password or API key in any log record or exception text, zeep's DEBUG logs included."""

import html as html_module
import logging
import re

import pytest

from django_smsc_status.conf import get_settings
from django_smsc_status.exceptions import SmscError
from django_smsc_status.redaction import HIDDEN
from django_smsc_status.simulator import SimulatorServer, Smsc, timeline
from django_smsc_status.soap.client import SmscClient

PASSWORD = "s3cret-Pa55"
API_KEY = "k3y-0f-the-API"


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)  # root: zeep, urllib3, requests, ours
    for name in ("zeep", "zeep.transports", "urllib3", "django_smsc_status"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog


def leaked(text: str) -> bool:
    return PASSWORD in text or API_KEY in text


def test_no_secret_in_logs_or_errors(smsc_settings, smsc_simulator, debug_logs):
    smsc_simulator.smsc.add_message("79991234567", smsc_id="1", steps=timeline((1,)))
    errors = []
    client = SmscClient(get_settings())
    calls = [
        lambda: client.get_status("1", "79991234567"),
        lambda: client.get_status2("1", "79991234567", query="a=b"),
        lambda: client.send_sms("79991234567", "hello"),
        client.get_balance,
        lambda: client.get_status("404", "79990000000"),
    ]
    for call in calls:
        try:
            call()
        except SmscError as exc:
            errors.append(exc)
    for fault in ("timeout", "reset", "http500", "malformed", "wrong_namespace", "soap_fault"):
        smsc_simulator.inject(fault, delay=1.5)
        with pytest.raises(SmscError) as info:
            client.get_balance()
        errors.append(info.value)
    smsc_settings["PASSWORD"] = "wrong-" + PASSWORD
    with pytest.raises(SmscError) as info:
        SmscClient(get_settings()).get_balance()
    errors.append(info.value)

    assert len(errors) == 8
    assert debug_logs.records, "DEBUG logging produced nothing: the test would prove nothing"
    for record in debug_logs.records:
        assert not leaked(record.getMessage()), record.name
    for exc in errors:
        assert not leaked(str(exc)) and not leaked(repr(exc))
        assert exc.__cause__ is None or not leaked(str(exc.__cause__))


def test_api_key_never_logged(settings, debug_logs):
    with SimulatorServer(Smsc({"alex": "pw"}, {API_KEY: "alex"}), apikey_wsdl=True) as sim:
        sim.smsc.add_message("79991234567", smsc_id="1", steps=timeline((1,)))
        settings.SMSC_STATUS = {"API_KEY": API_KEY, "ENDPOINT": sim.endpoint, "WSDL": sim.wsdl_url}
        client = SmscClient(get_settings())
        client.get_status("1", "79991234567")
        sim.inject("fields", fields={"status": "{apikey}"})  # echoed back
        with pytest.raises(SmscError) as echoed:
            client.get_status("1", "79991234567")
        sim.inject("soap_fault")
        with pytest.raises(SmscError) as info:
            client.get_balance()
    assert not leaked(str(info.value))
    assert f"'{HIDDEN}'" in str(echoed.value) and not leaked(str(echoed.value))
    assert debug_logs.records
    for record in debug_logs.records:
        assert not leaked(record.getMessage())


def test_soap_fault_echoing_the_password_is_redacted(smsc_settings, smsc_simulator):
    import django_smsc_status.simulator.server as server

    original = server.soap_fault
    server.soap_fault = lambda code, reason: original(code, f"bad psw {PASSWORD}")
    try:
        smsc_simulator.inject("soap_fault")
        with pytest.raises(SmscError) as info:
            SmscClient(get_settings()).get_balance()
    finally:
        server.soap_fault = original
    assert f"bad psw {HIDDEN}" in str(info.value)


@pytest.mark.django_db
def test_no_secret_anywhere_after_every_operation(
    smsc_settings, smsc_simulator, tracked, debug_logs, admin_client
):
    """Service, database, admin and API, with every logger at DEBUG, failures included."""
    from django_smsc_status import service
    from django_smsc_status.models import LoginState, SentMessage, StatusSnapshot

    smsc_settings["API_KEY"] = API_KEY  # configured but unused by this WSDL: must not leak either
    seen = []
    messages = [tracked((1,)) for _ in range(3)]
    seen.append(repr(service.refresh_many(messages)))
    for fault in ("timeout", "reset", "http500", "malformed", "soap_fault", "wrong_namespace"):
        SentMessage.objects.update(last_checked_at=None)
        smsc_simulator.inject(fault, delay=1.5)
        seen.append(repr(service.refresh(messages[0])))
    seen.append(repr(service.send("79991234567", "hi")))
    smsc_settings["PASSWORD"] = "wrong-" + PASSWORD
    SentMessage.objects.update(last_checked_at=None)
    seen.append(repr(service.refresh_many(messages)))  # error 2, breaker opens
    with pytest.raises(SmscError) as info:
        service.send("79991234567", "hi")
    seen.append(str(info.value))

    for url in (
        "/admin/django_smsc_status/sentmessage/",
        f"/admin/django_smsc_status/sentmessage/{messages[0].pk}/change/",
        "/admin/django_smsc_status/loginstate/",
        "/api/smsc/messages/",
        f"/api/smsc/messages/{messages[0].pk}/snapshots/",
    ):
        seen.append(admin_client.get(url).content.decode())
    seen.append(admin_client.post(f"/api/smsc/messages/{messages[0].pk}/refresh/").content.decode())
    seen += [m.last_request_error for m in SentMessage.objects.all()]
    seen += [str(s.raw) for s in StatusSnapshot.objects.all()]
    seen += [repr(s) for s in LoginState.objects.all()]
    seen += [record.getMessage() for record in debug_logs.records]
    seen += [str(record.args) for record in debug_logs.records]

    assert any("error 2" in text for text in seen)  # the failures really happened
    assert [text for text in seen if leaked(text)] == []


# -- Django's DEBUG error page ------------------------------------------------------------------


def debug_page(request_factory, call) -> str:
    """The technical 500 page (DEBUG=True) for the exception ``call`` raises: every frame's
    local variables included, as Django shows them."""
    import sys

    from django.views.debug import ExceptionReporter

    try:
        call()
    except Exception:
        html = ExceptionReporter(request_factory.get("/"), *sys.exc_info()).get_traceback_html()
    else:
        raise AssertionError("the call did not fail")
    assert "Local vars" in html  # frames with their locals were rendered: the check means something
    # pprint splits long values into adjacent literals ('...'  b'...'): join them again
    return re.sub(r"""['"]\s+b?['"]""", "", html_module.unescape(html))


@pytest.mark.django_db
def test_debug_error_page_shows_no_secret(settings, smsc_settings, smsc_simulator, tracked, rf, monkeypatch):
    from django_smsc_status import limits, service
    from django_smsc_status.soap.client import get_client

    settings.DEBUG = True
    smsc_settings["API_KEY"] = API_KEY  # configured but unused by this WSDL: hidden as well
    tracked((1,), phone="79991234567")
    pages = []
    smsc_simulator.inject("malformed")
    pages.append(debug_page(rf, service.balance))  # raised inside SmscClient._call
    smsc_simulator.inject("http500")
    pages.append(debug_page(rf, lambda: service.send("79991234567", "hi")))
    smsc_simulator.inject("reset")
    pages.append(debug_page(rf, lambda: get_client().get_status("1001", "79991234567")))
    pages.append(debug_page(rf, lambda: get_client().get_status("x\x01y", "79991234567")))
    pages.append(debug_page(rf, lambda: get_client().send_sms("79991234567", "hi", sender="a\x01b")))

    def broken_claim(*args, **kwargs):
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patch:  # an exception out of a refresh, through the engine's frames
        patch.setattr(limits, "claim_messages", broken_claim)
        pages.append(debug_page(rf, lambda: service.refresh_many(SentMessageIds())))
    smsc_settings["ENDPOINT"] = "http://127.0.0.1:9/sys/soap.php"
    pages.append(debug_page(rf, service.balance))  # connection refused, causes chained
    smsc_settings["MIN_CHECK_INTERVAL"] = 0
    pages.append(debug_page(rf, service.balance))  # ImproperlyConfigured out of get_settings

    assert "_call" in pages[0] and "get_settings" in pages[-1]
    assert "django_smsc_status/engine/lanes.py" in pages[5]
    assert [i for i, page in enumerate(pages) if leaked(page)] == []


@pytest.mark.parametrize(
    ("accounts", "whole_page"),
    [
        ({"kz": {"LOGIN": "kz", "PASSWORD": PASSWORD, "API_KEY": API_KEY, "TIMEOUT": "10"}}, True),
        ([{"NAME": "kz", "LOGIN": "kz", "PASSWORD": PASSWORD, "API_KEY": API_KEY}], True),  # a list
        # pairs instead of a dict: our frames hide them; Django's own settings table does not
        # (its cleansing looks at dict keys only), so only the frames are checked
        ({"kz": [("LOGIN", "kz"), ("PASSWORD", PASSWORD), ("API_KEY", API_KEY)]}, False),
    ],
)
def test_debug_page_of_malformed_accounts_shows_no_secret(settings, rf, accounts, whole_page):
    from django_smsc_status import service

    settings.DEBUG = True
    settings.SMSC_STATUS = {"LOGIN": "ru", "PASSWORD": PASSWORD, "ACCOUNTS": accounts}
    page = debug_page(rf, lambda: service.balance("kz"))
    frames = page[: page.index('id="requestinfo"')]
    assert "ImproperlyConfigured" in frames and "Local vars" in frames
    assert not leaked(page if whole_page else frames)


class SentMessageIds(list):
    """Every tracked message's key, read when iterated."""

    def __iter__(self):
        from django_smsc_status.models import SentMessage

        return iter(SentMessage.objects.values_list("pk", flat=True))


def test_secrets_hidden_in_settings_and_envelopes(smsc_settings, smsc_simulator):
    from django_smsc_status.soap.client import get_client

    config = get_settings()
    envelope = get_client(config)._envelope("get_balance", get_client(config)._credentials())
    assert PASSWORD.encode() in envelope  # it is sent ...
    assert not leaked(repr(config)) and not leaked(repr(envelope))  # ... and never shown
    assert not leaked(repr(get_client(config)._credentials()))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "echo",
    [
        {"status": "{psw}"},
        {"error": "bad psw {psw}"},
        {"err": "{login}:{psw}"},
        {"message": "your password: {psw}", "operator": "{psw}", "{psw}": "as a name"},  # an answer
    ],
    ids=["status", "error", "err", "answer"],
)
def test_a_server_echoing_the_password_shows_it_nowhere(
    fast_polling, smsc_simulator, tracked, debug_logs, admin_client, echo
):
    """The password SMSC echoes back (what it sent, character for character) is hidden before
    anything is parsed out of the answer: not in the row, the history, the API, the admin, the logs."""
    from django.forms.models import model_to_dict

    from django_smsc_status.models import SentMessage, StatusSnapshot

    message = tracked((-1,))
    smsc_simulator.inject("fields", fields=echo)

    refreshed = admin_client.post(f"/api/smsc/messages/{message.pk}/refresh/")

    row = SentMessage.objects.get(pk=message.pk)
    seen = [
        refreshed.content.decode(),
        admin_client.get(f"/api/smsc/messages/{message.pk}/").content.decode(),
        admin_client.get(f"/api/smsc/messages/{message.pk}/snapshots/").content.decode(),
        admin_client.get(f"/admin/django_smsc_status/sentmessage/{message.pk}/change/").content.decode(),
        repr(model_to_dict(row)),
        *(repr(snapshot.raw) for snapshot in StatusSnapshot.objects.all()),
        *(record.getMessage() for record in debug_logs.records),
    ]
    assert [text for text in seen if leaked(text)] == []
    echoed = row.text if "message" in echo else row.last_request_error
    assert HIDDEN in echoed, echoed  # the echo came through, hidden
