"""The simulated SMSC on the wire: a real HTTP server speaking SMSC's SOAP dialect.

It serves the WSDL at ``<endpoint>?wsdl`` and answers POSTed envelopes the way SMSC's PHP
SoapServer does: document/literal, the response element in the site's namespace (the endpoint
URL), its children unqualified. Faults can be injected for the next N requests.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
import xml.etree.ElementTree as ET
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from ..soap import wsdl
from .smsc import Smsc

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

#: request element -> (operation, response element, result element)
OPERATIONS = {
    "status": ("get_status", "StatusResponse", "statusresult"),
    "status2": ("get_status2", "Status2Response", "statusresult"),
    "send": ("send_sms", "SendResponse", "sendresult"),
    "send2": ("send_sms2", "Send2Response", "sendresult"),
    "cost": ("get_sms_cost", "CostResponse", "costresult"),
    "cost2": ("get_sms_cost2", "Cost2Response", "costresult"),
    "balance": ("get_balance", "BalanceResponse", "balanceresult"),
}

FAULTS = (
    "timeout",
    "reset",
    "http500",
    "malformed",
    "wrong_namespace",
    "soap_fault",
    "empty",
    "error",
    "no_dates",
    "drip",
    "huge",
    "fields",
)
DATE_FIELDS = ("last_date", "last_timestamp", "send_date", "send_timestamp")


@dataclass
class Fault:
    """``kind`` is one of :data:`FAULTS`; ``code`` goes with ``error``; ``delay`` with
    ``timeout`` (the wait) and ``drip`` (between bytes); ``size`` and ``framing`` with ``huge``;
    ``fields`` with ``fields``."""

    kind: str
    code: int = 0
    delay: float = 5.0
    smsc_id: str | None = None  # only requests about this message id
    size: int = 0  # huge: the answer's bytes
    framing: str = "length"  # huge: "length" (Content-Length), "chunked" or "close" (no length)
    fields: dict[str, str] = field(default_factory=dict)  # "{psw}" etc. in them: the request's


class _HTTPServer(ThreadingHTTPServer):
    simulator: SimulatorServer


class SimulatorServer:
    """Run :class:`Smsc` behind HTTP on ``host:port`` (port 0 picks a free one).

    Use as a context manager, or ``start()``/``stop()``. ``endpoint`` is the SOAP URL (and the
    namespace, as with SMSC); ``wsdl_url`` is ``endpoint + "?wsdl"``.
    """

    def __init__(
        self,
        smsc: Smsc | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/sys/soap.php",
        *,
        namespace: str | None = None,
        apikey_wsdl: bool = False,
    ) -> None:
        self.smsc = smsc or Smsc()
        self.path = path
        self.apikey_wsdl = apikey_wsdl
        self.faults: deque[Fault] = deque()
        self.requests = 0
        self.dripped = 0  # bytes a ``drip`` fault got out before the client left
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.simulator = self
        self._thread: threading.Thread | None = None
        bound_host, port = self._httpd.server_address[:2]
        self.endpoint = f"http://{bound_host!s}:{port}{path}"
        self.namespace = namespace or self.endpoint
        self.wsdl_url = self.endpoint + "?wsdl"

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="smsc-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every open connection, as a real restart would."""
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def count_dripped(self) -> None:
        with self._lock:
            self.dripped += 1

    def inject(self, kind: str, times: int = 1, **options) -> None:
        """Make the next ``times`` SOAP requests fail with ``kind`` (see :data:`FAULTS`).

        ``smsc_id="42"`` limits the fault to requests about that message.
        """
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; choose from {', '.join(FAULTS)}")
        with self._lock:
            self.faults.extend(Fault(kind, **options) for _ in range(times))

    def reset(self) -> None:
        """Clear faults, counters and the store (for the next test)."""
        with self._lock:
            self.faults.clear()
            self.requests = self.dripped = 0
        self.smsc.reset()

    def next_fault(self, smsc_id: str | None) -> Fault | None:
        """The first queued fault that applies to a request about ``smsc_id``, taken off."""
        with self._lock:
            for fault in self.faults:
                if fault.smsc_id is None or fault.smsc_id == smsc_id:
                    self.faults.remove(fault)
                    return fault
            return None

    def wsdl_document(self) -> bytes:
        return wsdl.render(self.namespace, self.endpoint, apikey=self.apikey_wsdl)


