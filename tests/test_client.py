"""SmscClient against the simulator over real HTTP: every operation, error and fault."""

import threading
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from django_smsc_status.conf import get_settings
from django_smsc_status.exceptions import (
    SmscAuthError,
    SmscBadParameters,
    SmscConnectionError,
    SmscError,
    SmscHttpError,
    SmscInvalidRequest,
    SmscIpBlocked,
    SmscMalformedResponse,
    SmscNotFound,
    SmscRequestError,
    SmscSoapFault,
    SmscTimeout,
    SmscTooManyRequests,
    SmscTransportError,
)
from django_smsc_status.simulator import SimulatorServer, Smsc, timeline
from django_smsc_status.soap import SmscClient, get_client, parse_smsc_time


@pytest.fixture
def smsc_client(client_config):
    """Named apart from pytest-django's ``client`` (Django's test client)."""
    return SmscClient(client_config)


@pytest.fixture
def message(smsc_simulator):
    return smsc_simulator.smsc.add_message(
        "+7 (999) 123-45-67",
        smsc_id="501",
        text="Привет, мир! 👋",
        sender="Shop",
        steps=timeline((-1,), (1, 0, 0)),
        operator="Билайн",
        region="Санкт-Петербург",
    )


@pytest.mark.parametrize("level", [0, 1, 2])
def test_get_status_detail_levels(smsc_client, message, level):
    result = smsc_client.get_status("501", "79991234567", all=level)
    assert result.status == 1 and result.err == 0
    assert result.changed_at.tzinfo is timezone.utc
    assert int(result.changed_at.timestamp()) == int(message.sent_at)
    if level == 0:
        assert result.text == "" and result.cost is None and result.operator == ""
        assert set(result.raw) == {"status", "last_date", "last_timestamp", "err"}
    if level >= 1:
        assert result.text == "Привет, мир! 👋"
        assert result.cost == Decimal("1.80") and isinstance(result.cost, Decimal)
        assert result.sms_count == 1
        assert result.sender == "Shop"
        assert result.status_name == "Доставлено"
        assert result.sent_at is not None
    if level == 2:
        assert (result.operator, result.region) == ("Билайн", "Санкт-Петербург")
    else:
        assert result.operator == ""


def test_get_status_uses_all_setting(smsc_settings, message):
    smsc_settings["ALL"] = 0
    result = SmscClient(get_settings()).get_status("501", "79991234567")
    assert "message" not in result.raw


def test_get_status2_passes_query(smsc_client, message):
    result = smsc_client.get_status2("501", "79991234567", all=1, query="fmt=0&charset=utf-8")
    assert result.status == 1 and result.text.startswith("Привет")
    assert smsc_client.get_status2("501", "79991234567").operator == "Билайн"


def test_result_is_immutable(smsc_client, message):
    result = smsc_client.get_status("501", "79991234567")
    with pytest.raises(AttributeError):
        result.status = 2
    with pytest.raises(TypeError):
        result.raw["status"] = "2"


def test_unknown_status_and_err_codes_are_returned_raw(smsc_client, smsc_simulator):
    smsc_simulator.smsc.add_message("79990000001", smsc_id="7", steps=timeline((77, 999)))
    result = smsc_client.get_status("7", "79990000001")
    assert (result.status, result.err) == (77, 999)


def test_send_sms_then_status(smsc_client, smsc_simulator):
    sent = smsc_client.send_sms("79991112233,79991112244", "Ваш код 1234", sender="Shop")
    assert sent.smsc_id and sent.sms_count == 2
    assert sent.cost == Decimal("3.60") and sent.balance == Decimal("996.40")
    status = smsc_client.get_status(sent.smsc_id, "79991112244", all=1)
    assert status.status == -1 and status.text == "Ваш код 1234"


def test_get_balance(smsc_client):
    assert smsc_client.get_balance() == Decimal("1000.00")


# -- SMSC request errors (HTTP 200 with <error>) ------------------------------------------------


def test_error_1_bad_parameters(smsc_client):
    with pytest.raises(SmscBadParameters) as info:
        smsc_client.get_status("501", "")
    assert info.value.code == 1 and info.value.operation == "get_status"


def test_error_2_bad_credentials(smsc_settings, message):
    smsc_settings["PASSWORD"] = "wrong-password"
    with pytest.raises(SmscAuthError) as info:
        SmscClient(get_settings()).get_status("501", "79991234567")
    assert info.value.code == 2
    assert "wrong-password" not in str(info.value)


def test_error_3_unknown_message(smsc_client):
    with pytest.raises(SmscNotFound) as info:
        smsc_client.get_status("404", "79990000000")
    assert isinstance(info.value, SmscRequestError) and info.value.code == 3


