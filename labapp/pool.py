"""The warm pool: sandboxes made ahead, so that a learner who arrives gets a ready swarm at
once. A small standing pool serves self-paced learners; a workshop reserves its capacity
before it starts. One filler thread makes one sandbox at a time, and waits while a
learner's own sandbox is starting: learners come first, the pool uses what is left."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .sandbox.backend import Backend
from .errors import LabappError
from .lesson.model import Lesson
from .sandbox.base import Sandbox

log = logging.getLogger(__name__)


class WarmPool:
    def __init__(self, backend: Backend, standing: dict[str, Lesson], standing_size: int,
                 room: Callable[[], int], busy: Callable[[], bool] = lambda: False):
        """STANDING: a lesson per shape to keep STANDING_SIZE sandboxes of; ROOM(): how many
        more sandboxes the host may hold now; BUSY(): True while learners' sandboxes start."""
        self.backend = backend
        self._lessons = dict(standing)
        self.standing_size = standing_size
        self._room = room
        self._busy = busy
        self._ready: dict[str, list[Sandbox]] = {}
        self._reserved: dict[str, tuple[str, int]] = {}  # key -> (shape, count)
        self._filling: str | None = None
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.made = 0
        self.errors: list[str] = []

    # --- what the pool should hold -----------------------------------------------------

    def reserve(self, key: str, lesson: Lesson, count: int) -> None:
        """Keep COUNT sandboxes of LESSON's shape ready for KEY (a workshop), until released."""
        with self._cond:
            self._lessons.setdefault(lesson.shape, lesson)
            self._reserved[key] = (lesson.shape, max(0, count))
            self._cond.notify_all()

    def release(self, key: str) -> None:
        with self._cond:
            self._reserved.pop(key, None)
            self._cond.notify_all()

    def reservations(self) -> list[str]:
        """The keys (workshops) the pool keeps sandboxes for."""
        with self._cond:
            return list(self._reserved)

    def target(self, kind: str) -> int:
        wanted = (self.standing_size if kind in self._lessons else 0) + sum(
            n for k, n in self._reserved.values() if k == kind)
        return wanted

    # --- using it ------------------------------------------------------------------------

    def take(self, lesson: Lesson, key: str | None = None) -> Sandbox | None:
        """A ready sandbox of LESSON's shape whose nodes all still run, or None (the caller
        makes one). A pooled sandbox found dead is destroyed, and the next one is tried.

        What the pool holds for reservations is kept for them: KEY (a workshop whose learner
        arrives) may take its own reservation's, anyone may take what is beyond the others'
        reservations (the standing pool). A reset, or a self-paced learner, takes no
        sandbox kept for a workshop's learners still to come."""
        while True:
            with self._cond:
                ready = self._ready.get(lesson.shape) or []
                kept = sum(n for k, (shape, n) in self._reserved.items() if shape == lesson.shape and k != key)
                sandbox = ready.pop(0) if len(ready) > kept else None
                self._cond.notify_all()  # refill
            if sandbox is None:
                return None
            if self.backend.healthy(sandbox):
                try:
                    self.backend.promote(sandbox)
                    return sandbox
                except Exception:  # noqa: BLE001 - a node vanished just now: treat it as dead
                    log.warning("pooled sandbox %s could not be given a learner's CPU share", sandbox.id)
            else:
                log.warning("pooled sandbox %s has a dead node; removing it", sandbox.id)
            self._destroy(sandbox)

    def adopt(self, sandbox: Sandbox, kind: str) -> None:
        """Take back a pooled sandbox found on the engine after a restart."""
        with self._cond:
            self._ready.setdefault(kind, []).append(sandbox)
            self._cond.notify_all()

    def drop(self, which: Callable[[Sandbox], bool]) -> list[Sandbox]:
        """Take the ready sandboxes WHICH picks out of the pool (their engine went away) and
        remove them; the filler makes others."""
        with self._cond:
            dropped = [s for ready in self._ready.values() for s in ready if which(s)]
            for kind, ready in self._ready.items():
                self._ready[kind] = [s for s in ready if not which(s)]
            self._cond.notify_all()
        for sandbox in dropped:
            self._destroy(sandbox)
        return dropped

    def count(self) -> int:
        with self._cond:
            return sum(len(v) for v in self._ready.values()) + (1 if self._filling else 0)

    def status(self) -> dict:
        with self._cond:
            kinds = set(self._ready) | {k for k, _ in self._reserved.values()} | set(self._lessons)
            return {"shapes": {k: {"ready": len(self._ready.get(k, [])), "target": self.target(k),
                                   "filling": self._filling == k} for k in sorted(kinds)},
                    "standing_size": self.standing_size,
                    "reservations": {key: {"shape": k, "count": n} for key, (k, n) in self._reserved.items()},
                    "made": self.made, "errors": self.errors[-5:]}

    # --- the filler --------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="labapp-pool", daemon=True)
            self._thread.start()

    def _next(self) -> tuple[str | None, list[Sandbox]]:
        """The shape to make one more of (or None) and the sandboxes beyond their target."""
        extra: list[Sandbox] = []
        wanted = None
        for kind in sorted(set(self._ready) | set(self._lessons)):
            ready = self._ready.get(kind, [])
            target = self.target(kind)
            while len(ready) > target:
                extra.append(ready.pop())
            if len(ready) < target and wanted is None and kind in self._lessons:
                wanted = kind
        return wanted, extra

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stop:
                        return
                    wanted, extra = self._next()
                    if extra:
                        break
                    if wanted and not self._busy() and self._room() > 0:
                        self._filling = wanted
                        break
                    self._cond.wait(timeout=2.0)
            for sandbox in extra:
                self._destroy(sandbox)
            if not extra and wanted:
                self._make(wanted)

    def _make(self, kind: str) -> None:
        try:
            sandbox = self.backend.create(self._lessons[kind], lambda stage: None, pooled=True)
        except LabappError as exc:
            log.warning("the pool could not make a sandbox: %s", exc)
            with self._cond:
                self.errors.append(str(exc))
                self._filling = None
                self._cond.wait(timeout=30.0)  # do not spin on a broken engine
            return
        except Exception:  # noqa: BLE001 - the filler must outlive any one failure
            log.exception("the pool could not make a sandbox")
            with self._cond:
                self._filling = None
            return
        with self._cond:
            self._filling = None
            self.made += 1
            if self._stop:
                stale = True
            else:
                stale = False
                self._ready.setdefault(kind, []).append(sandbox)
            self._cond.notify_all()
        if stale:
            self._destroy(sandbox)

    def _destroy(self, sandbox: Sandbox) -> None:
        try:
            sandbox.destroy()
        except Exception:  # noqa: BLE001
            log.warning("a pooled sandbox could not be removed", exc_info=True)

    def wait_filled(self, timeout: float) -> bool:
        """Block until every shape holds its target (benchmarks and tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(len(self._ready.get(k, [])) < self.target(k) for k in set(self._lessons)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(timeout=min(left, 1.0))
        return True

    def stop(self, destroy: bool = True) -> None:
        """Stop the filler (waiting for a sandbox it is making) and destroy what is pooled."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=180)
        if destroy:
            with self._cond:
                items = [s for ready in self._ready.values() for s in ready]
                self._ready.clear()
            for sandbox in items:
                self._destroy(sandbox)
