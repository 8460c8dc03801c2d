"""Keep-alive HTTP POSTs for the SOAP calls, on ``http.client``.

One connection per thread and endpoint, reused across calls. ``requests`` cost about four
times the CPU of the whole call (benchmarks/bench_client.py), mostly re-reading proxy settings
from the environment on every request, and urllib3 about 1.5 times ours (benchmarks/README.md).
Here the proxy URLs are read once, when the transport is built; ``NO_PROXY`` is read when a new
connection is opened (rarely: connections are kept alive).

Supported: HTTP and HTTPS endpoints, HTTPS with certificate checks (``REQUESTS_CA_BUNDLE``/
``SSL_CERT_FILE`` or certifi's bundle); ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` naming a
plain ``http://`` proxy, with Basic authentication when the proxy URL has ``user:password@``
(plain HTTP is forwarded, HTTPS tunnels through ``CONNECT``). Not supported: ``https://`` proxy
URLs (TLS to the proxy), SOCKS, other proxy authentication schemes; these fail with a clear
:class:`SmscConnectionError`.

Errors come out as :class:`SmscTransportError` subclasses with the ``OSError`` as their cause;
the message says what failed (name lookup, refused, TLS, proxy) and never holds a credential.
``before_sending`` tells whether the request can have reached the server (it cannot if the
connection was never made).

A request is never written after the moment set by :func:`send_before` for the thread (the
engine's claim stamp: SMSC's limits count a request when it arrives, and the claim rules assume
it arrived by then). Connecting may take longer than ``CONNECT_TIMEOUT`` in all (a proxy or a
TLS handshake answering a byte at a time, several addresses tried in turn): the request is then
dropped unsent, an :class:`SmscBusy`, and the same goes for sending again on a new connection
after a kept-alive one turned out closed.

Bounds: ``TIMEOUT`` is the whole exchange's (request sent, headers and body read), not each
read's: a server dripping its answer a byte at a time is cut off when it passes (connecting
has ``CONNECT_TIMEOUT`` of its own). An answer over :data:`MAX_ANSWER` is refused, by its
``Content-Length`` or, without one, as soon as it grows past it.
"""

from __future__ import annotations

import base64
import http.client
import io
import os
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast
from urllib.parse import SplitResult, unquote, urlsplit

from ..exceptions import SmscAnswerTooLarge, SmscBusy, SmscConnectionError, SmscTimeout

#: Largest answer read, in bytes: SMSC's answers are a few hundred bytes (a status with
#: ``all=2`` and a long text a few KB), so this only stops a broken or hostile server.
MAX_ANSWER = 1024 * 1024


_sending = threading.local()


@contextmanager
def send_before(deadline: float) -> Iterator[None]:
    """Inside the block, this thread's requests are written only until ``deadline``
    (``time.monotonic()``); later they are dropped unsent (:class:`SmscBusy`)."""
    previous = getattr(_sending, "deadline", None)
    _sending.deadline = deadline
    try:
        yield
    finally:
        _sending.deadline = previous


class _Stale(Exception):
    """A reused connection the server had closed before our request: safe to send again."""


