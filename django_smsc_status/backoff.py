"""Pauses that grow while polling for something that is not there yet (a free request slot,
a due message, a status), so a long wait costs few queries and a short one stays short."""

from __future__ import annotations

import random

#: Polling for a free request slot (``limits``, ``engine``): 20 ms at first, at most 250 ms.
SLOT_POLL_FIRST, SLOT_POLL_MOST = 0.02, 0.25
GROWTH = 1.5  # each pause half as long again as the one before, up to the most


class Backoff:
    """The pauses of one wait: :meth:`next` gives the current pause and lengthens the next one
    by ``GROWTH``, up to ``most``; :meth:`reset` starts over. ``jitter`` spreads each pause
    over 0.5 to 1.5 times its length, so processes polling one row do not ask in step (it
    costs the waiting processes nothing and the others less)."""

    def __init__(self, first: float = SLOT_POLL_FIRST, most: float = SLOT_POLL_MOST, *, jitter: bool = True):
        self.first, self.most, self.jitter = first, most, jitter
        self.pause = first

    def next(self) -> float:
        pause = self.pause * (0.5 + random.random()) if self.jitter else self.pause
        self.pause = min(self.pause * GROWTH, self.most)
        return pause

    def reset(self) -> None:
        self.pause = self.first
