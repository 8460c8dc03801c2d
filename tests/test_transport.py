"""What the transport says when a connection cannot be made, and its proxy support, for real:
a small forward/CONNECT proxy runs in the test, in front of the simulator. Its bounds (the
request's deadline, the answer's size) against the simulator's slow and huge answers."""

import base64
import http.client
import select
import socket
import ssl
import threading
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from django_smsc_status.conf import get_settings
from django_smsc_status.exceptions import SmscAnswerTooLarge, SmscConnectionError, SmscError, SmscTimeout
from django_smsc_status.simulator import timeline
from django_smsc_status.soap.client import SmscClient
from django_smsc_status.soap.transport import MAX_ANSWER

PROXY_USER, PROXY_PASSWORD = "proxy-user", "pr0xy p@ss"  # quoted in the URL: %20 and %40


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _authorized(self) -> bool:
        expected = "Basic " + base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
        self.server.seen.append((self.command, self.path, self.headers.get("Proxy-Authorization")))
        if self.headers.get("Proxy-Authorization") == expected:
            return True
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="test"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not self._authorized():
            return
        target = urlsplit(self.path)  # a forward proxy gets the absolute URL
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("proxy-authorization", "host", "connection")
        }
        upstream.request("POST", target.path, body, headers)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "text/xml"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_CONNECT(self):
        if not self._authorized():
            return
        host, port = self.path.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.send_response(200, "Connection established")
        self.end_headers()
        sockets = [self.connection, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 10)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()
            self.close_connection = True


@pytest.fixture
def proxy():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
    server.daemon_threads = True
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def client_for(smsc_settings, endpoint):
    smsc_settings["ENDPOINT"] = endpoint
    return SmscClient(get_settings())


def proxy_url(proxy, credentials=True):
    auth = "proxy-user:pr0xy%20p%40ss@" if credentials else ""
    return f"http://{auth}127.0.0.1:{proxy.server_address[1]}"


def test_status_through_an_authenticating_proxy(smsc_settings, smsc_simulator, proxy, no_proxy_env):
    smsc_simulator.smsc.add_message("79991234567", smsc_id="7", steps=timeline((1,)))
    no_proxy_env.setenv("http_proxy", proxy_url(proxy))
    client = client_for(smsc_settings, smsc_simulator.endpoint)
    assert client.get_status("7", "79991234567").status == 1
    method, path, _auth = proxy.seen[-1]
    assert (method, path) == ("POST", smsc_simulator.endpoint)  # it went through the proxy


def test_proxy_without_credentials_is_named_as_the_problem(
    smsc_settings, smsc_simulator, proxy, no_proxy_env
):
    no_proxy_env.setenv("http_proxy", proxy_url(proxy, credentials=False))
    client = client_for(smsc_settings, smsc_simulator.endpoint)
    with pytest.raises(SmscConnectionError) as info:
        client.get_balance()
    assert "proxy" in str(info.value) and "407" in str(info.value)
    assert info.value.before_sending  # the proxy did not pass it on
    assert smsc_simulator.requests == 0


def test_https_tunnels_through_the_proxy_with_credentials(smsc_settings, smsc_simulator, proxy, no_proxy_env):
    """CONNECT carries the credentials; the simulator speaks no TLS, so the handshake then fails,
    and the error says so (not "refused")."""
    no_proxy_env.setenv("https_proxy", proxy_url(proxy))
    port = urlsplit(smsc_simulator.endpoint).port
    client = client_for(smsc_settings, f"https://127.0.0.1:{port}/sys/soap.php")
    with pytest.raises(SmscConnectionError) as info:
        client.get_balance()
    assert proxy.seen and proxy.seen[0][:2] == ("CONNECT", f"127.0.0.1:{port}")
    assert proxy.seen[0][2] and proxy.seen[0][2].startswith("Basic ")
    assert "TLS" in str(info.value)
    assert isinstance(info.value.__cause__, ssl.SSLError)


def test_tunnel_refused_by_the_proxy(smsc_settings, smsc_simulator, proxy, no_proxy_env):
    no_proxy_env.setenv("https_proxy", proxy_url(proxy, credentials=False))
    client = client_for(smsc_settings, "https://127.0.0.1:9/sys/soap.php")
    with pytest.raises(SmscConnectionError) as info:
        client.get_balance()
    assert "proxy refused the tunnel" in str(info.value) and "407" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)


def test_https_proxy_urls_are_refused_clearly(smsc_settings, smsc_simulator, no_proxy_env):
    no_proxy_env.setenv("http_proxy", "https://proxy.example:3128")
    client = client_for(smsc_settings, smsc_simulator.endpoint)
    with pytest.raises(SmscConnectionError, match="https:// proxies are not supported"):
        client.get_balance()


def test_no_proxy_bypasses_it(smsc_settings, smsc_simulator, proxy, no_proxy_env):
    no_proxy_env.setenv("http_proxy", proxy_url(proxy, credentials=False))
    no_proxy_env.setenv("no_proxy", "127.0.0.1")
    client = client_for(smsc_settings, smsc_simulator.endpoint)
    client.get_balance()
    assert proxy.seen == []


# -- what failed, in words, with the cause kept --------------------------------------------------


def test_unknown_host_says_name_lookup(smsc_settings, no_proxy_env):
    client = client_for(smsc_settings, "http://smsc.invalid/sys/soap.php")
    with pytest.raises(SmscConnectionError) as info:
        client.get_balance()
    assert "cannot resolve" in str(info.value) and "smsc.invalid" in str(info.value)
    assert isinstance(info.value.__cause__, socket.gaierror)
    assert info.value.before_sending


