"""The queue of sandboxes to make. Making one starts three engines, a burst of work the host's
engine takes badly when thirty learners join in the same minute (measured: "no sandbox within
180 s", "the engine went away while sandbox X was being made"). So at most SLOTS are made at
once; the others wait their turn in order of arrival, and each waiting learner is told their
place and an honest wait (from how long the last ones took), again whenever it changes."""
from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Callable, Iterator

from ..i18n import msg, nmsg
from .errors import LabError

TYPICAL_SECONDS = 20.0  # making one sandbox on an idle host, until some have been timed


class CreationQueue:
    def __init__(self, slots: int, typical_seconds: float = TYPICAL_SECONDS, tell_every: float = 5.0):
        if slots < 1:
            raise ValueError("a creation queue needs at least one slot")
        self.slots = slots
        self.typical = typical_seconds
        self.tell_every = tell_every
        self._cond = threading.Condition()
        self._waiting: list[int] = []  # tickets, in order of arrival
        self._making: dict[int, float] = {}  # ticket -> when its making began
        self._tickets = 0
        self._took: deque[float] = deque(maxlen=20)
        self._closed = False

    def status(self) -> dict:
        with self._cond:
            return {"slots": self.slots, "making": len(self._making), "waiting": len(self._waiting),
                    "typical_seconds": round(self._typical(), 1)}

    def close(self) -> None:
        """The app stops: nobody waiting gets a turn."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _typical(self) -> float:
        return statistics.median(self._took) if self._took else self.typical

    def wait_for(self, place: int, now: float) -> float:
        """Seconds until the PLACE-th waiter (1: the first) gets a turn: the slots free up as
        the makings under way end, then one typical making per SLOTS waiters ahead."""
        typical = self._typical()
        ends = [max(0.0, typical - (now - began)) for began in self._making.values()]
        ends = sorted(ends + [0.0] * max(0, self.slots - len(ends)))
        first = ends[(place - 1) % self.slots]
        return first + typical * ((place - 1) // self.slots)

    @contextmanager
    def turn(self, on_progress: Callable[[str], None]) -> Iterator[None]:
        """Wait for a turn (ON_PROGRESS hears the place in the queue and the wait), then make
        the sandbox inside the `with`; its time tells the next waiters' estimates."""
        with self._cond:
            ticket = self._tickets
            self._tickets += 1
            self._waiting.append(ticket)
        told: tuple | None = None
        told_at = 0.0
        try:
            while True:
                with self._cond:
                    if self._closed:
                        raise LabError(msg("the lab is shutting down"))
                    if len(self._making) < self.slots and self._waiting[0] == ticket:
                        self._waiting.pop(0)
                        self._making[ticket] = time.monotonic()
                        break
                    place, now = self._waiting.index(ticket) + 1, time.monotonic()
                    seconds = self.wait_for(place, now)
                    waiting = len(self._waiting)
                if (place, waiting) != told or now - told_at >= self.tell_every:
                    on_progress(msg("waiting for your turn: {place} of {waiting} in the queue, about {seconds} s "
                                    "({pace})", place=place, waiting=waiting, seconds=max(1, math.ceil(seconds)),
                                    pace=nmsg("{n} sandbox is made at a time", "{n} sandboxes are made at a time",
                                              self.slots)))
                    told, told_at = (place, waiting), now
                with self._cond:
                    if not self._closed and not (len(self._making) < self.slots and self._waiting[0] == ticket):
                        self._cond.wait(self.tell_every)
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                    self._cond.notify_all()
            raise
        made = False
        try:
            yield
            made = True
        finally:
            with self._cond:
                began = self._making.pop(ticket)
                if made:
                    self._took.append(time.monotonic() - began)
                self._cond.notify_all()