def envelope(namespace: str, element: str, result: str, fields: dict[str, str]) -> bytes:
    """A response the way PHP's SoapServer writes it: prefixed response, unqualified children."""
    children = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:ns1="{escape(namespace)}">'
        f"<SOAP-ENV:Body><ns1:{element}><{result}>{children}</{result}></ns1:{element}>"
        "</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def soap_fault(code: str, reason: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}"><SOAP-ENV:Body><SOAP-ENV:Fault>'
        f"<faultcode>SOAP-ENV:{code}</faultcode><faultstring>{escape(reason)}</faultstring>"
        "</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def parse_request(body: bytes) -> tuple[str, dict[str, str]]:
    """The request element's local name and its children's texts, qualified or not."""
    root = ET.fromstring(body)  # noqa: S314 - a local test server parsing its clients' XML
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    if soap_body is None or len(soap_body) == 0:
        raise ValueError("no SOAP body")
    request = soap_body[0]
    name = request.tag.rsplit("}", 1)[-1]
    params = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in request}
    return name, params


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every keep-alive reply waits ~40 ms for delayed ACK
    server_version = "SMSC-simulator"
    server: _HTTPServer

    @property
    def sim(self) -> SimulatorServer:
        return self.server.simulator

    def setup(self) -> None:
        super().setup()
        self.sim.track(self.connection, True)

    def finish(self) -> None:
        self.sim.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args) -> None:
        pass

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path != self.sim.path or query.lower() != "wsdl":
            self._send(404, b"not found", "text/plain")
            return
        self._send(200, self.sim.wsdl_document(), "text/xml; charset=utf-8")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.partition("?")[0] != self.sim.path:
            self._send(404, b"not found", "text/plain")
            return
        self.sim.count_request()
        try:
            name, params = parse_request(body)
        except (ET.ParseError, ValueError):
            name, params = "", {}
        fault = self.sim.next_fault(params.get("id"))
        if fault and self._fail(fault):
            return
        if not name:
            self._send(500, soap_fault("Client", "Bad Request"), "text/xml; charset=utf-8")
            return
        if name not in OPERATIONS:
            self._send(
                500, soap_fault("Server", f"Function '{name}' doesn't exist"), "text/xml; charset=utf-8"
            )
            return
        operation, element, result = OPERATIONS[name]
        if fault and fault.kind == "error":
            fields = {"error": str(fault.code)}
        else:
            fields = self.sim.smsc.handle(operation, params, self.client_address[0])
        namespace = self.sim.namespace
        if fault and fault.kind == "wrong_namespace":
            namespace = "urn:not-smsc"
        if fault and fault.kind == "empty":
            fields = dict.fromkeys(fields, "")
        if fault and fault.kind == "no_dates":  # an answer that says nothing of when
            fields = {k: v for k, v in fields.items() if k not in DATE_FIELDS}
        if fault and fault.kind == "fields":  # e.g. {"error": "bad psw {psw}"}: an echo of the request
            values = defaultdict(str, params)
            filled = {k.format_map(values): v.format_map(values) for k, v in fault.fields.items()}
            fields = {**fields, **filled}
        answer = envelope(namespace, element, result, fields)
        if fault and fault.kind == "drip":
            self._drip(answer, fault.delay)
        elif fault and fault.kind == "huge":
            self._huge(answer, fault.size, fault.framing)
        else:
            self._send(200, answer, "text/xml; charset=utf-8")

    def _fail(self, fault: Fault) -> bool:
        """Act out a transport-level fault; False when the fault shapes the answer instead."""
        if fault.kind == "timeout":
            time.sleep(fault.delay)
            self.close_connection = True
            return True
        if fault.kind == "reset":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 500\r\n\r\n<SOAP")
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return True
        if fault.kind == "http500":
            self._send(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
            return True
        if fault.kind == "malformed":
            self._send(200, b'<?xml version="1.0"?><SOAP-ENV:Envelope><SOAP-ENV:Bo', "text/xml")
            return True
        if fault.kind == "soap_fault":
            self._send(500, soap_fault("Server", "Internal error"), "text/xml; charset=utf-8")
            return True
        return False

    def _drip(self, answer: bytes, interval: float) -> None:
        """The whole answer, status line first, one byte every ``interval`` seconds, until
        the client hangs up."""
        self.close_connection = True
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n"
            f"Content-Length: {len(answer)}\r\n\r\n"
        )
        for i, byte in enumerate(head.encode() + answer):
            if i:
                time.sleep(interval)
            try:
                self.wfile.write(bytes([byte]))
            except OSError:
                return
            self.sim.count_dripped()

    def _huge(self, answer: bytes, size: int, framing: str) -> None:
        """``answer`` padded with blanks (still valid XML) to ``size`` bytes, sent in pieces
        as it is made (never whole in memory), until the client hangs up."""
        cut = answer.rindex(b"</SOAP-ENV:Envelope>")
        pad = max(size - len(answer), 0)
        pieces = [answer[:cut], *([b" " * 65536] * (pad // 65536)), b" " * (pad % 65536), answer[cut:]]
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        if framing == "length":
            self.send_header("Content-Length", str(len(answer) + pad))
        elif framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            for piece in pieces:
                if piece and framing == "chunked":
                    piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                self.wfile.write(piece)
            if framing == "chunked":
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