def test_error_4_after_five_auth_failures(smsc_settings, message):
    smsc_settings["PASSWORD"] = "wrong"
    bad = SmscClient(get_settings())
    for _ in range(5):
        with pytest.raises(SmscAuthError):
            bad.get_balance()
    with pytest.raises(SmscIpBlocked):
        bad.get_balance()
    smsc_settings["PASSWORD"] = "s3cret-Pa55"
    with pytest.raises(SmscIpBlocked):  # the block is per IP, whatever the credentials
        SmscClient(get_settings()).get_status("501", "79991234567")


def test_error_9_sixth_check_within_a_minute(smsc_client, smsc_simulator, message):
    for _ in range(5):
        smsc_client.get_status("501", "79991234567")
    with pytest.raises(SmscTooManyRequests) as info:
        smsc_client.get_status("501", "79991234567")
    assert info.value.code == 9
    smsc_simulator.smsc.advance(61)
    assert smsc_client.get_status("501", "79991234567").status == 1


def test_error_9_five_requests_in_flight(smsc_client, smsc_simulator):
    smsc_simulator.smsc.latency = 0.3
    for n in range(5):
        smsc_simulator.smsc.add_message(f"7999000000{n}", smsc_id=str(n))
    outcomes = []

    def ask(n):
        try:
            smsc_client.get_status(str(n), f"7999000000{n}")
            outcomes.append("ok")
        except SmscTooManyRequests:
            outcomes.append(9)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert smsc_simulator.smsc.max_in_flight["alex"] == 5
    assert 9 in outcomes


def test_unknown_request_error_code(smsc_client, smsc_simulator, message):
    smsc_simulator.inject("error", code=42)
    with pytest.raises(SmscRequestError) as info:
        smsc_client.get_status("501", "79991234567")
    assert type(info.value) is SmscRequestError and info.value.code == 42


# -- transport and protocol faults --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "options", "exception"),
    [
        ("timeout", {"delay": 1.5}, SmscTimeout),
        ("reset", {}, SmscConnectionError),
        ("http500", {}, SmscHttpError),
        ("malformed", {}, SmscMalformedResponse),
        ("wrong_namespace", {}, SmscMalformedResponse),
        ("soap_fault", {}, SmscSoapFault),
        ("empty", {}, SmscMalformedResponse),
    ],
)
def test_faults_map_to_typed_errors(smsc_client, smsc_simulator, message, fault, options, exception):
    smsc_simulator.inject(fault, **options)
    with pytest.raises(exception) as info:
        smsc_client.get_status("501", "79991234567")
    assert info.value.endpoint == smsc_simulator.endpoint
    assert smsc_client.get_status("501", "79991234567").status == 1  # the next call is fine


def test_an_error_answer_is_read_whatever_its_namespace(smsc_settings, smsc_simulator, message):
    smsc_settings["PASSWORD"] = "wrong"
    smsc_simulator.inject("wrong_namespace")
    with pytest.raises(SmscAuthError):  # not a malformed answer: error 2 must stop the login
        SmscClient(get_settings()).get_status("501", "79991234567")
    assert smsc_simulator.smsc.errors_answered["2"] == 1


def test_http_error_carries_status(smsc_client, smsc_simulator):
    smsc_simulator.inject("http500")
    with pytest.raises(SmscHttpError) as info:
        smsc_client.get_balance()
    assert info.value.status_code == 500 and isinstance(info.value, SmscTransportError)


def test_connection_refused(settings):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "ENDPOINT": "http://127.0.0.1:9/sys/soap.php"}
    with pytest.raises(SmscConnectionError) as info:
        SmscClient(get_settings()).get_balance()
    assert info.value.before_sending


def test_failover_on_transport_failure(smsc_settings, smsc_simulator, message):
    smsc_settings["ENDPOINT"] = "http://127.0.0.1:9/sys/soap.php"
    smsc_settings["FAILOVER_ENDPOINTS"] = [smsc_simulator.endpoint]
    smsc_settings["NAMESPACE"] = smsc_simulator.namespace
    assert SmscClient(get_settings()).get_status("501", "79991234567").status == 1


def test_no_failover_on_smsc_error(smsc_settings, smsc_simulator):
    with SimulatorServer(Smsc({"alex": "s3cret-Pa55"})) as backup:
        smsc_settings["FAILOVER_ENDPOINTS"] = [backup.endpoint]
        with pytest.raises(SmscNotFound):
            SmscClient(get_settings()).get_status("404", "79990000000")
        assert backup.requests == 0


def test_send_is_not_repeated_after_a_read_timeout(smsc_settings, smsc_simulator):
    with SimulatorServer(Smsc({"alex": "s3cret-Pa55"})) as backup:
        smsc_settings["FAILOVER_ENDPOINTS"] = [backup.endpoint]
        smsc_simulator.inject("timeout", delay=1.5)
        with pytest.raises(SmscTimeout):
            SmscClient(get_settings()).send_sms("79991112233", "hi")
        assert backup.requests == 0


