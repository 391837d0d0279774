"""Learners' sandboxes and what they ran: the web app's core, with no Flask in it.

One sandbox per learner, made on demand; the results of the commands a learner ran in a
step are kept until they press Check, so checks read both the output they saw and the
state of their swarm.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .console import judge
from .errors import LabappError, NodeDead
from .lesson.model import Lesson
from .backend import Backend, FactoryBackend
from .pool import WarmPool
from .runner import CommandRun, OnEvent, Runner
from .sandbox.base import Sandbox, TtySession
from .store import Store

SandboxFactory = Callable[[Lesson, Callable[[str], None]], Sandbox]
CONSOLE_TIMEOUT = 300.0  # seconds a console line may run
TTY_MAX_INPUT = 8192  # characters one tty_input may carry (a paste)


class LabError(LabappError):
    """A request the lab cannot serve, with the reason to show the learner."""

    status = 409  # the HTTP status the API answers with


class NotFound(LabError):
    status = 404


class LabFull(LabError):
    """No room for another sandbox now."""

    status = 503

    def __init__(self, minutes: int):
        super().__init__(f"the lab is full, try again in {minutes} minute{'s' if minutes != 1 else ''}")
        self.minutes = minutes


class TooMany(LabError):
    """A learner asked for sandboxes faster than the limit allows."""

    status = 429


@dataclass
class Seat:
    """One learner's place in the lab."""

    learner: str
    sandbox: Sandbox | None = None
    lesson: str | None = None
    starting: bool = False
    runs: dict[str, list[CommandRun]] = field(default_factory=dict)
    prepared: set[str] = field(default_factory=set)  # steps whose setup has run here
    tty: TtySession | None = None  # the open terminal session (docker attach, exec -it)
    tty_next: int = 0  # the sequence number of the next keys to write
    tty_pending: dict = field(default_factory=dict)  # keys that arrived before their turn
    tty_lock: threading.Lock = field(default_factory=threading.Lock)
    born: float = field(default_factory=time.monotonic)  # when its sandbox became ready
    warned: str | None = None  # the expiry the learner was last warned of
    last_verdict: dict | None = None
    lang: str = "en"  # the language of the learner's page, for what the lab tells it
    output: list[str] = field(default_factory=list)  # the end of what ran, for the trainer
    active: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Metrics:
    """Counters for /metrics (Prometheus text format)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ready_seconds: list[float] = []  # from asking for a sandbox to having it ready
        self.pool_hits = 0
        self.steps_run = 0
        self.checks = {"passed": 0, "failed": 0}
        self.console_refusals = 0
        self.reaped = {"idle": 0, "lifetime": 0, "orphan": 0, "ended": 0}

    def add(self, name: str, key: str | None = None, amount: float = 1) -> None:
        with self.lock:
            if key is None:
                setattr(self, name, getattr(self, name) + amount)
            else:
                getattr(self, name)[key] += amount


class Lab:
    def __init__(self, factory: SandboxFactory | Backend, kernel: Callable[[], dict], store: Store,
                 max_sandboxes: int = 0, creates_per_hour: int = 20, idle_seconds: float = 1800,
                 max_seconds: float = 0, warn_seconds: float = 300):
        self.backend = factory if isinstance(factory, Backend) else FactoryBackend(factory)
        self.pool: WarmPool | None = None  # set by the app when it keeps a warm pool
        self.max_sandboxes = max_sandboxes  # 0: no limit
        self.creates_per_hour = creates_per_hour
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds  # a sandbox's longest life (0: no limit)
        self.warn_seconds = warn_seconds  # how long before the end a learner is warned
        self._creates: dict[str, list[float]] = {}
        self.kernel = kernel  # () -> the probe's booleans, asked once
        self.store = store
        self.metrics = Metrics()
        self.notify: Callable[[str, dict], None] = lambda learner, event: None  # to the learner's page
        self.on_activity: Callable[[str], None] = lambda learner: None  # a trainer's dashboard redraws
        self._seats: dict[str, Seat] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._settled = threading.Condition(self._lock)  # notified when a start ends

    def seat(self, learner: str) -> Seat:
        with self._lock:
            return self._seats.setdefault(learner, Seat(learner))

    def ensure_sandbox(self, learner: str, lesson: Lesson, on_progress: Callable[[str], None],
                       fresh: bool = False, upto: str | None = None) -> Sandbox:
        """The learner's sandbox for LESSON, made (with progress stages) if there is none.
        FRESH replaces the one they have; UPTO brings a fresh one to that step (see _catch_up)."""
        if upto is not None:
            _step(lesson, upto)
        seat = self.seat(learner)
        if fresh:
            self.tty_close(learner)
        with seat.lock:
            if seat.sandbox is not None and seat.lesson == lesson.slug and not fresh:
                return seat.sandbox
            if seat.starting:
                raise LabError("a sandbox is already starting for this learner; wait for it")
            self._admit(learner, replacing=seat.sandbox is not None)
            old, seat.sandbox, seat.starting, seat.runs = seat.sandbox, None, True, {}
        try:
            if old is not None:
                self.store.let_go(learner, old.id)
                old.destroy()
            if self._closed:
                raise LabError("the lab is shutting down")
            asked = time.monotonic()
            sandbox = self.pool.take(lesson) if self.pool is not None else None
            if sandbox is not None:
                self.metrics.add("pool_hits")
                on_progress("ready (from the warm pool)")
            else:
                sandbox = self.backend.create(lesson, on_progress)
            try:
                if self._closed:
                    raise LabError("the lab is shutting down")
                seat.prepared = set()
                self._catch_up(seat, sandbox, lesson, on_progress, upto)
            except BaseException:
                sandbox.destroy()  # a sandbox that could not be caught up is nobody's
                raise
        finally:
            with self._settled:
                seat.starting = False
                self._settled.notify_all()
        with self.metrics.lock:
            self.metrics.ready_seconds.append(time.monotonic() - asked)
        self.store.hold(learner, sandbox.id, lesson.slug)
        with seat.lock:
            seat.sandbox, seat.lesson, seat.active = sandbox, lesson.slug, time.monotonic()
            seat.born, seat.warned = time.monotonic(), None
        self.on_activity(learner)
        return sandbox

    def live(self) -> int:
        """Sandboxes held by learners or starting for them."""
        with self._lock:
            return sum(1 for s in self._seats.values() if s.sandbox is not None or s.starting)

    def room(self) -> int:
        """How many more sandboxes (learners' or pooled) the host may hold now."""
        if not self.max_sandboxes:
            return 1_000_000
        pooled = self.pool.count() if self.pool is not None else 0
        return self.max_sandboxes - self.live() - pooled

    def starting(self) -> bool:
        with self._lock:
            return any(s.starting for s in self._seats.values())

    def _admit(self, learner: str, replacing: bool) -> None:
        """Refuse a new sandbox when the host is full or the learner asks too often."""
        now = time.monotonic()
        recent = [t for t in self._creates.get(learner, []) if now - t < 3600]
        if self.creates_per_hour and len(recent) >= self.creates_per_hour:
            wait = int((3600 - (now - recent[0])) // 60) + 1
            raise TooMany(f"you made {len(recent)} sandboxes in the last hour, the most allowed; "
                          f"try again in {wait} minutes")
        live = self.live()
        if self.max_sandboxes and not replacing and live >= self.max_sandboxes:
            idle_for = max((now - s.active for s in self._seats.values() if s.sandbox is not None), default=0)
            raise LabFull(max(1, int((self.idle_seconds - idle_for) // 60) + 1))
        self._creates[learner] = recent + [now]

    def _catch_up(self, seat: Seat, sandbox: Sandbox, lesson: Lesson, on_progress, upto: str | None = None
                  ) -> None:
        """Bring a fresh sandbox to where the learner is: replay the solutions of the steps
        they passed, in order, then set up the first step they have not. With UPTO (a
        trainer's reset to a step), replay every step before it instead."""
        done = self.store.progress(seat.learner, lesson.slug)
        runner = self.runner(sandbox, lesson)
        for step in lesson.steps:
            if (step.id == upto) if upto else done.get(step.id) != "passed":
                self._prepare(seat, runner, step)
                return
            on_progress(f"replaying step {step.id}")
            runner.setup(step)
            bad = [r for r in runner.run_blocks(step, step.solution_blocks()) if r.unexpected_failure]
            seat.prepared.add(step.id)
            if bad:
                raise LabError(f"replaying step '{step.id}' failed on {bad[0].node}: {bad[0].command} "
                               f"(exit {bad[0].result.exit_code}); reset the sandbox to start over")

    def _prepare(self, seat: Seat, runner: Runner, step) -> None:
        """Run STEP's setup once per sandbox, before the learner works on it."""
        if step.setup and step.id not in seat.prepared:
            bad = [r for r in runner.setup(step) if r.unexpected_failure]
            if bad:
                raise LabError(f"the setup of step '{step.id}' failed on {bad[0].node}: {bad[0].command}")
        seat.prepared.add(step.id)

    def status(self, learner: str) -> dict:
        seat = self.seat(learner)
        nodes = [{"name": n.name, "role": n.role} for n in seat.sandbox.nodes] if seat.sandbox else []
        state = "ready" if seat.sandbox else ("starting" if seat.starting else "none")
        return {"state": state, "lesson": seat.lesson, "nodes": nodes,
                "id": seat.sandbox.id if seat.sandbox else None}

    def _ready(self, learner: str, lesson: Lesson) -> tuple[Seat, Sandbox]:
        seat = self.seat(learner)
        if seat.sandbox is None or seat.lesson != lesson.slug:
            raise LabError("your sandbox is still starting; wait for it to be ready" if seat.starting
                           else "you have no sandbox for this lesson yet; open the lesson to start one")
        return seat, seat.sandbox

    def runner(self, sandbox: Sandbox, lesson: Lesson, on_event: OnEvent | None = None) -> Runner:
        return Runner(sandbox, lesson, self.kernel(), on_event=on_event)

    def run_block(self, learner: str, lesson: Lesson, step_id: str, index: int, on_event: OnEvent
                  ) -> list[CommandRun]:
        """Run the INDEX-th command block of a step; keep its results for the step's check."""
        seat, sandbox = self._ready(learner, lesson)
        step = _step(lesson, step_id)
        if not 0 <= index < len(step.blocks):
            raise NotFound(f"step '{step_id}' has no command block {index}")
        runner = self.runner(sandbox, lesson, _tee(seat, on_event))
        self._prepare(seat, runner, step)
        seat.active = time.monotonic()
        block = step.blocks[index]
        if not runner.applies(block.when):
            raise LabError("this block is not for this lab host (see the note in the step)")
        runs = runner.run_blocks(step, (block,))
        seat.runs.setdefault(step_id, []).extend(runs)
        self.metrics.add("steps_run")
        self.on_activity(learner)
        return runs

    def check(self, learner: str, lesson: Lesson, step_id: str) -> dict:
        """Evaluate a step's checks on what the learner ran and on their swarm; store it."""
        seat, sandbox = self._ready(learner, lesson)
        step = _step(lesson, step_id)
        runner = self.runner(sandbox, lesson)
        self._prepare(seat, runner, step)
        seat.active = time.monotonic()
        results = runner.check(step, seat.runs.get(step_id, []))
        passed = bool(results) and all(r.passed for r in results)
        self.store.record(learner, lesson.slug, step_id, "passed" if passed else "failed",
                          [r.name for r in results if not r.passed])
        self.metrics.add("checks", "passed" if passed else "failed")
        seat.last_verdict = {"step": step_id, "passed": passed, "checks": [r.as_dict() for r in results]}
        self.on_activity(learner)
        return {"step": step_id, "passed": passed, "checks": [r.as_dict() for r in results]}

    def console(self, learner: str, lesson: Lesson, node: str, line: str, on_event: OnEvent,
                terminal: tuple[int, int] | None = None) -> dict:
        """Run a console LINE on NODE if the policy allows it; else say why not.

        An interactive line (docker attach, docker exec -it) opens a terminal session when
        the caller has a TERMINAL of (cols, rows) to show it in; its output then comes as
        tty_output events and its end as one tty_exit event.
        """
        verdict = judge(line)
        if not verdict.allowed:
            self.metrics.add("console_refusals")
            return {"allowed": False, "reason": verdict.reason}
        if verdict.interactive and terminal is None:
            return {"allowed": False, "reason": "an interactive session (docker attach, exec -it) needs "
                    "a terminal: type it in the lesson page's console; here use docker exec CONTAINER CMD"}
        seat, sandbox = self._ready(learner, lesson)
        sandbox.node(node)
        seat.active = time.monotonic()
        if verdict.interactive:
            return self._open_tty(seat, sandbox, node, line.strip(), terminal, on_event)
        result = self.runner(sandbox, lesson, _tee(seat, on_event)).run_command(None, node, line, CONSOLE_TIMEOUT)
        return {"allowed": True, "exit_code": result.exit_code}

    def _open_tty(self, seat: Seat, sandbox: Sandbox, node: str, line: str, terminal: tuple[int, int],
                  on_event: OnEvent) -> dict:
        cols, rows = _terminal_size(*terminal)
        with seat.lock:
            if seat.tty is not None:
                return {"allowed": False, "reason": f"a terminal session is already open ({seat.tty.command} "
                        f"on {seat.tty.node}); leave it first (exit, Ctrl-P Ctrl-Q, or Close)"}
            tty = seat.tty = sandbox.open_tty(node, line, cols=cols, rows=rows)
            seat.tty_next, seat.tty_pending = 0, {}
        on_event({"type": "tty_open", "node": node, "command": line})

        def pump():
            try:
                while (text := tty.read()) is not None:
                    on_event({"type": "tty_output", "data": text})
                exit_code, message = tty.outcome()
            except LabappError as exc:
                exit_code, message = None, str(exc)
            with seat.lock:
                if seat.tty is tty:
                    seat.tty = None
            on_event({"type": "tty_exit", "node": node, "command": line, "exit_code": exit_code,
                      "message": message})
        threading.Thread(target=pump, daemon=True, name=f"labapp-tty-{seat.learner[:8]}").start()
        return {"allowed": True, "interactive": True}

    def _tty(self, learner: str) -> TtySession:
        tty = self.seat(learner).tty
        if tty is None:
            raise LabError("no terminal session is open; type docker attach or docker exec -it in the console")
        return tty

    def tty_input(self, learner: str, text: str, seq=None) -> None:
        """Type TEXT into the learner's open terminal session. Socket.IO may hand messages
        to different threads, so keys carry SEQ (0, 1, 2... per session) and are written
        in that order whatever order they arrive in."""
        if not isinstance(text, str) or not text or len(text) > TTY_MAX_INPUT:
            raise LabError(f"terminal input must be text of 1 to {TTY_MAX_INPUT} characters")
        if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or seq < 0):
            raise LabError("terminal input 'seq' is a whole number counting from 0")
        tty = self._tty(learner)
        seat = self.seat(learner)
        seat.active = time.monotonic()
        with seat.tty_lock:
            if seq is None:
                tty.write(text)
                return
            if seat.tty is not tty or len(seat.tty_pending) > 1000:
                raise LabError("terminal input arrived out of step; close the terminal and open it again")
            seat.tty_pending[seq] = text
            while seat.tty_next in seat.tty_pending:
                tty.write(seat.tty_pending.pop(seat.tty_next))
                seat.tty_next += 1

    def tty_resize(self, learner: str, cols, rows) -> None:
        size = _terminal_size(cols, rows)
        self._tty(learner).resize(*size)

    def tty_close(self, learner: str) -> None:
        """End the learner's terminal session, if one is open (its pump reports the end)."""
        tty = self.seat(learner).tty
        if tty is not None:
            tty.close()

    def network_map(self, learner: str) -> dict:
        """The learner's sandbox as a map (see labapp/netmap.py)."""
        from .netmap import network_map

        seat = self.seat(learner)
        if seat.sandbox is None:
            raise LabError("no sandbox yet: its map appears once it is ready")
        return network_map(seat.sandbox)

    def release(self, learner: str, reason: str | None = None) -> None:
        """Destroy the learner's sandbox (Reset, expiry, the end of a workshop; progress is
        kept). With REASON, the learner's page is told why."""
        seat = self.seat(learner)
        self.tty_close(learner)
        with seat.lock:
            sandbox, seat.sandbox, seat.lesson, seat.runs = seat.sandbox, None, None, {}
        if sandbox is not None:
            self.store.let_go(learner, sandbox.id)
            sandbox.destroy()
            if reason:
                self.notify(learner, {"type": "expired", "reason": reason})

    def expiry(self, seat: Seat, now: float) -> tuple[float, str] | None:
        """(seconds left, why) for the first limit SEAT's sandbox will reach, or None."""
        ends = [(self.idle_seconds - (now - seat.active), "idle")]
        if self.max_seconds:
            ends.append((self.max_seconds - (now - seat.born), "lifetime"))
        return min(ends) if ends else None

    def reap(self, idle_seconds: float | None = None) -> list[str]:
        """Destroy the sandboxes past their idle or maximum lifetime, telling their learners
        why; warn those within warn_seconds of it. Return the learners reaped. Progress is
        kept: a learner who comes back gets a fresh sandbox brought to their step."""
        if idle_seconds is not None:
            self.idle_seconds = idle_seconds
        now = time.monotonic()
        reaped = []
        for seat in list(self._seats.values()):
            if seat.sandbox is None or seat.starting:
                continue
            end = self.expiry(seat, now)
            if end is None:
                continue
            left, why = end
            if left <= 0:
                reaped.append(seat.learner)
                self.metrics.add("reaped", why)
                self.release(seat.learner, _EXPIRED[why].format(minutes=self._limit_minutes(why)))
            elif left <= self.warn_seconds and seat.warned != why:
                seat.warned = why
                minutes = max(1, int(left // 60))
                self.notify(seat.learner, {"type": "lifetime", "reason": why, "seconds_left": int(left),
                                           "message": _WARN[why].format(minutes=minutes)})
        return reaped

    def _limit_minutes(self, why: str) -> int:
        return int((self.idle_seconds if why == "idle" else self.max_seconds) // 60)

    def readopt(self) -> dict:
        """After a restart: give learners back the sandboxes the store says they held, put
        pooled ones back in the pool, and destroy the rest of this instance's sandboxes
        (orphans: one that was starting when the app stopped, say)."""
        held = self.store.holdings()
        found = {"adopted": [], "pooled": [], "reaped": []}
        seen = set()
        for entry in self.backend.existing():
            sid = entry["id"]
            seen.add(sid)
            running = all(n["status"] == "running" for n in entry["nodes"]) and entry["nodes"]
            if sid in held and running:
                owner = held[sid]
                seat = self.seat(owner["learner"])
                with seat.lock:
                    seat.sandbox, seat.lesson = self.backend.attach(sid), owner["lesson"]
                    seat.active = seat.born = time.monotonic()
                found["adopted"].append(sid)
            elif entry["pooled"] and running and self.pool is not None:
                self.pool.adopt(self.backend.attach(sid), entry["shape"])
                found["pooled"].append(sid)
            else:
                self.backend.destroy(sid)
                self.metrics.add("reaped", "orphan")
                found["reaped"].append(sid)
        for sid, owner in held.items():
            if sid not in seen or sid in found["reaped"]:
                self.store.let_go(owner["learner"], sid)
        return found

    def shutdown(self, wait: float = 120) -> None:
        """Destroy every sandbox (pooled ones too), after waiting (up to WAIT s) for those
        still starting, so that none outlives the app."""
        with self._settled:
            self._closed = True
            self._settled.wait_for(lambda: not any(s.starting for s in self._seats.values()), timeout=wait)
        if self.pool is not None:
            self.pool.stop()
        for learner in list(self._seats):
            self.release(learner)


OUTPUT_KEPT = 300  # pieces of output kept per learner for the trainer's read-only view


def _tee(seat: Seat, on_event: OnEvent) -> OnEvent:
    """ON_EVENT, also keeping the end of the output in SEAT (the trainer may look at it)."""
    def tee(event: dict) -> None:
        if event["type"] == "command":
            seat.output.append(f"\n[{event['node']}] $ {event['command']}\n")
        elif event["type"] == "output":
            seat.output.append(event["text"])
        elif event["type"] == "exit":
            seat.output.append(f"(exit {event['exit_code']})\n")
        del seat.output[:-OUTPUT_KEPT]
        on_event(event)
    return tee


_WARN = {
    "idle": "your sandbox has been idle; it will be removed in {minutes} min unless you run something "
            "(your progress is kept)",
    "lifetime": "your sandbox reaches its maximum lifetime in {minutes} min; it will then be removed "
                "(your progress is kept: open the lesson again for a fresh one)",
}
_EXPIRED = {
    "idle": "your sandbox was removed after {minutes} min without use; your progress is kept: "
            "press Reset sandbox or reload for a fresh one at your step",
    "lifetime": "your sandbox reached its maximum lifetime ({minutes} min) and was removed; your progress "
                "is kept: press Reset sandbox or reload for a fresh one at your step",
}


def explain(exc: LabappError) -> tuple[int, str]:
    """The HTTP status and the sentence a learner sees for EXC."""
    if isinstance(exc, NodeDead):
        return 409, f"{exc.args[0]}: press Reset sandbox for a fresh swarm (your progress is kept)"
    if isinstance(exc, LabError):
        return exc.status, str(exc)
    return 503, str(exc)


def _step(lesson: Lesson, step_id: str):
    try:
        return lesson.step(step_id)
    except KeyError:
        raise NotFound(f"lesson '{lesson.slug}' has no step '{step_id}'") from None


def _terminal_size(cols, rows) -> tuple[int, int]:
    if not (isinstance(cols, int) and isinstance(rows, int) and 2 <= cols <= 500 and 2 <= rows <= 200):
        raise LabError("a terminal size is whole columns (2-500) and rows (2-200)")
    return cols, rows
