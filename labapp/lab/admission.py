"""Admission: whether a learner may have a (new) sandbox now: the host's capacity, shared
with the warm pool, and a per-learner limit on sandboxes made in an hour."""
from __future__ import annotations

import threading
import time
from typing import Callable

from ..i18n import msg
from .errors import LabFull, TooMany
from .seats import Seats

HOUR = 3600.0


class Admission:
    def __init__(self, seats: Seats, max_sandboxes: int = 0, creates_per_hour: int = 20,
                 idle_seconds: float = 1800, pooled: Callable[[], int] = lambda: 0):
        """MAX_SANDBOXES: the host's capacity (0: no limit); POOLED(): sandboxes the warm pool
        holds or is making (they share the capacity)."""
        self.seats = seats
        self.max_sandboxes = max_sandboxes
        self.creates_per_hour = creates_per_hour
        self.idle_seconds = idle_seconds
        self.pooled = pooled
        self._creates: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def room(self) -> int:
        """How many more sandboxes (learners' or pooled) the host may hold now."""
        if not self.max_sandboxes:
            return 1_000_000
        return self.max_sandboxes - self.seats.live() - self.pooled()

    def admit(self, learner: str, replacing: bool) -> None:
        """Refuse a new sandbox when the learner asks too often (TooMany) or the host is full
        (LabFull, with the minutes until the longest-idle sandbox expires)."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._creates.get(learner, []) if now - t < HOUR]
            if self.creates_per_hour and len(recent) >= self.creates_per_hour:
                wait = int((HOUR - (now - recent[0])) // 60) + 1
                raise TooMany(msg("you made {made} sandboxes in the last hour, the most allowed; "
                                  "try again in {minutes} minutes", made=len(recent), minutes=wait))
            if self.max_sandboxes and not replacing and self.seats.live() >= self.max_sandboxes:
                idle_for = self.seats.longest_idle(now)
                raise LabFull(max(1, int((self.idle_seconds - idle_for) // 60) + 1))
            self._creates[learner] = recent + [now]
