"""Sandboxes over several Docker engines (LABAPP_ENGINES; docs/scale.md, "More than one
engine"). MultiBackend is a Backend over one SwarmBackend per engine: a new sandbox goes to
the answering engine with the most free room (its capacity from its own cores and memory,
labapp/capacity.py, less the sandboxes this instance holds there), and every later call
for a sandbox goes to the engine it is on (remembered per id, found by its labels after a
restart). A sandbox never spans engines.

An engine that stops answering is marked down (with the time): no sandbox is placed on it,
its learners are told by name (ON_DOWN, wired by services.py), and any use of a sandbox
on it raises EngineDown naming the engine, which the page shows with "press Reset sandbox"
(web/errors.py treats it as a dead node). The watcher asks down engines again every
RETRY_SECONDS; one that answers again is marked up, and this instance's sandboxes left on
it (their learners have been moved on) are removed.

One module of ~530 lines on purpose: placement, down-marking, the watcher and the routing of
each call by sandbox id share one lock and one table of engines; split, each part would
reach into the others' state."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import docker.errors

from ..capacity import Capacity, host_capacity
from ..config import ConfigError
from ..engine import CONNECTION_ERRORS, connect
from ..errors import EngineUnavailable, LabappError, NodeDead
from ..i18n import msg
from .backend import ANY_OWNER, Backend, SwarmBackend
from .base import Execution, Sandbox

log = logging.getLogger(__name__)

LABEL_ENGINE = "labapp.engine"  # the engine a sandbox was placed on (its address in LABAPP_ENGINES)
RETRY_SECONDS = 10.0  # how often the watcher asks every engine (down ones too)
PING_TIMEOUT = 10.0


class EngineDown(NodeDead):
    """The engine a sandbox is on does not answer: the sandbox is out of reach (the page
    offers Reset, as for a dead node)."""

    hint = ""


@dataclass
class Engine:
    """One Docker engine of the lab, as the lab sees it."""

    address: str
    backend: SwarmBackend
    capacity: Capacity | None = None  # from the engine's info(); None until it has answered
    down_since: float | None = None  # wall-clock time it was marked down; None while up
    reason: str = ""
    placing: int = 0  # sandboxes being made there now
    held: set = field(default_factory=set)  # ids of this instance's sandboxes there

    @property
    def up(self) -> bool:
        return self.down_since is None

    def free(self) -> int:
        room = self.capacity.sandboxes if self.capacity else 0
        return room - len(self.held) - self.placing


def engine_capacity(client, settings, override: int = 0) -> Capacity:
    """The capacity of the engine behind CLIENT, from its own cores and memory (info())."""
    info = client.info()
    return host_capacity(settings, override=override, memory=int(info.get("MemTotal") or 0) or None,
                         cores=int(info.get("NCPU") or 0) or None)


def down_message(address: str, since: float) -> str:
    when = time.strftime("%H:%M:%S UTC", time.gmtime(since))
    return msg("the Docker engine {engine} that runs your sandbox stopped answering at {time}",
               engine=address, time=when)


class MultiBackend(Backend):
    """Sandboxes over the engines at ADDRESSES, owned by OWNER."""

    def __init__(self, settings, owner: str, addresses: Sequence[str],
                 backend_for: Callable[[str], SwarmBackend] | None = None,
                 answers: Callable[[Engine], bool] | None = None,
                 capacity_of: Callable[[Engine], Capacity] | None = None):
        """BACKEND_FOR(address), ANSWERS(engine) and CAPACITY_OF(engine) are the real ones
        unless given (unit tests give fakes)."""
        if not addresses:
            raise LabappError("MultiBackend needs at least one engine address")
        self.settings = settings
        self.owner = owner
        make = backend_for or (lambda address: SwarmBackend(settings, owner, base_url=address, name=address))
        self.engines = [Engine(address, make(address)) for address in addresses]
        self._answers = answers or _pings
        self._capacity_of = capacity_of or (lambda e: engine_capacity(e.backend.client, settings))
        self._lock = threading.Lock()
        self._where: dict[str, Engine] = {}
        self.on_down: Callable[[Engine, list[str]], None] = lambda engine, ids: None
        self.on_up: Callable[[Engine, list[str]], None] = lambda engine, ids: None
        self._watcher: threading.Thread | None = None
        for engine in self.engines:
            self.look(engine)

    # --- engines up and down -----------------------------------------------------------

    def look(self, engine: Engine) -> bool:
        """Ask ENGINE whether it answers; mark it up or down (telling ON_DOWN of the
        sandboxes it held); True when it answers."""
        if self._answers(engine):
            came_back = False
            if engine.capacity is None:
                try:
                    engine.capacity = self._capacity_of(engine)
                except (LabappError, docker.errors.APIError, *CONNECTION_ERRORS) as exc:
                    self._mark_down(engine, str(exc))
                    return False
            with self._lock:
                came_back = not engine.up
            if came_back:
                # Cleared while it is still marked down, so that nothing is placed there in
                # between (a sandbox being made would look left behind and be removed).
                self._remove_left_behind(engine)
                log.warning("engine %s answers again", engine.address)
            with self._lock:
                engine.down_since, engine.reason = None, ""
            if came_back:
                self._tell(self.on_up, engine, [])
            return True
        self._mark_down(engine, "it does not answer")
        return False

    def _mark_down(self, engine: Engine, reason: str) -> bool:
        """Mark ENGINE down (once); tell ON_DOWN which of this instance's sandboxes were there."""
        with self._lock:
            if not engine.up:
                return False
            engine.down_since, engine.reason = time.time(), reason
            ids = sorted(engine.held)
            for sid in ids:
                self._where.pop(sid, None)
            engine.held.clear()
        log.warning("engine %s is down (%s); %d sandboxes were on it", engine.address, reason, len(ids))
        # Told on a thread of its own: the caller may be a learner's command, in the middle of
        # using the very seat that is released.
        threading.Thread(target=self._tell, args=(self.on_down, engine, ids), daemon=True,
                         name="labapp-engine-down").start()
        return True

    def _tell(self, hook, engine: Engine, ids: list[str]) -> None:
        try:
            hook(engine, ids)
        except Exception:  # noqa: BLE001 - telling learners must not stop the marking
            log.exception("telling of engine %s failed", engine.address)

    def _remove_left_behind(self, engine: Engine) -> None:
        """An engine back up: this instance's sandboxes there that nobody holds any more go."""
        try:
            for entry in engine.backend.existing():
                with self._lock:
                    tracked = entry["id"] in self._where
                if not tracked:
                    engine.backend.destroy(entry["id"])
        except (LabappError, docker.errors.APIError, *CONNECTION_ERRORS):
            log.warning("could not clear what was left on engine %s", engine.address, exc_info=True)

    def watch(self, on_down: Callable[[Engine, list[str]], None] | None = None,
              every: float = RETRY_SECONDS) -> None:
        """Ask every engine every EVERY s in the background (ON_DOWN: learners to tell)."""
        if on_down is not None:
            self.on_down = on_down
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, args=(every,), name="labapp-engines",
                                             daemon=True)
            self._watcher.start()

    def _watch(self, every: float) -> None:
        while True:
            time.sleep(every)
            for engine in self.engines:
                try:
                    self.look(engine)
                except Exception:  # noqa: BLE001 - the watcher outlives any one failure
                    log.warning("looking at engine %s failed", engine.address, exc_info=True)

    def capacity(self, override: int = 0) -> Capacity:
        """The lab's capacity: the sum over the engines that answer (OVERRIDE wins above 0)."""
        up = [e.capacity for e in self.engines if e.up and e.capacity]
        per = up[0] if up else host_capacity(self.settings)
        total = sum(c.sandboxes for c in up)
        return Capacity(override if override > 0 else total, sum(c.by_memory for c in up),
                        sum(c.by_cpu for c in up), sum(c.memory for c in up), sum(c.cores for c in up),
                        per.per_sandbox, per.per_core, override if override > 0 else 0, engines=len(up))

    def status(self) -> list[dict]:
        """Each engine: address, up, down since, reason, capacity, sandboxes held, being made."""
        with self._lock:
            return [{"address": e.address, "up": e.up, "down_since": e.down_since, "reason": e.reason,
                     "capacity": e.capacity.sandboxes if e.capacity else None, "held": len(e.held),
                     "placing": e.placing} for e in self.engines]

    def engine_of(self, sandbox_id: str) -> Engine | None:
        with self._lock:
            return self._where.get(sandbox_id)

    # --- the Backend contract ------------------------------------------------------------

    def create(self, lesson, on_progress, pooled=False):
        tried: list[str] = []
        while True:
            engine = self._place(exclude=tried)
            if engine is None:
                down = [e.address for e in self.engines if not e.up]
                raise EngineUnavailable(msg("no Docker engine of this lab can take a sandbox now (down: {down}); "
                                            "try again in a minute", down=", ".join(down) or "-"), hint="")
            on_progress(msg("placing the sandbox on engine {engine}", engine=engine.address))
            try:
                sandbox = engine.backend.create(lesson, on_progress, pooled=pooled,
                                                avoid=self._subnets_elsewhere(engine))
            except (LabappError, docker.errors.APIError, *CONNECTION_ERRORS):
                with self._lock:
                    engine.placing -= 1
                if self.look(engine):
                    raise  # the engine answers: the failure is the sandbox's, not the engine's
                tried.append(engine.address)
                continue  # the engine went away while making it: try the next one
            with self._lock:
                engine.placing -= 1
                engine.held.add(sandbox.id)
                self._where[sandbox.id] = engine
            return PlacedSandbox(sandbox, engine, self)

    def _place(self, exclude: Sequence[str] = ()) -> Engine | None:
        """The up engine with the most free room (the first listed on a tie), counted as
        placing one; None when no engine is up. A full lab is admission's business: when
        every engine is full, the emptiest still takes it."""
        with self._lock:
            up = [e for e in self.engines if e.up and e.address not in exclude]
            if not up:
                return None
            best = max(up, key=lambda e: (e.free(), -self.engines.index(e)))
            best.placing += 1
            return best

    def _subnets_elsewhere(self, engine: Engine) -> Callable[[], list[str]]:
        """Subnets the other engines on this machine use, and every network the machine
        routes to: sandbox bridges of two local engines share one kernel (and its routing
        table), so their subnets must not overlap, even with an engine the lab does not list."""
        if not engine.address.startswith("unix://"):
            return lambda: []

        def used() -> list[str]:
            from .swarm import used_subnets

            found = local_routes()
            for other in self.engines:
                if other is not engine and other.up and other.address.startswith("unix://"):
                    try:
                        found += used_subnets(other.backend.client)
                    except (LabappError, docker.errors.APIError, *CONNECTION_ERRORS):
                        pass
            return found
        return used

    def _engine_for(self, sandbox_id: str) -> Engine:
        """The engine SANDBOX_ID is on: remembered, else found by its labels on each
        engine that answers; EngineDown when it was on an engine now down."""
        with self._lock:
            engine = self._where.get(sandbox_id)
        if engine is not None:
            return engine
        for engine in self.engines:
            if not engine.up:
                continue
            try:
                found = any(entry["id"] == sandbox_id for entry in engine.backend.existing(ANY_OWNER))
            except (LabappError, docker.errors.APIError, *CONNECTION_ERRORS):
                self.look(engine)
                continue
            if found:
                with self._lock:
                    engine.held.add(sandbox_id)
                    self._where[sandbox_id] = engine
                return engine
        from ..errors import SandboxNotFound

        down = [e for e in self.engines if not e.up]
        if down:
            raise EngineDown(msg("sandbox {id} is on none of the engines that answer; down: {down}",
                                 id=sandbox_id, down=", ".join(e.address for e in down)))
        raise SandboxNotFound(f"no sandbox has the id '{sandbox_id}' on any engine")

    def attach(self, sandbox_id):
        engine = self._engine_for(sandbox_id)
        try:
            return PlacedSandbox(engine.backend.attach(sandbox_id), engine, self)
        except (docker.errors.APIError, *CONNECTION_ERRORS):
            if self.look(engine):
                raise
            raise EngineDown(down_message(engine.address, engine.down_since or time.time())) from None

    def existing(self, owners=None):
        found = []
        for engine in self.engines:
            if not engine.up and not self.look(engine):
                continue
            try:
                entries = engine.backend.existing(owners)
            except (LabappError, docker.errors.APIError, *CONNECTION_ERRORS):
                self.look(engine)
                continue
            with self._lock:
                for entry in entries:
                    if entry.get("owner", self.owner) == self.owner:  # another instance's count elsewhere
                        engine.held.add(entry["id"])
                    self._where[entry["id"]] = engine
            found += [{**entry, "engine": engine.address} for entry in entries]
        return found

    def destroy(self, sandbox_id):
        try:
            engine = self._engine_for(sandbox_id)
        except EngineDown:
            return  # removed when its engine answers again (_remove_left_behind)
        self._destroy_on(engine, sandbox_id, lambda: engine.backend.destroy(sandbox_id))

    def _destroy_on(self, engine: Engine, sandbox_id: str, remove: Callable[[], None]) -> None:
        if engine.up:
            try:
                remove()
            except (docker.errors.APIError, *CONNECTION_ERRORS):
                if self.look(engine):
                    raise
        with self._lock:
            engine.held.discard(sandbox_id)
            if self._where.get(sandbox_id) is engine:
                del self._where[sandbox_id]

    def healthy(self, sandbox):
        placed = sandbox if isinstance(sandbox, PlacedSandbox) else None
        engine = placed.engine_ if placed else self._where.get(sandbox.id)
        if engine is None or not engine.up:
            return False
        try:
            return engine.backend.healthy(placed.inner if placed else sandbox)
        except CONNECTION_ERRORS:
            self.look(engine)
            return False

    def promote(self, sandbox):
        placed = sandbox if isinstance(sandbox, PlacedSandbox) else None
        engine = placed.engine_ if placed else self._where[sandbox.id]
        engine.backend.promote(placed.inner if placed else sandbox)