def test_closed_port_says_refused(smsc_settings, no_proxy_env):
    client = client_for(smsc_settings, "http://127.0.0.1:9/sys/soap.php")
    with pytest.raises(SmscConnectionError) as info:
        client.get_balance()
    assert "refused" in str(info.value)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_tls_to_a_plain_http_server_says_tls(smsc_settings, smsc_simulator, no_proxy_env):
    port = urlsplit(smsc_simulator.endpoint).port
    client = client_for(smsc_settings, f"https://127.0.0.1:{port}/sys/soap.php")
    with pytest.raises(SmscConnectionError) as info:
        client.get_balance()
    assert "TLS handshake" in str(info.value) and "refused" not in str(info.value)
    assert isinstance(info.value.__cause__, ssl.SSLError)


def test_broken_connection_keeps_the_cause(smsc_settings, smsc_simulator, no_proxy_env):
    smsc_simulator.inject("reset")
    client = client_for(smsc_settings, smsc_simulator.endpoint)
    with pytest.raises(SmscConnectionError) as info:
        client.get_balance()
    assert isinstance(info.value.__cause__, (OSError, http.client.HTTPException))
    assert PROXY_PASSWORD not in str(info.value)


# -- bounds: the whole request within TIMEOUT, the answer within MAX_ANSWER ----------------------


def in_thread(call):
    """Run ``call`` in a thread; the thread (joined for at most 5 s) and what it raised."""
    raised = []

    def run():
        try:
            call()
        except SmscError as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    return thread, raised


def test_timeout_bounds_the_whole_request_not_each_read(smsc_settings, smsc_simulator, no_proxy_env):
    """A server that sends a byte every 0.2 s never lets a 1 s read time out: the request's
    own deadline ends it, with the answer half read."""
    smsc_settings["TIMEOUT"] = 1.0
    client = client_for(smsc_settings, smsc_simulator.endpoint)
    smsc_simulator.inject("drip", delay=0.2)

    thread, raised = in_thread(client.get_balance)

    assert not thread.is_alive(), "the request did not end"
    assert [type(exc) for exc in raised] == [SmscTimeout]
    assert smsc_simulator.dripped >= 3  # bytes were arriving all along, each well within TIMEOUT
    assert client.get_balance() > 0  # and the next request is served as usual


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_an_answer_over_1_mib_is_refused_without_being_read(
    smsc_settings, smsc_simulator, no_proxy_env, framing
):
    """300 MB announced by its length, chunked, or up to the end of the connection: refused,
    with never more than a few MiB in memory; an answer just under the cap is read as usual."""
    client = client_for(smsc_settings, smsc_simulator.endpoint)
    client.get_balance()  # the WSDL and the connection are ready: what follows is the answer alone
    smsc_simulator.inject("huge", size=300 * 1024 * 1024, framing=framing)
    tracemalloc.start()
    try:
        thread, raised = in_thread(client.get_balance)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert not thread.is_alive(), "the request did not end"
    assert [type(exc) for exc in raised] == [SmscAnswerTooLarge]
    assert "1 MiB" in str(raised[0]) and raised[0].operation == "get_balance"
    assert peak < 4 * MAX_ANSWER, f"{peak} bytes allocated"
    smsc_simulator.inject("huge", size=MAX_ANSWER, framing=framing)
    assert client.get_balance() > 0


def test_a_request_is_never_written_after_its_send_deadline(
    smsc_settings, smsc_simulator, tracked, no_proxy_env
):
    """The engine's claim stamp bounds when a request may reach SMSC (the per-message rule
    counts on it): connecting past it drops the request unsent, as a refusal (no error
    counted), and the connection made is kept for the next request. Found by review: a proxy
    answering CONNECT a byte at a time took a request 11.7 s past a 7 s claim."""
    import time

    from django_smsc_status.exceptions import SmscBusy
    from django_smsc_status.limits import is_erroneous_request
    from django_smsc_status.soap import send_before

    message = tracked((1,))
    client = client_for(smsc_settings, smsc_simulator.endpoint)
    with send_before(time.monotonic() - 0.001), pytest.raises(SmscBusy) as info:
        client.get_status(message.smsc_id, message.phone)
    assert "not sent" in str(info.value) and not is_erroneous_request(info.value)
    assert smsc_simulator.smsc.calls["get_status"] == 0  # nothing reached SMSC
    with send_before(time.monotonic() + 5):
        assert client.get_status(message.smsc_id, message.phone).status == 1
    assert client.get_status(message.smsc_id, message.phone).status == 1  # no deadline outside
    assert smsc_simulator.smsc.calls["get_status"] == 2


@pytest.mark.django_db
def test_a_sweep_whose_claims_ran_out_sends_nothing(smsc_settings, smsc_simulator, tracked, monkeypatch):
    """The engine passes each claim's stamp as the send deadline (here already past)."""
    from django_smsc_status import service
    from django_smsc_status.engine import loop
    from django_smsc_status.models import SentMessage

    messages = [tracked((1,)) for _ in range(3)]
    monkeypatch.setattr(loop, "SEND_MARGIN", 3600.0)
    results = service.refresh_many(messages)
    assert smsc_simulator.smsc.calls["get_status"] == 0
    assert {r.outcome.value for r in results} == {"refused"}
    assert not SentMessage.objects.filter(status__isnull=False).exists()
