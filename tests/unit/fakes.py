"""Fakes for unit tests only: a sandbox whose exec answers from a script and whose node
engines hold a made-up state. Integration and e2e tests never use these."""
from __future__ import annotations

import itertools
import queue
import re
from types import SimpleNamespace

import docker.errors

from labapp.sandbox.backend import Backend
from labapp.sandbox.base import ExecResult, Execution, Node, Sandbox, SandboxState, TtySession
from labapp.sandbox.execstream import Chunk


class FakeExecution(Execution):
    def __init__(self, result: ExecResult):
        self._result = result

    def __iter__(self):
        if self._result.stdout:
            yield Chunk("stdout", self._result.stdout)
        if self._result.stderr:
            yield Chunk("stderr", self._result.stderr)

    def result(self):
        return self._result

    def cancel(self):
        pass


class FakeEngine:
    """networks / services / containers / nodes collections shaped like docker-py's."""

    def __init__(self, networks=(), services=(), containers=(), nodes=()):
        self._networks = list(networks)
        self._services = list(services)
        self._containers = {c.name: c for c in containers}
        self._nodes = list(nodes)
        self.networks = SimpleNamespace(list=self._list_networks)
        self.services = SimpleNamespace(list=lambda filters=None: [
            s for s in self._services if not filters or filters.get("name") in s.name])
        self.containers = SimpleNamespace(get=self._get_container,
                                          list=lambda all=False: list(self._containers.values()))
        self.nodes = SimpleNamespace(list=lambda: list(self._nodes))

    def _list_networks(self, names=None):
        return [n for n in self._networks if not names or n.name in names]

    def _get_container(self, name):
        if name not in self._containers:
            raise docker.errors.NotFound(f"No such container: {name}")
        return self._containers[name]


def network(name, driver="overlay", scope="swarm", attachable=False, encrypted=False, subnet="10.0.1.0/24"):
    options = {"encrypted": ""} if encrypted else {}
    return SimpleNamespace(name=name, id=f"id-{name}", attrs={
        "Name": name, "Driver": driver, "Scope": scope, "Attachable": attachable, "Options": options,
        "IPAM": {"Config": [{"Subnet": subnet}]}})


def service(name, networks=(), running=5, desired=5, mode="vip"):
    tasks = [{"Status": {"State": "running" if i < running else "starting"}} for i in range(desired)]
    return SimpleNamespace(name=name, attrs={"Spec": {
        "TaskTemplate": {"Networks": [{"Target": f"id-{n}"} for n in networks]},
        "EndpointSpec": {"Mode": mode}}}, tasks=lambda filters=None: tasks)


def container(name, networks=(), running=True):
    return SimpleNamespace(name=name, status="running" if running else "exited", attrs={
        "State": {"Running": running}, "Config": {"Labels": {}}, "NetworkSettings": {"Networks": {n: {} for n in networks}}})


def swarm_node(hostname, state="ready"):
    return SimpleNamespace(attrs={"Description": {"Hostname": hostname}, "Status": {"State": state}})


_ids = itertools.count(1)


class FakeSandbox(Sandbox):
    """Nodes manager1, worker1...; exec answers by the first pattern that matches the line."""

    def __init__(self, engine: FakeEngine | None = None, script=None, nodes=("manager1", "worker1")):
        self.id = f"fake{next(_ids)}"
        self.nodes = tuple(Node(n, "manager" if n.startswith("manager") else "worker", "", n) for n in nodes)
        self._engine = engine or FakeEngine()
        self.script = list(script or [])
        self.ran: list[tuple[str, str]] = []
        self.learner_argvs: list[tuple[str, ...]] = []  # what ran as the learner, as argv

    def exec_stream(self, node, cmd, *, timeout=None, learner=False):
        self.node(node)
        if learner:
            assert not isinstance(cmd, str), "a learner's command must reach the sandbox as argv"
            self.learner_argvs.append(tuple(cmd))
        line = cmd if isinstance(cmd, str) else " ".join(cmd)
        self.ran.append((node, line))
        for pattern, result in self.script:
            if re.search(pattern, line):
                if callable(result):
                    result = result(node, line)
                return FakeExecution(result)
        return FakeExecution(ExecResult(0, "", ""))

    def engine(self, node):
        self.node(node)
        return self._engine

    def open_tty(self, node, argv, *, cols=80, rows=24):
        self.node(node)
        assert not isinstance(argv, str), "a terminal's command must reach the sandbox as argv"
        line = " ".join(argv)
        self.ran.append((node, line))
        self.tty = FakeTty(node, line, cols, rows)
        return self.tty

    def state(self):
        return SandboxState(self.id)

    destroyed = False

    def destroy(self):
        self.destroyed = True


class FakeTty(TtySession):
    """An echoing terminal: what is typed comes back; "exit\r" ends it with exit 0."""

    def __init__(self, node, line, cols, rows):
        self.node, self.command, self.sizes = node, line, [(cols, rows)]
        self._out: queue.Queue = queue.Queue()
        self._out.put("/ # ")
        self._outcome = None

    def read(self):
        try:
            text = self._out.get(timeout=5)
        except queue.Empty:  # a test that left its terminal open: end it quietly
            text = None
        if text is None:
            self._outcome = self._outcome or (0, "the session ended (exit 0)")
        return text

    def write(self, text):
        self._out.put(text)
        if text == "exit\r":
            self._out.put(None)

    def resize(self, cols, rows):
        self.sizes.append((cols, rows))

    def close(self):
        self._outcome = (137, "the session was closed")
        self._out.put(None)

    def outcome(self):
        return self._outcome


def ok(stdout="", stderr=""):
    return ExecResult(0, stdout, stderr)


def fail(code=1, stdout="", stderr=""):
    return ExecResult(code, stdout, stderr)


class FactoryBackend(Backend):
    """A Backend over a plain factory (lesson, on_progress) -> Sandbox, as unit tests give one."""

    def __init__(self, factory):
        self._factory = factory
        self.made: dict[str, Sandbox] = {}

    def create(self, lesson, on_progress, pooled=False):
        sandbox = self._factory(lesson, on_progress)
        sandbox.pooled_shape = lesson.shape if pooled else None
        self.made[sandbox.id] = sandbox
        return sandbox

    def attach(self, sandbox_id):
        from labapp.errors import SandboxNotFound

        if sandbox_id not in self.made:
            raise SandboxNotFound(f"no sandbox has the id '{sandbox_id}'")
        return self.made[sandbox_id]