def local_routes() -> list[str]:
    """The IPv4 networks this machine's main routing table holds a route to (not the default)."""
    import ipaddress
    import socket
    import struct

    found = []
    try:
        with open("/proc/net/route", encoding="ascii") as handle:
            next(handle, None)
            for line in handle:
                fields = line.split()
                destination, mask = (socket.inet_ntoa(struct.pack("<L", int(f, 16))) for f in (fields[1], fields[7]))
                if mask != "0.0.0.0":
                    found.append(str(ipaddress.ip_network(f"{destination}/{mask}", strict=False)))
    except (OSError, ValueError, IndexError):
        pass
    return found


def _pings(engine: Engine, tries: int = 2) -> bool:
    """True when ENGINE answers a ping; asked twice before it is believed away (a busy
    engine that answers late must not lose its learners' sandboxes)."""
    for attempt in range(tries):
        try:
            client = connect(timeout=PING_TIMEOUT, base_url=engine.address,
                             tls_dir=getattr(engine.backend.settings, "engine_tls_dir", ""))
            client.close()
            return True
        except EngineUnavailable:
            if attempt + 1 < tries:
                time.sleep(0.5)
    return False


class PlacedSandbox(Sandbox):
    """A sandbox on one engine of several: everything goes to the sandbox itself, but a
    failure because its engine went away becomes EngineDown, naming the engine."""

    def __init__(self, inner: Sandbox, engine: Engine, multi: MultiBackend):
        self.inner = inner
        self.engine_ = engine
        self._multi = multi

    def __getattr__(self, name):  # client, recipe, created, app_user, ...: the sandbox's own
        if name in ("inner", "engine_", "_multi"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def nodes(self):
        return self.inner.nodes

    def down(self) -> EngineDown | None:
        """EngineDown when the sandbox's engine is (or has just been found) down."""
        engine = self.engine_
        if engine.up and self._multi.look(engine):
            return None
        return EngineDown(down_message(engine.address, engine.down_since or time.time()))

    def _checked(self):
        engine = self.engine_
        if not engine.up:
            raise EngineDown(down_message(engine.address, engine.down_since or time.time()))

    def _call(self, call):
        self._checked()
        try:
            return call()
        except (LabappError, docker.errors.APIError, *CONNECTION_ERRORS) as exc:
            if isinstance(exc, EngineDown):
                raise
            problem = self.down()
            if problem is None:
                raise
            raise problem from None

    def exec_stream(self, node, cmd, *, timeout=None, learner=False):
        return _PlacedExecution(self._call(lambda: self.inner.exec_stream(node, cmd, timeout=timeout,
                                                                          learner=learner)), self)

    def open_tty(self, node, argv, *, cols=80, rows=24):
        return self._call(lambda: self.inner.open_tty(node, argv, cols=cols, rows=rows))

    def engine(self, node):
        return self._call(lambda: self.inner.engine(node))

    def state(self):
        return self._call(self.inner.state)

    def swarm_store(self):
        return self._call(self.inner.swarm_store)

    def destroy(self) -> None:
        """Remove the sandbox; on a down engine, forget it (removed when the engine is back)."""
        self._multi._destroy_on(self.engine_, self.id, self.inner.destroy)


class _PlacedExecution(Execution):
    def __init__(self, inner: Execution, sandbox: PlacedSandbox):
        self.inner = inner
        self.sandbox = sandbox

    def __iter__(self) -> Iterator:
        try:
            yield from self.inner
        except (LabappError, docker.errors.APIError, *CONNECTION_ERRORS):
            problem = self.sandbox.down()
            if problem is None:
                raise
            raise problem from None

    def result(self):
        outcome = self.inner.result()
        if outcome.exit_code is None and not outcome.timed_out:
            problem = self.sandbox.down()
            if problem is not None:
                raise problem
        return outcome

    def cancel(self) -> None:
        self.inner.cancel()

    def __getattr__(self, name):
        if name in ("inner", "sandbox"):
            raise AttributeError(name)
        return getattr(self.inner, name)


BACKENDS = ("swarm", "loadtest")  # LABAPP_BACKEND


def make_backend(settings, owner: str) -> Backend:
    """The lab's backend: one engine as today, or several when LABAPP_ENGINES is set; with
    LABAPP_BACKEND=loadtest, simulated sandboxes (sandbox/loadtest.py: load tests only)."""
    from ..engine import engine_addresses

    if settings.backend == "loadtest":
        from .loadtest import LoadTestBackend

        return LoadTestBackend(owner)
    if settings.backend != "swarm":
        raise ConfigError(f"LABAPP_BACKEND={settings.backend!r}: one of {', '.join(BACKENDS)}")
    addresses = engine_addresses(settings.engines)
    if not addresses:
        return SwarmBackend(settings, owner)
    for address in addresses:
        if address.startswith("unix://"):
            from .hostwall import ensure_bridge_wall

            problem = ensure_bridge_wall()
            if problem is not None:
                raise LabappError(f"several engines on this machine need labapp's bridge rules "
                                  f"(sandbox/hostwall.py), and they cannot be installed: {problem}",
                                  hint="run labapp as root, or leave LABAPP_ENGINES empty")
            break
    return MultiBackend(settings, owner, addresses)


def tell_learners(backend: MultiBackend, lifecycle, admission, override: int = 0) -> None:
    """Wire BACKEND's engine watch to the lab: when an engine goes down, each learner whose
    sandbox was on it is told (naming the engine) and their seat freed (Reset or a reload
    places a fresh sandbox on an engine that answers, at their step); admission's capacity
    follows the engines that answer."""
    limited = bool(admission.max_sandboxes)  # 0 is "no limit": never set it when no engine is up

    def capacity(engine, ids) -> None:
        if limited:
            admission.max_sandboxes = max(1, backend.capacity(override).sandboxes)

    def down(engine: Engine, ids: list[str]) -> None:
        capacity(engine, ids)
        gone = set(ids)
        for seat in lifecycle.seats.all():
            if seat.sandbox is not None and seat.sandbox.id in gone:
                lifecycle.release(seat.learner, msg(
                    "{problem}; your progress is kept: press Reset sandbox or reload for a fresh one at your step",
                    problem=down_message(engine.address, engine.down_since or time.time())))
        if lifecycle.pool is not None:
            lifecycle.pool.drop(lambda sandbox: sandbox.id in gone)

    backend.on_down, backend.on_up = down, capacity


def copy_images(source, target, refs: Sequence[str], say: Callable[[str], None] = lambda m: None) -> None:
    """`docker save | docker load` of REFS from the engine SOURCE to the engine TARGET (an
    engine of the lab that lacks them; `labapp images copy`), streamed, never on disk."""
    for ref in refs:
        say(f"copying {ref}")
        stream = source.api.get_image(ref, chunk_size=1024 * 1024)
        for _ in target.api.load_image(stream):
            pass
