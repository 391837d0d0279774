"""Simulated sandboxes, for load tests of the web layer ONLY (LABAPP_BACKEND=loadtest).

Never for learners: nothing runs anywhere. A sandbox is made at once, in memory, with the
lesson's nodes (no Docker, no engine, no network); `exec` and `exec_stream` answer every
command at once with one short canned line on stdout and exit 0; a node has no engine to
read (a check that reads one fails, saying so) and no terminal. The sandboxes live in this
process alone: another instance does not see them, and a restart forgets them.

What it is for: many learners' pages, joins, runs, broadcasts and dashboard redraws against
real `labapp serve` instances on a host that could not hold their swarms (bench/web_scale.py).
`labapp serve` says so in a warning line at start, and skips the engine checks (the node
walls, the kernel probe: KERNEL below is what lessons are told instead).
"""
from __future__ import annotations

import itertools
import threading
import time

from ..errors import SandboxError, SandboxNotFound
from .backend import ANY_OWNER, Backend
from .base import ExecResult, Execution, Node, NodeState, Sandbox, SandboxState, node_plan
from .execstream import Chunk

OUTPUT = "ok (simulated: LABAPP_BACKEND=loadtest)\n"  # what every command prints
KERNEL = {"ipvs": True, "esp": True, "vxlan": True}  # the kernel probe's answer, without a probe
WARNING = ("labapp: WARNING: LABAPP_BACKEND=loadtest: sandboxes are SIMULATED (no Docker; every command "
           "answers at once with a canned line and exit 0): for load tests only, never for learners")


class _Answer(Execution):
    def __init__(self, started: float):
        self._result = ExecResult(0, OUTPUT, "", duration=time.monotonic() - started)

    def __iter__(self):
        yield Chunk("stdout", OUTPUT)

    def result(self) -> ExecResult:
        return self._result

    def cancel(self) -> None:
        pass


class LoadTestSandbox(Sandbox):
    """A sandbox that exists only as this object (see the module)."""

    def __init__(self, sandbox_id: str, nodes, owner: str, pooled: str | None, forget=lambda sandbox_id: None):
        self.id = sandbox_id
        self.nodes = tuple(nodes)
        self.owner = owner
        self.pooled = pooled  # the pool's shape, or None
        self.created = time.time()
        self.destroyed = False
        self._forget = forget  # the backend stops listing it

    def exec_stream(self, node, cmd, *, timeout=None, learner=False) -> Execution:
        self.node(node)
        return _Answer(time.monotonic())

    def open_tty(self, node, argv, *, cols=80, rows=24):
        raise SandboxError("a simulated sandbox (LABAPP_BACKEND=loadtest) has no terminal")

    def engine(self, node):
        self.node(node)
        raise SandboxError("a simulated sandbox (LABAPP_BACKEND=loadtest) has no engine to read")

    def state(self) -> SandboxState:
        return SandboxState(self.id, tuple(NodeState(n.name, n.role, n.address, running=not self.destroyed,
                                                     swarm_status="ready") for n in self.nodes))

    def destroy(self) -> None:
        self.destroyed = True
        self._forget(self.id)


class LoadTestBackend(Backend):
    """Simulated sandboxes owned by OWNER, kept in memory (see the module)."""

    def __init__(self, owner: str):
        self.owner = owner
        self._made: dict[str, LoadTestSandbox] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create(self, lesson, on_progress, pooled=False):
        with self._lock:
            sandbox_id = f"loadtest-{self.owner}-{next(self._ids)}"
        nodes = [Node(name, role, f"10.255.{i // 250}.{i % 250 + 1}", f"{sandbox_id}-{name}")
                 for i, (name, role) in enumerate(node_plan(lesson.nodes, lesson.managers))]
        sandbox = LoadTestSandbox(sandbox_id, nodes, self.owner, lesson.shape if pooled else None, self._forget)
        with self._lock:
            self._made[sandbox_id] = sandbox
        return sandbox

    def attach(self, sandbox_id):
        with self._lock:
            sandbox = self._made.get(sandbox_id)
        if sandbox is None:
            raise SandboxNotFound(f"no sandbox has the id '{sandbox_id}'")
        return sandbox

    def existing(self, owners=None):
        owners = {self.owner} if owners is None else owners
        if owners is not ANY_OWNER and self.owner not in owners:
            return []
        with self._lock:
            made = list(self._made.values())
        return [{"id": s.id, "owner": s.owner, "pooled": s.pooled is not None, "shape": s.pooled,
                 "created": s.created, "nodes": [{"name": n.name, "status": "running"} for n in s.nodes]}
                for s in made]

    def destroy(self, sandbox_id):
        with self._lock:
            sandbox = self._made.get(sandbox_id)
        if sandbox is not None:
            sandbox.destroy()

    def _forget(self, sandbox_id: str) -> None:
        with self._lock:
            self._made.pop(sandbox_id, None)