# -- WSDL sources, API key, caching --------------------------------------------------------------


def test_wsdl_from_url_and_file(smsc_settings, smsc_simulator, message, tmp_path):
    smsc_settings["WSDL"] = smsc_simulator.wsdl_url
    assert SmscClient(get_settings()).get_status("501", "79991234567").status == 1
    path = tmp_path / "smsc.wsdl"
    path.write_bytes(smsc_simulator.wsdl_document())
    smsc_settings["WSDL"] = str(path)
    assert SmscClient(get_settings()).get_status("501", "79991234567").status == 1


def test_unreachable_wsdl(smsc_settings, tmp_path):
    smsc_settings["WSDL"] = str(tmp_path / "missing.wsdl")
    with pytest.raises(SmscError, match="cannot load the WSDL"):
        SmscClient(get_settings())


def test_api_key_sent_where_wsdl_has_it(settings):
    with SimulatorServer(Smsc({"alex": "pw"}, {"the-key": "alex"}), apikey_wsdl=True) as sim:
        sim.smsc.add_message("79991234567", smsc_id="1", steps=timeline((1,)))
        settings.SMSC_STATUS = {"API_KEY": "the-key", "ENDPOINT": sim.endpoint, "WSDL": sim.wsdl_url}
        client = SmscClient(get_settings())
        assert client.supports_apikey
        assert client.get_status("1", "79991234567").status == 1


def test_api_key_without_wsdl_support_is_refused(smsc_settings):
    smsc_settings.update(LOGIN="", PASSWORD="", API_KEY="the-key")
    with pytest.raises(SmscError, match="no 'apikey' element"):
        SmscClient(get_settings())


def test_one_client_per_configuration(smsc_settings):
    assert get_client() is get_client()
    smsc_settings["TIMEOUT"] = 2.0
    assert get_client().config.timeout == 2.0


def test_moscow_text_dates_fall_back_to_utc():
    assert parse_smsc_time(None, "26.11.2026 12:00:00") == datetime(2026, 11, 26, 9, tzinfo=timezone.utc)
    assert parse_smsc_time("1764147600", "garbage") == datetime.fromtimestamp(1764147600, timezone.utc)
    assert parse_smsc_time("", "not a date") is None
    assert parse_smsc_time(None, None) is None


def test_non_integer_status_is_malformed(smsc_client, smsc_simulator):
    smsc_simulator.smsc.add_message("79990000002", smsc_id="8", steps=timeline((1,)))
    original = smsc_simulator.smsc._op_get_status
    smsc_simulator.smsc._op_get_status = lambda *a: {**original(*a), "status": "delivered"}
    try:
        with pytest.raises(SmscMalformedResponse, match="not an integer"):
            smsc_client.get_status("8", "79990000002")
    finally:
        del smsc_simulator.smsc._op_get_status


def test_stale_keep_alive_connection_is_replaced(settings):
    """A server that closed our idle connection (restart, idle timeout) costs no error."""
    with SimulatorServer(Smsc({"alex": "pw"})) as first:
        port = int(first.endpoint.split(":")[2].split("/")[0])
        settings.SMSC_STATUS = {"LOGIN": "alex", "PASSWORD": "pw", "ENDPOINT": first.endpoint}
        client = SmscClient(get_settings())
        assert client.get_balance() == Decimal("1000.00")
    with SimulatorServer(Smsc({"alex": "pw"}), port=port) as second:
        assert client.get_balance() == Decimal("1000.00")
        assert second.requests == 1


def test_connections_are_reused(smsc_client, smsc_simulator, message):
    import threading

    opened = []
    original = smsc_simulator._httpd.process_request

    def counting(request, address):
        opened.append(address)
        return original(request, address)

    smsc_simulator._httpd.process_request = counting
    try:
        for _ in range(3):
            smsc_client.get_balance()
        other = threading.Thread(target=smsc_client.get_balance)
        other.start()
        other.join()
    finally:
        smsc_simulator._httpd.process_request = original
    assert len(opened) <= 2  # one connection for this thread, maybe one for the other


def test_values_xml_cannot_carry_are_refused(smsc_client, smsc_simulator):
    with pytest.raises(SmscInvalidRequest, match="'mes' holds characters that cannot be sent") as info:
        smsc_client.send_sms("79991112233", "bell \x07")
    assert info.value.parameter == "mes" and "bell" not in str(info.value)  # names, never shows
    with pytest.raises(SmscInvalidRequest, match="'id'"):
        smsc_client.get_status("x\x01y", "79991112233")
    assert smsc_simulator.requests == 0


def test_values_are_escaped(smsc_client, smsc_simulator):
    sent = smsc_client.send_sms("79991112233", "<b>&amp; \"quotes\" 'too'</b>")
    assert smsc_client.get_status(sent.smsc_id, "79991112233", all=1).text == "<b>&amp; \"quotes\" 'too'</b>"
