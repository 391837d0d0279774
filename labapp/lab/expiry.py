"""Expiry: sandboxes end after LABAPP_IDLE_MINUTES without use or LABAPP_MAX_MINUTES of
life; learners are warned LABAPP_WARN_MINUTES before, and told why when it happens (their
progress is kept)."""
from __future__ import annotations

import time

from ..i18n import N_, msg
from .lifecycle import LabEvents, Lifecycle
from .metrics import LabMetrics
from .seats import Seat

_WARN = {
    "idle": N_("your sandbox has been idle; it will be removed in {minutes} min unless you run something "
               "(your progress is kept)"),
    "lifetime": N_("your sandbox reaches its maximum lifetime in {minutes} min; it will then be removed "
                   "(your progress is kept: open the lesson again for a fresh one)"),
}
_EXPIRED = {
    "idle": N_("your sandbox was removed after {minutes} min without use; your progress is kept: "
               "press Reset sandbox or reload for a fresh one at your step"),
    "lifetime": N_("your sandbox reached its maximum lifetime ({minutes} min) and was removed; your progress "
                   "is kept: press Reset sandbox or reload for a fresh one at your step"),
}


class Expiry:
    def __init__(self, lifecycle: Lifecycle, metrics: LabMetrics, events: LabEvents, idle_seconds: float = 1800,
                 max_seconds: float = 0, warn_seconds: float = 300):
        self.lifecycle = lifecycle
        self.metrics = metrics
        self.events = events
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds  # a sandbox's longest life (0: no limit)
        self.warn_seconds = warn_seconds  # how long before the end a learner is warned

    def left(self, seat: Seat, now: float) -> tuple[float, str]:
        """(seconds left, why) for the first limit SEAT's sandbox will reach."""
        ends = [(self.idle_seconds - (now - seat.active), "idle")]
        if self.max_seconds:
            ends.append((self.max_seconds - (now - seat.born), "lifetime"))
        return min(ends)

    def reap(self) -> list[str]:
        """Destroy the sandboxes past their idle or maximum lifetime, telling their learners
        why; warn those within warn_seconds of it. Return the learners reaped."""
        now = time.monotonic()
        reaped = []
        for seat in self.lifecycle.seats.all():
            if seat.sandbox is None or seat.starting:
                continue
            left, why = self.left(seat, now)
            minutes = int((self.idle_seconds if why == "idle" else self.max_seconds) // 60)
            if left <= 0:
                reaped.append(seat.learner)
                self.metrics.reaped.labels(why).inc()
                self.lifecycle.release(seat.learner, msg(_EXPIRED[why], minutes=minutes))
            elif left <= self.warn_seconds and seat.warned != why:
                seat.warned = why
                self.events.notify(seat.learner, {
                    "type": "lifetime", "reason": why, "seconds_left": int(left),
                    "message": msg(_WARN[why], minutes=max(1, int(left // 60)))})
        return reaped
