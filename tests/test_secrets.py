"""No password or API key in any log record or exception text, zeep's DEBUG logs included."""

import logging

import pytest

from django_smsc_status.client import SmscClient
from django_smsc_status.conf import get_settings
from django_smsc_status.exceptions import SmscError
from django_smsc_status.simulator import SimulatorServer, Smsc, timeline

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
        sim.inject("soap_fault")
        with pytest.raises(SmscError) as info:
            client.get_balance()
    assert not leaked(str(info.value))
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
    assert "bad psw ***" in str(info.value)
