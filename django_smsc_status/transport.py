"""Keep-alive HTTP POSTs for the SOAP calls, on ``http.client``.

One connection per thread and endpoint, reused across calls. ``requests`` cost about four
times the CPU of the whole call (benchmarks/bench_client.py), mostly re-reading proxy settings
from the environment on every request; here the environment is read once. Supported: HTTPS with
certificate checks (``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE`` or certifi's bundle), and the
``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` variables.

Errors come out as :class:`SmscTransportError` subclasses; ``before_sending`` tells whether the
request can have reached the server (it cannot if the connection was never made).
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
import urllib.request
from urllib.parse import SplitResult, urlsplit

from .exceptions import SmscConnectionError, SmscTimeout


class _Stale(Exception):
    """A reused connection the server had closed before our request: safe to send again."""


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

    def __init__(self, connect_timeout: float, read_timeout: float, user_agent: str) -> None:
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.user_agent = user_agent
        self._local = threading.local()
        self._proxies = urllib.request.getproxies()
        self._ssl: ssl.SSLContext | None = None

    def post(self, url: str, body: bytes, headers: dict[str, str], *,
             reuse: bool = True) -> tuple[int, bytes]:
        """Send one request; returns ``(status, body)``.

        ``reuse=False`` uses a fresh connection: for requests that must not be repeated, since a
        request on a reused connection that the server had closed is retried once.
        """
        parts = urlsplit(url)
        conns = self._local.__dict__.setdefault("connections", {})
        key = (parts.scheme, parts.hostname, parts.port)
        conn = conns.pop(key, None) if reuse else None
        try:
            if conn is not None:
                try:
                    return self._exchange(conns, key, conn, parts, body, headers, reused=True)
                except _Stale:
                    pass  # the server closed the idle connection: once more, afresh
            return self._exchange(conns, key, self._connect(parts), parts, body, headers)
        except TimeoutError:
            raise SmscTimeout() from None
        except (OSError, http.client.HTTPException):
            raise SmscConnectionError("connection to SMSC broke") from None

    def _exchange(self, conns: dict, key: tuple, conn: http.client.HTTPConnection,
                  parts: SplitResult, body: bytes, headers: dict, *,
                  reused: bool = False) -> tuple[int, bytes]:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if conn._smsc_via_proxy and parts.scheme == "http":  # plain HTTP proxies want the URL
            target = parts.geturl()
        try:
            try:
                conn.request("POST", target, body, {**headers, "User-Agent": self.user_agent})
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
            data = response.read()
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            conns[key] = conn
        return response.status, data

    def _connect(self, parts: SplitResult) -> http.client.HTTPConnection:
        https = parts.scheme == "https"
        host, port = parts.hostname, parts.port or (443 if https else 80)
        proxy = None
        if not urllib.request.proxy_bypass(host):
            proxy_url = self._proxies.get(parts.scheme)
            proxy = urlsplit(proxy_url) if proxy_url else None
        address = (proxy.hostname, proxy.port or 80) if proxy else (host, port)
        if https:
            self._ssl = self._ssl or _ssl_context()
            conn = http.client.HTTPSConnection(*address, timeout=self.connect_timeout,
                                               context=self._ssl)
            if proxy:
                conn.set_tunnel(host, port)
        else:
            conn = http.client.HTTPConnection(*address, timeout=self.connect_timeout)
        conn._smsc_via_proxy = proxy is not None
        try:
            conn.connect()
        except TimeoutError:
            raise SmscTimeout("SMSC did not accept the connection in time",
                              before_sending=True) from None
        except (OSError, http.client.HTTPException):
            raise SmscConnectionError("connection to SMSC refused", before_sending=True) from None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sock.settimeout(self.read_timeout)
        return conn
