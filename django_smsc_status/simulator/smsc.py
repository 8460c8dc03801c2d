"""What the simulated SMSC knows and decides: logins, messages, timelines, limits.

Pure Python, no HTTP and no Django: :class:`Smsc.handle` takes an operation name and its
parameters and returns the fields of the result (or ``{"error": "N"}``), as SMSC would.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

MOSCOW = timezone(timedelta(hours=3))  # SMSC's text dates are Moscow time (UTC+3, no DST)

STATUS_NAMES = {
    -3: "Сообщение не найдено",
    -2: "Остановлено",
    -1: "Ожидает отправки",
    0: "Передано оператору",
    1: "Доставлено",
    2: "Прочитано",
    3: "Просрочено",
    4: "Нажата ссылка",
    20: "Невозможно доставить",
    22: "Неверный номер",
    23: "Запрещено",
    24: "Недостаточно средств",
    25: "Недоступный номер",
}

#: The fields of ``statusresult`` by detail level, in the WSDL's order (``sms_cnt`` is in the
#: docs but not in the WSDL; it is sent after ``message``, a drift clients must tolerate).
FIELDS_ALL0 = ("status", "last_date", "last_timestamp", "err")
FIELDS_ALL1 = (
    "send_date",
    "send_timestamp",
    "phone",
    "cost",
    "sender_id",
    "status_name",
    "message",
    "sms_cnt",
)
FIELDS_ALL2 = ("operator", "region")

PRICE_PER_PART = Decimal("1.80")


@dataclass(frozen=True)
class Step:
    """One status in a timeline, reached ``after`` seconds from sending (or after N checks)."""

    status: int
    err: int = 0
    after: float = 0


def timeline(*steps: tuple) -> tuple[Step, ...]:
    """``timeline((-1,), (0, 0, 5), (1, 0, 10))``: a short way to write steps."""
    return tuple(Step(*s) for s in steps)


DELIVERED = timeline((-1, 0, 0), (0, 0, 5), (1, 0, 15))
UNDELIVERABLE = timeline((-1, 0, 0), (0, 0, 5), (20, 1, 20))


def default_timeline(phone: str, text: str) -> tuple[Step, ...]:
    """Phones ending in 00 fail (status 20, err 1); the rest are delivered within 15 s."""
    return UNDELIVERABLE if phone.endswith("00") else DELIVERED


def sms_parts(text: str) -> int:
    """SMS parts for ``text``: 160/153 GSM characters, 70/67 for anything else."""
    single, multi = (160, 153) if all(ord(c) < 128 for c in text) else (70, 67)
    n = len(text)
    return 1 if n <= single else -(-n // multi)


def digits(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit())


@dataclass
class SimMessage:
    smsc_id: str
    phone: str
    text: str
    sender: str
    sent_at: float
    steps: tuple[Step, ...]
    by_checks: bool = False
    operator: str = "МТС"
    region: str = "Москва"
    checks: int = 0
    login: str = ""  # who sent it ("": the first login), for status pushes
    seen_at: dict[int, float] = field(default_factory=dict)

    def current(self, now: float) -> tuple[Step, float]:
        """The step in force now, and when it began (epoch seconds)."""
        if self.by_checks:
            index = min(max(self.checks - 1, 0), len(self.steps) - 1)
            began = self.seen_at.setdefault(index, now)
            return self.steps[index], began
        reached = [s for s in self.steps if now >= self.sent_at + s.after] or [self.steps[0]]
        step = reached[-1]
        return step, self.sent_at + step.after


class Smsc:
    """One simulated SMSC site: its logins (``logins``: login -> password) and messages, with
    SMSC's error semantics.

    * error 1: a required parameter is missing;
    * error 2: wrong login/password/API key; 5 of them from one IP within 30 min block it;
    * error 3: no message with that id and phone;
    * error 4: the IP is blocked (after 5 auth errors in 30 min, or 100 errors in 10 min);
    * error 9: a 6th status request for one message within a minute, or 5+ requests of one
      login in flight at once.
    """

    def __init__(
        self,
        logins: dict[str, str] | None = None,
        api_keys: dict[str, str] | None = None,
        *,
        latency: float = 0.0,
        balance: Decimal = Decimal("1000.00"),
        timeline_for: Callable[[str, str], Iterable[Step]] = default_timeline,
    ) -> None:
        self.logins = dict(logins or {"demo": "demo"})
        self.api_keys = dict(api_keys or {})
        self.latency = latency
        self.latency_for: dict[str, float] = {}  # message id -> seconds, instead of ``latency``
        self.timeline_for = timeline_for
        self.initial_balance = balance
        self.lock = threading.RLock()
        self.offset = 0.0
        self.rate_window = 60.0  # seconds of the 5-checks-per-message rule (benchmarks scale time)
        self.reset()

    def reset(self) -> None:
        """Forget messages, counters and blocks (logins and settings stay)."""
        with self.lock:
            self.latency_for = {}
            self.messages: dict[tuple[str, str], SimMessage] = {}
            self.ids = itertools.count(1)
            self.status_checks: dict[tuple[str, str], list[float]] = defaultdict(list)
            self.in_flight: dict[str, int] = defaultdict(int)
            self.max_in_flight: dict[str, int] = defaultdict(int)
            self.auth_failures: dict[str, deque] = defaultdict(deque)
            self.errors: dict[str, deque] = defaultdict(deque)
            self.blocked_until: dict[str, float] = {}
            self.calls: dict[str, int] = defaultdict(int)
            self.errors_answered: dict[str, int] = defaultdict(int)  # by error code
            self.balance = dict.fromkeys(self.logins, self.initial_balance)

    # -- clock and messages -------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the simulated clock forward (timelines, rate windows and blocks follow it)."""
        with self.lock:
            self.offset += seconds

    def add_message(
        self,
        phone: str,
        *,
        smsc_id: str | None = None,
        steps: Iterable[Step] | None = None,
        by_checks: bool = False,
        text: str = "",
        sender: str = "SMSC",
        sent_at: float | None = None,
        operator: str = "МТС",
        region: str = "Москва",
        login: str = "",
    ) -> SimMessage:
        """Put a message in the store, as if sent; ``by_checks`` moves it one step per check."""
        with self.lock:
            smsc_id = smsc_id or str(next(self.ids))
            message = SimMessage(
                smsc_id=smsc_id,
                phone=digits(phone),
                text=text,
                sender=sender,
                sent_at=self.now() if sent_at is None else sent_at,
                steps=tuple(steps or self.timeline_for(digits(phone), text)),
                by_checks=by_checks,
                operator=operator,
                region=region,
                login=login,
            )
            self.messages[(smsc_id, message.phone)] = message
            return message

    def closest_checks(self, smsc_id: str, phone: str) -> float:
        """The shortest time between two status requests for one message (inf if < 2)."""
        times = sorted(self.status_checks.get((smsc_id, digits(phone)), []))
        return min((b - a for a, b in itertools.pairwise(times)), default=float("inf"))

    def checks_within(self, smsc_id: str, phone: str, seconds: float = 60) -> int:
        """The most status requests for one message inside any ``seconds`` window."""
        times = sorted(self.status_checks.get((smsc_id, digits(phone)), []))
        return max(
            (sum(1 for t in times[i:] if t - start < seconds) for i, start in enumerate(times)), default=0
        )

    def stats(self) -> dict[str, object]:
        """What the simulator saw, as JSON-ready data: calls by operation, error codes answered,
        the most requests in flight per login (every login that asked, known or not), and how
        many stored messages were asked about how many times by a login that authenticated
        (``{"0": never, "1": once, ...}``)."""
        with self.lock:
            asked = Counter(len(self.status_checks.get(key, ())) for key in self.messages)
            return {
                "calls": dict(self.calls),
                "errors": dict(self.errors_answered),
                "max_in_flight": dict(self.max_in_flight),
                "messages": len(self.messages),
                "asked": {str(times): count for times, count in sorted(asked.items())},
            }

    # -- requests ------------------------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, str], ip: str = "127.0.0.1") -> dict[str, str]:
        """Answer one request; ``params`` are the request element's children by local name."""
        login = self._login(params)
        with self.lock:
            self.calls[operation] += 1
            self.in_flight[login] += 1
            concurrent = self.in_flight[login]
            self.max_in_flight[login] = max(self.max_in_flight[login], concurrent)
        try:
            delay = self.latency_for.get(params.get("id", ""), self.latency)
            if delay:
                time.sleep(delay)
            with self.lock:
                fields = self._answer(operation, params, ip, login, concurrent)
                if "error" in fields:
                    self.errors_answered[fields["error"]] += 1
                    self._count_error(ip)
                return fields
        finally:
            with self.lock:
                self.in_flight[login] -= 1

    def _login(self, params: dict[str, str]) -> str:
        key = params.get("apikey")
        if key:
            return self.api_keys.get(key, "?apikey")
        return params.get("login", "")

    def _answer(
        self, operation: str, params: dict[str, str], ip: str, login: str, concurrent: int
    ) -> dict[str, str]:
        now = self.now()
        if self.blocked_until.get(ip, 0) > now:
            return {"error": "4"}
        if not self._authenticated(params, login):
            self._count_towards_block(self.auth_failures[ip], ip, now, window=1800, limit=5)
            return {"error": "2"}
        if concurrent >= 5:
            return {"error": "9"}
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return {"error": "1"}
        return handler(params, login, now)

    def _authenticated(self, params: dict[str, str], login: str) -> bool:
        if params.get("apikey"):
            return params["apikey"] in self.api_keys
        password = self.logins.get(login)
        return password is not None and params.get("psw") == password

    def _count_error(self, ip: str) -> None:
        self._count_towards_block(self.errors[ip], ip, self.now(), window=600, limit=100)

    def _count_towards_block(self, times: deque, ip: str, now: float, *, window: float, limit: int) -> None:
        """One more of ``ip``'s events within a sliding ``window``; the ``limit``-th blocks the
        IP for the window (SMSC: 5 errors 2 in 30 minutes, 100 errors in 10)."""
        times.append(now)
        while times and times[0] < now - window:
            times.popleft()
        if len(times) >= limit:
            self.blocked_until[ip] = max(self.blocked_until.get(ip, 0), now + window)

    def _op_get_status(self, params: dict[str, str], login: str, now: float) -> dict[str, str]:
        smsc_id, phone = params.get("id", ""), digits(params.get("phone", ""))
        if not smsc_id or not phone:
            return {"error": "1"}
        checks = self.status_checks[(smsc_id, phone)]
        checks.append(now)
        if sum(1 for t in checks if t > now - self.rate_window) > 5:
            return {"error": "9"}
        message = self.messages.get((smsc_id, phone))
        if message is None:
            return {"error": "3"}
        message.checks += 1
        step, began = message.current(now)
        level = params.get("all") or "0"
        out = {
            "status": str(step.status),
            "last_date": _moscow_text(began),
            "last_timestamp": str(int(began)),
            "err": str(step.err),
        }
        if level in ("1", "2"):
            parts = sms_parts(message.text)
            out.update(
                {
                    "send_date": _moscow_text(message.sent_at),
                    "send_timestamp": str(int(message.sent_at)),
                    "phone": message.phone,
                    "cost": str(PRICE_PER_PART * parts),
                    "sender_id": message.sender,
                    "status_name": STATUS_NAMES.get(step.status, str(step.status)),
                    "message": message.text,
                    "sms_cnt": str(parts),
                }
            )
        if level == "2":
            out.update({"operator": message.operator, "region": message.region})
        return out

    _op_get_status2 = _op_get_status

    def _op_send_sms(self, params: dict[str, str], login: str, now: float) -> dict[str, str]:
        phones = [digits(p) for p in params.get("phones", "").replace(";", ",").split(",")]
        phones = [p for p in phones if p]
        text = params.get("mes", "")
        if not phones or not text:
            return {"error": "1"}
        parts = sms_parts(text)
        cost = PRICE_PER_PART * parts * len(phones)
        smsc_id = params.get("id") or str(next(self.ids))
        for phone in phones:
            self.add_message(
                phone,
                smsc_id=smsc_id,
                text=text,
                sender=params.get("sender") or "SMSC",
                sent_at=now,
                login=login,
            )
        self.balance[login] = self.balance.get(login, Decimal(0)) - cost
        return {
            "id": smsc_id,
            "balance": str(self.balance[login]),
            "cost": str(cost),
            "cnt": str(parts * len(phones)),
        }

    _op_send_sms2 = _op_send_sms

    def _op_get_sms_cost(self, params: dict[str, str], login: str, now: float) -> dict[str, str]:
        phones = [p for p in params.get("phones", "").split(",") if digits(p)]
        text = params.get("mes", "")
        if not phones or not text:
            return {"error": "1"}
        parts = sms_parts(text)
        return {"cost": str(PRICE_PER_PART * parts * len(phones)), "cnt": str(parts * len(phones))}

    _op_get_sms_cost2 = _op_get_sms_cost

    def _op_get_balance(self, params: dict[str, str], login: str, now: float) -> dict[str, str]:
        return {"balance": str(self.balance.get(login, Decimal(0)))}


def _moscow_text(epoch: float) -> str:
    """SMSC's text form of a time; empty beyond Python's calendar (a message "sent" in year 9999
    is 10000 in Moscow), where the timestamp still says it."""
    try:
        return datetime.fromtimestamp(epoch, MOSCOW).strftime("%d.%m.%Y %H:%M:%S")
    except (OverflowError, ValueError, OSError):
        return ""