class _TimedSocket:
    """A connection's socket whose every write and read may take only the time left until
    ``deadline`` (``time.monotonic()``), so one deadline bounds a request however the server
    spaces its bytes. Sets the socket's timeout per call: no thread or timer per request.

    Like a socket, it stays open while a reader made by :meth:`makefile` is (``http.client``
    closes the connection before reading an answer that ends with it)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.deadline = sock, 0.0
        self._readers, self._closed = 0, False

    def _arm(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's time is up")
        self.sock.settimeout(left)

    def sendall(self, data) -> None:
        self._arm()
        self.sock.sendall(data)

    def recv_into(self, buffer) -> int:
        self._arm()
        return self.sock.recv_into(buffer)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        """What ``http.client`` reads the answer through."""
        self._readers += 1
        return io.BufferedReader(_Reader(self))

    def close(self, reader: bool = False) -> None:
        if reader:
            self._readers -= 1
        else:
            self._closed = True
        if self._closed and not self._readers:
            self.sock.close()


class _Reader(io.RawIOBase):
    def __init__(self, sock: _TimedSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.close(reader=True)
        super().close()


def _ssl_context() -> ssl.SSLContext:
    cafile = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if not cafile:
        try:
            import certifi

            cafile = certifi.where()
        except ImportError:  # pragma: no cover - requests depends on certifi
            cafile = None
    return ssl.create_default_context(cafile=cafile)


class KeepAliveTransport:
    """POST bytes to SOAP endpoints; thread-safe (connections are per thread)."""

    def __init__(self, connect_timeout: float, timeout: float, user_agent: str) -> None:
        """``timeout`` bounds each request once connected, the whole answer included."""
        self.connect_timeout, self.timeout = connect_timeout, timeout
        self.user_agent = user_agent
        self._local = threading.local()
        self._proxies = urllib.request.getproxies()
        self._ssl: ssl.SSLContext | None = None

    def post(
        self, url: str, body: bytes, headers: dict[str, str], *, reuse: bool = True
    ) -> tuple[int, bytes]:
        """Send one request; returns ``(status, body)``.

        ``reuse=False`` uses a fresh connection: for requests that must not be repeated, since a
        request on a reused connection that the server had closed is retried once (within the
        same ``timeout``: the time connecting is the only time not counted in it).
        """
        parts = urlsplit(url)
        conns = self._local.__dict__.setdefault("connections", {})
        key = (parts.scheme, parts.hostname, parts.port)
        conn = conns.pop(key, None) if reuse else None
        budget = self.timeout
        try:
            if conn is not None:
                started = time.monotonic()
                deadline = started + budget
                try:
                    return self._exchange(conns, key, conn, parts, body, headers, deadline, reused=True)
                except _Stale:  # the server closed the idle connection: once more, afresh
                    budget -= time.monotonic() - started
            conn = self._connect(parts)
            return self._exchange(conns, key, conn, parts, body, headers, time.monotonic() + budget)
        except TimeoutError as exc:
            raise SmscTimeout() from exc
        except (OSError, http.client.HTTPException) as exc:
            raise SmscConnectionError("connection to SMSC broke") from exc

    def _exchange(
        self,
        conns: dict,
        key: tuple,
        conn: http.client.HTTPConnection,
        parts: SplitResult,
        body: bytes,
        headers: dict,
        deadline: float,
        *,
        reused: bool = False,
    ) -> tuple[int, bytes]:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        headers = {**headers, "User-Agent": self.user_agent}
        forward = getattr(conn, "_smsc_forward", None)
        if forward is not None and parts.scheme == "http":  # plain HTTP proxies want the URL
            target = parts.geturl()
            headers.update(forward)
        send_by = getattr(_sending, "deadline", None)
        if send_by is not None and time.monotonic() > send_by:
            conns[key] = conn  # connected, nothing sent: good for the next request
            raise SmscBusy("connecting took past the claim's time: not sent, asked again later")
        cast(_TimedSocket, conn.sock).deadline = deadline
        try:
            try:
                conn.request("POST", target, body, headers)
            except (BrokenPipeError, ConnectionResetError):
                if reused:
                    raise _Stale from None
                raise
            try:
                response = conn.getresponse()
            except http.client.RemoteDisconnected:  # closed without a byte of answer
                if reused:
                    raise _Stale from None
                raise
            with response:  # closed also when refused half read: it holds the socket open
                data = _read_capped(response)
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            conns[key] = conn
        if forward is not None and response.status == 407:  # the proxy's answer, not SMSC's
            raise SmscConnectionError(
                "the proxy refused the request: HTTP 407 (authentication)", before_sending=True
            )
        return response.status, data

    def _connect(self, parts: SplitResult) -> http.client.HTTPConnection:
        https = parts.scheme == "https"
        host, port = parts.hostname or "", parts.port or (443 if https else 80)
        proxy = None
        if not urllib.request.proxy_bypass(host):
            proxy_url = self._proxies.get(parts.scheme)
            proxy = urlsplit(proxy_url) if proxy_url else None
        if proxy and proxy.scheme != "http":
            raise SmscConnectionError(
                f"{proxy.scheme}:// proxies are not supported (only http://)", before_sending=True
            )
        auth = _proxy_auth(proxy) if proxy else {}
        address = (proxy.hostname or "", proxy.port or 80) if proxy else (host, port)
        conn: http.client.HTTPConnection
        if https:
            self._ssl = self._ssl or _ssl_context()
            conn = http.client.HTTPSConnection(*address, timeout=self.connect_timeout, context=self._ssl)
            if proxy:
                conn.set_tunnel(host, port, headers=auth)
        else:
            conn = http.client.HTTPConnection(*address, timeout=self.connect_timeout)
        conn._smsc_forward = auth if proxy else None  # type: ignore[attr-defined]
        try:
            conn.connect()
        except TimeoutError as exc:
            where = "the proxy" if proxy else "SMSC"
            raise SmscTimeout(f"{where} did not accept the connection in time", before_sending=True) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise SmscConnectionError(
                _connect_failure(exc, proxy is not None, address[0]), before_sending=True
            ) from exc
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sock = _TimedSocket(conn.sock)
        conn.auto_open = 0  # never a socket of http.client's own, without the deadline
        return conn


def _read_capped(response: http.client.HTTPResponse) -> bytes:
    """The answer's body, refused over :data:`MAX_ANSWER`: at once when its length says so,
    else (chunked, or up to the end of the connection) once it has grown past it."""
    if response.length is not None:
        if response.length > MAX_ANSWER:
            raise SmscAnswerTooLarge()
        return response.read()
    data = response.read(MAX_ANSWER + 1)
    if len(data) > MAX_ANSWER:
        raise SmscAnswerTooLarge()
    return data


def _proxy_auth(proxy: SplitResult) -> dict[str, str]:
    """``Proxy-Authorization`` for a proxy URL with ``user:password@``, else nothing."""
    if proxy.username is None:
        return {}
    pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def _connect_failure(exc: Exception, via_proxy: bool, host: str) -> str:
    """What went wrong opening the connection, in words (never the proxy's credentials)."""
    where = "the proxy" if via_proxy else "SMSC"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {where} host name {host!r}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"SMSC's TLS certificate was not accepted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with SMSC failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection to {where} refused"
    if via_proxy and str(exc).startswith("Tunnel connection failed"):
        # http.client: "Tunnel connection failed: 407 Proxy Authentication Required"
        return f"the proxy refused the tunnel to SMSC: {str(exc).partition(': ')[2][:80]}"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return f"connection to {where} failed: {reason}"
