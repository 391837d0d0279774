"""A learner's sandbox from start to end: made (or taken from the warm pool), caught up to
the learner's progress by replay, each step's setup run once, released, re-adopted after a
restart, and all of them removed when the app stops."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import SandboxCreateError
from ..i18n import msg
from ..lesson.model import Lesson, Step
from ..runner import Runner
from ..sandbox.backend import ANY_OWNER, Backend
from ..sandbox.base import Sandbox
from ..store import Store
from .admission import Admission
from .queue import CreationQueue
from .errors import LabError, NotFound
from .metrics import LabMetrics
from .seats import Seat, Seats

Progress = Callable[[str], None]


@dataclass
class LabEvents:
    """Where the lab tells the outside world: NOTIFY(learner, event) reaches the learner's
    page; ACTIVITY(learner) redraws a trainer's dashboard. The web layer sets both."""

    notify: Callable[[str, dict], None] = field(default=lambda learner, event: None)
    activity: Callable[[str], None] = field(default=lambda learner: None)


class Lifecycle:
    def __init__(self, seats: Seats, admission: Admission, backend: Backend, store: Store,
                 kernel: Callable[[], dict], metrics: LabMetrics, events: LabEvents, pool=None,
                 on_release: Callable[[str], None] = lambda learner: None, check_patience: float | None = None,
                 queue: CreationQueue | None = None):
        """KERNEL(): the probe's booleans (asked once); POOL: the warm pool, if any;
        ON_RELEASE(learner): called before a learner's sandbox goes (their terminal closes);
        CHECK_PATIENCE: seconds a check waits for converging state on an idle host (Runner);
        QUEUE: paces the making of sandboxes (labapp/lab/queue.py; None: no queue)."""
        self.seats = seats
        self.admission = admission
        self.backend = backend
        self.store = store
        self.kernel = kernel
        self.metrics = metrics
        self.events = events
        self.pool = pool
        self.on_release = on_release
        self.check_patience = check_patience
        self.queue = queue
        self.shared = False  # several instances share the store and the engines (labapp/cluster.py)
        self.on_hold: Callable[[str, str], None] = lambda learner, sandbox_id: None  # a learner took a sandbox
        self._closed = False

    def runner(self, sandbox: Sandbox, lesson: Lesson, on_event=None) -> Runner:
        return Runner(sandbox, lesson, self.kernel(), on_event=on_event, patience=self.check_patience)

    # --- making one ---------------------------------------------------------------------

    def ensure(self, learner: str, lesson: Lesson, on_progress: Progress, fresh: bool = False,
               upto: str | None = None) -> Sandbox:
        """The learner's sandbox for LESSON, made (with progress stages) if there is none.
        FRESH replaces the one they have; UPTO brings a fresh one to that step (_catch_up)."""
        if upto is not None:
            step_of(lesson, upto)
        seat = self.seats.get(learner)
        if fresh:
            self.on_release(learner)
        with seat.lock:
            if seat.sandbox is not None and seat.lesson == lesson.slug and not fresh:
                return seat.sandbox
            if seat.starting:
                raise LabError(msg("a sandbox is already starting for this learner; wait for it"))
            self.admission.admit(learner, replacing=seat.sandbox is not None)
            old, seat.sandbox, seat.starting, seat.runs = seat.sandbox, None, True, {}
            seat.unwanted = False
        asked = time.monotonic()
        try:
            if old is not None:
                self.store.let_go(learner, old.id)
                old.destroy()
            # A workshop's learner may take what the pool keeps for that workshop once: their
            # first sandbox in it. A reset (here, or a release and a new start) takes none of
            # it: it is for the learners still to come.
            key = None if old is not None or fresh else self.admission.seating().members.get(learner)
            if key is not None and key == seat.reserved_from:
                key = None
            sandbox = self._new_sandbox(lesson, on_progress, seat, key)
            try:
                self._refuse_if_closed()
                seat.prepared = set()
                self._catch_up(seat, sandbox, lesson, on_progress, upto)
                self.store.hold(learner, sandbox.id, lesson.slug)
            except BaseException:
                sandbox.destroy()  # a sandbox that could not be caught up is nobody's
                raise
            # The seat holds its sandbox before it stops "starting": whoever looks at the seat
            # (a trainer removing this learner, workshops._release) sees one or the other.
            with seat.lock:
                seat.sandbox, seat.lesson, seat.warned = sandbox, lesson.slug, None
                seat.born = seat.active = time.monotonic()
            self.on_hold(learner, sandbox.id)  # held: the other instances let go of theirs
        finally:
            with self.seats.settled:
                seat.starting = False
                self.seats.settled.notify_all()
        self.metrics.time_to_ready.observe(time.monotonic() - asked)
        self.events.activity(learner)
        return sandbox

    def _new_sandbox(self, lesson: Lesson, on_progress: Progress, seat: Seat | None = None,
                     key: str | None = None) -> Sandbox:
        self._refuse_if_closed()
        sandbox = self.pool.take(lesson, key) if self.pool is not None else None
        if sandbox is not None:
            if seat is not None and key is not None:
                seat.reserved_from = key
            self.metrics.pool_hits.inc()
            on_progress(msg("ready (from the warm pool)"))
            return sandbox
        if self.queue is None:
            return self._make(lesson, on_progress)
        with self.queue.turn(on_progress):
            self._refuse_if_closed()
            if seat is not None and seat.unwanted:  # released (removed, the workshop ended) while waiting
                raise LabError(msg("this sandbox is no longer wanted: it was released while it waited its turn"))
            return self._make(lesson, on_progress)

    def _make(self, lesson: Lesson, on_progress: Progress) -> Sandbox:
        """A new sandbox from the backend, tried twice: on a loaded host a node's engine may
        fail to start once ("OCI runtime exec failed", measured with 20 learners working on
        2 cores); the failed one is removed by the backend, and the learner is told."""
        try:
            return self.backend.create(lesson, on_progress)
        except SandboxCreateError as exc:
            self._refuse_if_closed()
            self.metrics.create_retries.inc()
            on_progress(msg("the sandbox could not start ({why}); trying once more", why=str(exc)))
            return self.backend.create(lesson, on_progress)

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise LabError(msg("the lab is shutting down"))

    def _catch_up(self, seat: Seat, sandbox: Sandbox, lesson: Lesson, on_progress: Progress,
                  upto: str | None = None) -> None:
        """Bring a fresh sandbox to where the learner is: replay the solutions of the steps
        they passed, in order, then set up the first step they have not. With UPTO (a
        trainer's reset to a step), replay every step before it instead."""
        done = self.store.progress(seat.learner, lesson.slug)
        runner = self.runner(sandbox, lesson)
        for step in lesson.steps:
            if (step.id == upto) if upto else done.get(step.id) != "passed":
                self.prepare(seat, runner, step)
                return
            on_progress(msg("replaying step {step}", step=step.id))
            runner.setup(step)
            bad = [r for r in runner.run_blocks(step, step.solution_blocks()) if r.unexpected_failure]
            seat.prepared.add(step.id)
            if bad:
                raise LabError(msg("replaying step '{step}' failed on {node}: {command} (exit {code}); reset the "
                                   "sandbox to start over", step=step.id, node=bad[0].node, command=bad[0].command,
                                   code=bad[0].result.exit_code))

    def prepare(self, seat: Seat, runner: Runner, step: Step) -> None:
        """Run STEP's setup once per sandbox, before the learner works on it."""
        # After a restart the seat remembers nothing, but the sandbox does (Runner.setup_ran):
        # a setup run twice fails (`service create` of a name that exists) or moves its record.
        if step.setup and step.id not in seat.prepared and not runner.setup_ran(step):
            bad = [r for r in runner.setup(step) if r.unexpected_failure]
            if bad:
                raise LabError(msg("the setup of step '{step}' failed on {node}: {command}", step=step.id,
                                   node=bad[0].node, command=bad[0].command))
        seat.prepared.add(step.id)

    # --- using one ----------------------------------------------------------------------

    def ready(self, learner: str, lesson: Lesson) -> tuple[Seat, Sandbox]:
        """The learner's seat and their sandbox for LESSON, or LabError saying why not."""
        seat = self.seats.get(learner)
        if seat.sandbox is None or seat.lesson != lesson.slug:
            raise LabError(msg("your sandbox is still starting; wait for it to be ready") if seat.starting
                           else msg("you have no sandbox for this lesson yet; open the lesson to start one"))
        return seat, seat.sandbox

    def status(self, learner: str) -> dict:
        seat = self.seats.get(learner)
        nodes = [{"name": n.name, "role": n.role} for n in seat.sandbox.nodes] if seat.sandbox else []
        state = "ready" if seat.sandbox else ("starting" if seat.starting else "none")
        return {"state": state, "lesson": seat.lesson, "nodes": nodes,
                "id": seat.sandbox.id if seat.sandbox else None}

    def network_map(self, learner: str) -> dict:
        """The learner's sandbox as a map (see labapp/netmap.py)."""
        from ..netmap import network_map

        seat = self.seats.get(learner)
        if seat.sandbox is None:
            raise LabError(msg("no sandbox yet: its map appears once it is ready"))
        return network_map(seat.sandbox)

    # --- ending -------------------------------------------------------------------------

    def release(self, learner: str, reason: str | None = None) -> None:
        """Destroy the learner's sandbox (Reset, expiry, the end of a workshop; progress is
        kept). With REASON, the learner's page is told why."""
        seat = self.seats.get(learner)
        self.on_release(learner)
        with seat.lock:
            sandbox, seat.sandbox, seat.lesson, seat.runs = seat.sandbox, None, None, {}
            if seat.starting:  # one still waiting in the queue is not made (one being made is released once made)
                seat.unwanted = True
        if sandbox is not None:
            self.store.let_go(learner, sandbox.id)
            sandbox.destroy()
            if reason:
                self.events.notify(learner, {"type": "expired", "reason": reason})

    def readopt(self) -> dict:
        """After a restart: give learners back the sandboxes the store says they held, put
        pooled ones back in the pool, and destroy the rest of this instance's sandboxes
        (orphans: one that was starting when the app stopped, say)."""
        held = self.store.holdings()
        found = {"adopted": [], "pooled": [], "reaped": []}
        # several instances: the store's seats are every instance's; one look at the engines
        # gives this instance's sandboxes and which of the others' are still there
        everyone = self.backend.existing(ANY_OWNER) if self.shared else self.backend.existing()
        seen = {entry["id"] for entry in everyone}
        for entry in everyone:
            if entry.get("owner", self.backend.owner) != self.backend.owner:
                continue  # another instance's: its to take back
            sid = entry["id"]
            verdict = orphan_or_not(entry, held)
            if verdict == "held":
                owner = held[sid]
                seat = self.seats.get(owner["learner"])
                with seat.lock:
                    seat.sandbox, seat.lesson = self.backend.attach(sid), owner["lesson"]
                    seat.active = seat.born = time.monotonic()
                found["adopted"].append(sid)
            elif verdict == "pooled" and self.pool is not None:
                self.pool.adopt(self.backend.attach(sid), entry["shape"])
                found["pooled"].append(sid)
            else:
                self.backend.destroy(sid)
                self.metrics.reaped.labels("orphan").inc()
                found["reaped"].append(sid)
        for sid, owner in held.items():  # let go only of sandboxes gone from the engines
            if sid not in seen or sid in found["reaped"]:
                self.store.let_go(owner["learner"], sid)
        return found

    def reap_dead(self, owners: set[str]) -> list[str]:
        """Several instances: destroy the sandboxes of OWNERS, instances that died (they
        stopped beating, labapp/cluster.py), and let go of the seats that held them. Their
        learners get their progress back on a new sandbox where they reconnect (replay)."""
        if not owners:
            return []
        held = self.store.holdings()
        gone = []
        for entry in self.backend.existing(owners):
            self.backend.destroy(entry["id"])
            if entry["id"] in held:
                self.store.let_go(held[entry["id"]]["learner"], entry["id"])
            self.metrics.reaped.labels("dead instance").inc()
            gone.append(entry["id"])
        return gone

    def forget_all(self, reason) -> int:
        """Several instances: this one was thought dead, and a survivor removed its sandboxes
        (labapp/cluster.py). Let go of every learner's (telling them REASON) and of the
        pool's; returns how many learners lost one."""
        lost = 0
        for seat in self.seats.all():
            if seat.sandbox is not None:
                self.release(seat.learner, reason)  # the sandbox is gone: its removal removes nothing
                lost += 1
        if self.pool is not None:
            self.pool.drop(lambda sandbox: True)
        return lost

    def shutdown(self, wait: float = 120) -> None:
        """Destroy every sandbox (pooled ones too), after waiting (up to WAIT s) for those
        still starting, so that none outlives the app."""
        self._closed = True
        if self.queue is not None:
            self.queue.close()
        self.seats.wait_settled(timeout=wait)
        if self.pool is not None:
            self.pool.stop()
        for seat in self.seats.all():
            self.release(seat.learner)


def orphan_or_not(entry: dict, held: dict) -> str:
    """What one of this instance's sandboxes on the engine is: 'held' by a learner (all its
    nodes running), 'pooled' (made ahead, all running), or 'orphan' (nobody's: remove it).
    The one definition `labapp reap` and re-adoption share."""
    running = bool(entry["nodes"]) and all(n["status"] == "running" for n in entry["nodes"])
    if not running:
        return "orphan"
    if entry["id"] in held:
        return "held"
    return "pooled" if entry["pooled"] else "orphan"


def step_of(lesson: Lesson, step_id: str) -> Step:
    try:
        return lesson.step(step_id)
    except KeyError:
        raise NotFound(msg("lesson '{lesson}' has no step '{step}'", lesson=lesson.slug, step=step_id)) from None
