"""Expiry: sandboxes end after LABAPP_IDLE_MINUTES without use or LABAPP_MAX_MINUTES of
life; learners are warned LABAPP_WARN_MINUTES before, and told why when it happens (their
progress is kept). A sandbox whose swarm store outgrows LABAPP_SWARM_STORE on a manager's
disk ends too: that store is on the host's disk, with no size limit of its own."""
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
_STORE = N_("your swarm stored more than {mib} MiB on the disk of {node} and your sandbox was removed; your "
            "progress is kept: press Reset sandbox or reload for a fresh one at your step")
STORE_EVERY = 60.0  # seconds between two looks at a sandbox's swarm store


class Expiry:
    def __init__(self, lifecycle: Lifecycle, metrics: LabMetrics, events: LabEvents, idle_seconds: float = 1800,
                 max_seconds: float = 0, warn_seconds: float = 300, store_bytes: int = 0):
        self.lifecycle = lifecycle
        self.store_bytes = store_bytes  # the most a manager's swarm store may take on disk (0: not watched)
        self._store_seen: dict[str, float] = {}  # learner -> when their sandbox's store was last measured
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
            if self._store_overgrown(seat, now):
                reaped.append(seat.learner)
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

    def _store_overgrown(self, seat: Seat, now: float) -> bool:
        """Measure SEAT's swarm store every STORE_EVERY s; past store_bytes, end the sandbox."""
        if not self.store_bytes or now - self._store_seen.get(seat.learner, -STORE_EVERY) < STORE_EVERY:
            return False
        self._store_seen[seat.learner] = now
        sandbox = seat.sandbox
        try:
            sizes = sandbox.swarm_store()
        except Exception:  # noqa: BLE001 - a node away now: the next look tries again
            return False
        over = [(size, node) for node, size in sizes.items() if size > self.store_bytes]
        if not over or seat.sandbox is not sandbox:
            return False
        size, node = max(over)
        self.metrics.reaped.labels("store").inc()
        self.lifecycle.release(seat.learner, msg(_STORE, mib=self.store_bytes >> 20, node=node))
        self._store_seen.pop(seat.learner, None)
        return True
