"""SMSC's status pushes, simulated: a thread that calls a login's callback URL each time one of
its messages reaches the next step of its timeline, as SMSC does, with knobs for what the
network and SMSC's retries may do: drop, duplicate, delay and reorder pushes. No Django.

    with Pusher(sim.smsc, {"alex": "http://127.0.0.1:8000/smsc/push/TOKEN/"}, drop=0.3):
        ...

The fields are those known of SMSC's pushes (``id``, ``phone``, ``status``, ``err``, ``ts``,
``time``, ``cnt``, ``cost``, ``sender_id``): a form in windows-1251, or UTF-8 when the URL has
``charset=utf-8``, JSON when it has ``fmt=3``; with ``md5`` or ``sha1`` in the URL and a secret
for the login, that checksum of ``"<id>:<phone>:<status>:<secret>"`` is added.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import urllib.request
from collections import Counter
from urllib.error import URLError
from urllib.parse import parse_qs, urlencode, urlsplit

from .smsc import PRICE_PER_PART, Smsc, Step, _moscow_text, sms_parts


class Pusher:
    """Push status changes of ``smsc``'s messages to ``callbacks`` (login -> URL).

    ``drop``: the fraction of pushes never sent; ``duplicate``: extra copies of each push;
    ``delay``: seconds a push waits before it is sent; ``reorder``: pushes waiting together
    go out in random order. ``counts`` says what happened (``sent``, ``dropped``, ``failed``:
    no answer or not HTTP 200 ``OK``).
    """

    def __init__(
        self,
        smsc: Smsc,
        callbacks: dict[str, str],
        *,
        secrets: dict[str, str] | None = None,
        drop: float = 0.0,
        duplicate: int = 0,
        delay: float = 0.0,
        reorder: bool = False,
        tick: float = 0.05,
        seed: int | None = None,
    ) -> None:
        self.smsc, self.callbacks, self.secrets = smsc, dict(callbacks), dict(secrets or {})
        self.drop, self.duplicate, self.delay, self.reorder, self.tick = drop, duplicate, delay, reorder, tick
        self.random = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self._pushed: dict[tuple[str, str], Step] = {}  # the step each message was last pushed at
        self._waiting: list[tuple[float, str, dict[str, str]]] = []  # (send at, url, fields)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = smsc.now()  # changes before this are not pushed (SMSC did, back then)

    def start(self) -> Pusher:
        self.started_at = self.smsc.now()
        self._thread = threading.Thread(target=self._loop, name="smsc-pusher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Pusher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            self.poll()

    def poll(self) -> None:
        """Queue a push for each message whose step changed since the last look, then send
        the pushes whose time has come."""
        first_login = next(iter(self.smsc.logins), "")
        with self.smsc.lock:
            now = self.smsc.now()
            for key, message in self.smsc.messages.items():
                url = self.callbacks.get(message.login or first_login)
                if url is None or message.by_checks:
                    continue
                step, began = message.current(now)
                if key not in self._pushed:  # first seen: where it stood when sent or when we started
                    self._pushed[key] = message.current(max(message.sent_at, self.started_at))[0]
                if self._pushed[key] == step:
                    continue
                self._pushed[key] = step
                parts = sms_parts(message.text)
                fields = {
                    "id": message.smsc_id,
                    "phone": message.phone,
                    "status": str(step.status),
                    "err": str(step.err),
                    "ts": str(int(began)),
                    "time": _moscow_text(began),
                    "cnt": str(parts),
                    "cost": str(PRICE_PER_PART * parts),
                    "sender_id": message.sender,
                }
                self._queue(message.login or first_login, url, fields)
        self._send_due()

    def _queue(self, login: str, url: str, fields: dict[str, str]) -> None:
        if self.random.random() < self.drop:
            self.counts["dropped"] += 1
            return
        options = parse_qs(urlsplit(url).query, keep_blank_values=True)
        secret = self.secrets.get(login)
        for name in ("sha1", "md5"):
            if name in options and secret:
                text = f"{fields['id']}:{fields['phone']}:{fields['status']}:{secret}"
                fields[name] = hashlib.new(name, text.encode()).hexdigest()
                break
        at = time.monotonic() + self.delay
        self._waiting.extend((at, url, fields) for _ in range(1 + self.duplicate))

    def _send_due(self) -> None:
        now = time.monotonic()
        due = [item for item in self._waiting if item[0] <= now]
        self._waiting = [item for item in self._waiting if item[0] > now]
        if self.reorder:
            self.random.shuffle(due)
        for _at, url, fields in due:
            ok = send(url, fields)
            self.counts["sent" if ok else "failed"] += 1


def send(url: str, fields: dict[str, str], method: str = "POST", timeout: float = 5.0) -> bool:
    """Call ``url`` with ``fields`` as SMSC would (see the module docstring); True if it
    answered HTTP 200 ``OK``. Also for pushes SMSC might send and the simulator does not
    (incoming SMS, call confirmations, forged fields)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("a callback URL is http(s)")
    options = parse_qs(urlsplit(url).query)
    charset = "utf-8" if options.get("charset", [""])[0].lower() == "utf-8" else "windows-1251"
    if options.get("fmt", [""])[0] == "3" and method == "POST":
        content_type = "application/json"
        body = json.dumps(fields, ensure_ascii=False).encode(charset, "replace")
    else:
        body, content_type = urlencode(fields, encoding=charset, errors="replace").encode(), ""
    if method == "GET":
        joiner = "&" if urlsplit(url).query else "?"
        url, body = url + joiner + body.decode(), b""
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method)  # noqa: S310
    if content_type or method == "POST":
        request.add_header("Content-Type", content_type or "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
            return response.status == 200 and response.read().strip() == b"OK"
    except (URLError, OSError):
        return False
