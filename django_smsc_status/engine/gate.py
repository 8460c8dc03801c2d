"""Where a run's thread lets ``SIGALRM``/``SIGINT`` handlers raise: only while it waits or hands
out a result, never halfway through a write or a release (:class:`_Gate`).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

#: Signals whose Python handlers raise in the main thread: django-q2's timeout (SIGALRM), Ctrl-C
HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGALRM", "SIGINT") if hasattr(signal, name))


class _Gate:
    """Where in a run's thread the handlers of ``HELD_SIGNALS`` may raise: only while it waits
    or while its caller holds a result, never while it moves answers (off the queue, into the
    database) or talks to the database. An exception raised between taking an answer and
    keeping it lost the answer, and one raised halfway through a query left the connection
    unusable for writing the rest (CI: one answer lost; a run in a hundred lost all).

    While the gate is closed, a signal is noted and its handler (django-q2's, Python's for
    Ctrl-C) runs at the next wait or result, within a second. Masking the signal instead
    would not do: Python runs handlers in the main thread whichever thread the signal hits.
    Only Python-level handlers are deferred, and only in the main thread, where they run."""

    def __init__(self) -> None:
        self.handlers: dict[int, Callable] = {}  # the handlers in place before the run
        self.pending: list[tuple[int, Any]] = []
        self.is_open = False

    def _note(self, signum: int, frame: Any) -> None:
        if self.is_open:
            self.handlers[signum](signum, frame)
        else:
            self.pending.append((signum, frame))

    def _fire(self) -> None:
        while self.pending:
            signum, frame = self.pending.pop(0)
            self.handlers[signum](signum, frame)

    @contextlib.contextmanager
    def closed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        for signum in HELD_SIGNALS:
            handler = signal.getsignal(signum)
            if callable(handler):
                self.handlers[signum] = handler
                signal.signal(signum, self._note)
        try:
            yield
        finally:
            for signum, handler in self.handlers.items():
                signal.signal(signum, handler)
            if sys.exc_info()[0] is None:  # ended: what came in the last steps raises now
                self._fire()

    @contextlib.contextmanager
    def opened(self) -> Iterator[None]:
        self.is_open = True
        try:
            self._fire()
            yield
        finally:
            self.is_open = False
