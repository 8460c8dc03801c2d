"""The simulator speaks SMSC's dialect to any SOAP client, not only ours."""

import http.client
import json
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from django_smsc_status.simulator import FAULTS, SimulatorServer, Smsc, timeline
from django_smsc_status.simulator.__main__ import logins_of, parse
from django_smsc_status.simulator.__main__ import main as simulator_main
from django_smsc_status.simulator.smsc import sms_parts

# What PHP's SoapClient sends for the seed page's example (get_status with the WSDL's namespace).
PHP_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:ns1="{ns}"><SOAP-ENV:Body><ns1:status><login>alex</login><psw>123</psw>'
    "<phone>79999999999</phone><id>999</id><all>0</all></ns1:status></SOAP-ENV:Body>"
    "</SOAP-ENV:Envelope>"
)

BALANCE_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:ns1="urn:x"><SOAP-ENV:Body><ns1:balance><login>{login}</login><psw>{psw}</psw>'
    "</ns1:balance></SOAP-ENV:Body></SOAP-ENV:Envelope>"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(server, body: bytes, headers=None):
    url = urlsplit(server.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    conn.request("POST", url.path, body, headers or {"Content-Type": "text/xml; charset=utf-8"})
    response = conn.getresponse()
    return response.status, response.read()


@pytest.fixture
def seed_server():
    with SimulatorServer(Smsc({"alex": "123"})) as server:
        server.smsc.add_message("79999999999", smsc_id="999", steps=timeline((1, 0)))
        yield server


def test_php_soapclient_envelope(seed_server):
    body = PHP_ENVELOPE.format(ns=seed_server.namespace).encode()
    status, content = post(
        seed_server,
        body,
        {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{seed_server.namespace}"',
            "User-Agent": "PHP-SOAP/8.2.0",
        },
    )
    assert status == 200
    root = ET.fromstring(content)
    response = root.find(f".//{{{seed_server.namespace}}}StatusResponse")
    assert response is not None, content
    result = response.find("statusresult")  # children are unqualified, as SMSC's
    assert result is not None
    assert [child.tag for child in result] == ["status", "last_date", "last_timestamp", "err"]
    assert result.findtext("status") == "1" and result.findtext("err") == "0"


def test_qualified_children_are_read_too(seed_server):
    ns = seed_server.namespace
    body = (
        PHP_ENVELOPE.format(ns=ns)
        .replace("<login>", "<ns1:login>")
        .replace("</login>", "</ns1:login>")
        .encode()
    )
    status, content = post(seed_server, body)
    assert status == 200 and b"<status>1</status>" in content


def test_wsdl_namespace_is_the_endpoint(seed_server):
    url = urlsplit(seed_server.wsdl_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    conn.request("GET", f"{url.path}?{url.query}")
    document = conn.getresponse().read()
    root = ET.fromstring(document)
    assert root.get("targetNamespace") == seed_server.endpoint
    address = root.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == seed_server.endpoint


def test_garbage_request_gets_a_soap_fault(seed_server):
    status, content = post(seed_server, b"not xml")
    assert status == 500 and b"Fault" in content


def test_unknown_operation_gets_a_soap_fault(seed_server):
    body = PHP_ENVELOPE.format(ns=seed_server.namespace).replace("ns1:status", "ns1:nope").encode()
    status, content = post(seed_server, body)
    assert status == 500 and b"nope" in content


def test_timeline_by_time_follows_the_clock():
    smsc = Smsc({"a": "b"})
    smsc.add_message("71", smsc_id="1", steps=timeline((-1,), (0, 0, 10), (1, 0, 20)))
    ask = {"login": "a", "psw": "b", "id": "1", "phone": "71"}
    assert smsc.handle("get_status", ask)["status"] == "-1"
    smsc.advance(10)
    assert smsc.handle("get_status", ask)["status"] == "0"
    smsc.advance(10)
    answer = smsc.handle("get_status", ask)
    assert answer["status"] == "1"
    assert int(answer["last_timestamp"]) == int(smsc.messages[("1", "71")].sent_at + 20)


def test_timeline_by_checks_moves_one_step_per_check():
    smsc = Smsc({"a": "b"})
    smsc.add_message("71", smsc_id="1", steps=timeline((-1,), (0,), (1,)), by_checks=True)
    ask = {"login": "a", "psw": "b", "id": "1", "phone": "71"}
    assert [smsc.handle("get_status", ask)["status"] for _ in range(4)] == ["-1", "0", "1", "1"]


def test_send_creates_messages_with_the_default_timeline():
    smsc = Smsc({"a": "b"})
    request = {"login": "a", "psw": "b", "phones": "79990000100", "mes": "x"}
    answer = smsc.handle("send_sms", request)
    message = smsc.messages[(answer["id"], "79990000100")]
    assert message.steps[-1].status == 20 and message.steps[-1].err == 1


def test_sms_parts():
    assert sms_parts("a" * 160) == 1 and sms_parts("a" * 161) == 2
    assert sms_parts("я" * 70) == 1 and sms_parts("я" * 71) == 2


def test_unknown_fault_is_refused(seed_server):
    with pytest.raises(ValueError, match="unknown fault"):
        seed_server.inject("meteor")
    assert "timeout" in FAULTS


def test_checks_within_counts_the_busiest_minute():
    smsc = Smsc({"a": "b"})
    smsc.status_checks[("1", "71")] = [0, 10, 20, 70, 75, 200]
    assert smsc.checks_within("1", "71") == 3


def test_stats_counts_messages_by_times_asked_and_logins_in_flight():
    smsc = Smsc({"a": "b"})
    smsc.add_message("71", smsc_id="1", steps=timeline((1,)))
    smsc.add_message("72", smsc_id="1", steps=timeline((1,)))
    smsc.handle("get_status", {"login": "a", "psw": "b", "id": "1", "phone": "71"})
    smsc.handle("get_status", {"login": "x", "psw": "y", "id": "1", "phone": "72"})  # refused: error 2
    stats = smsc.stats()
    assert stats["asked"] == {"0": 1, "1": 1}  # a wrong login is refused before the message counts
    assert stats["max_in_flight"] == {"a": 1, "x": 1} and stats["errors"] == {"2": 1}


def test_cli_serves_every_login_given_and_prints_its_stats_on_exit():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django_smsc_status.simulator",
            "--port",
            str(port),
            "--login",
            "ru",
            "--password",
            "ru-pw",
            "--login",
            "kz:kz:pw",  # the password may contain colons
            "--login",
            "ua:ua-pw",
            "--stats",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        assert f"127.0.0.1:{port}/sys/soap.php" in banner
        assert "logins 'ru', 'kz', 'ua'" in banner
        server = SimpleNamespace(endpoint=f"http://127.0.0.1:{port}/sys/soap.php")
        for login, password in [("ru", "ru-pw"), ("kz", "kz:pw"), ("ua", "ua-pw"), ("ua", "wrong")]:
            body = BALANCE_ENVELOPE.format(login=login, psw=password).encode()
            status, content = post(server, body)
            assert status == 200
            assert (b"<error>2</error>" in content) == (password == "wrong"), content
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["calls"] == {"get_balance": 4} and stats["errors"] == {"2": 1}
    assert stats["max_in_flight"] == {"ru": 1, "kz": 1, "ua": 1}


def test_cli_refuses_a_login_without_a_name(capsys):
    with pytest.raises(SystemExit):
        simulator_main(["--login", ":pw"])
    assert "LOGIN[:PASSWORD]" in capsys.readouterr().err


def test_cli_logins_default_to_demo_and_take_the_password_for_a_bare_login():
    assert logins_of(parse([])) == {"demo": "demo"}
    assert logins_of(parse(["--login", "ru", "--password", "pw", "--login", "kz:kz-pw"])) == {
        "ru": "pw",
        "kz": "kz-pw",
    }


def test_cli_still_takes_the_deprecated_account_option_hidden(capsys):
    """``--account LOGIN:PASSWORD`` (renamed ``--login``): adds a login after the others, as
    before, with a warning; not in the help."""
    assert logins_of(parse(["--account", "kz:kz:pw"])) == {"demo": "demo", "kz": "kz:pw"}
    assert logins_of(parse(["--login", "ru", "--account", "kz:pw", "--login", "ua:x"])) == {
        "ru": "demo",
        "ua": "x",
        "kz": "pw",
    }
    assert "--account is deprecated: use --login LOGIN:PASSWORD" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["--account", "kz"])  # its password was always required
    assert "LOGIN:PASSWORD" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["--help"])
    assert "--account" not in capsys.readouterr().out


def test_help_names_the_way_to_run_it(capsys):
    with pytest.raises(SystemExit):
        simulator_main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m django_smsc_status.simulator ")
