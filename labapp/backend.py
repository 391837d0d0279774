"""Where the lab's sandboxes come from: real swarms on the Docker engine, each labelled
with the app instance that made it (so a restart finds its own and leaves others alone)."""
from __future__ import annotations

import dataclasses
import secrets
import threading
from typing import Callable

from .datadir import kept
from .lesson.model import Lesson
from .sandbox.base import LABEL_OWNER, LABEL_POOL, Sandbox

Progress = Callable[[str], None]
POOL_CPU_SHARES = 256  # a pooled sandbox's CPU weight until a learner takes it (a learner's: 1024)


def shape(lesson: Lesson) -> str:
    """A lesson's swarm shape, e.g. '3x1' (nodes x managers): sandboxes of one shape are alike."""
    return f"{lesson.nodes}x{lesson.managers}"


class Backend:
    """Makes, finds and re-attaches sandboxes. The real one is SwarmBackend; unit tests
    wrap a fake factory in FactoryBackend."""

    owner = ""

    def create(self, lesson: Lesson, on_progress: Progress, pooled: bool = False) -> Sandbox:
        raise NotImplementedError

    def attach(self, sandbox_id: str) -> Sandbox:
        raise NotImplementedError

    def existing(self) -> list[dict]:
        """This instance's sandboxes on the engine: [{id, pooled, shape, created, nodes}]."""
        return []

    def destroy(self, sandbox_id: str) -> None:
        self.attach(sandbox_id).destroy()

    def healthy(self, sandbox: Sandbox) -> bool:
        """True when every node of SANDBOX still runs (a quick look, no command on a node)."""
        return True

    def promote(self, sandbox: Sandbox) -> None:
        """A pooled sandbox goes to a learner: give it a learner's share of the CPU."""


class FactoryBackend(Backend):
    """A plain factory (lesson, on_progress) -> Sandbox, as unit tests give one."""

    def __init__(self, factory: Callable[[Lesson, Progress], Sandbox]):
        self._factory = factory
        self.made: dict[str, Sandbox] = {}

    def create(self, lesson, on_progress, pooled=False):
        sandbox = self._factory(lesson, on_progress)
        sandbox.pooled_shape = shape(lesson) if pooled else None
        self.made[sandbox.id] = sandbox
        return sandbox

    def attach(self, sandbox_id):
        from .errors import SandboxNotFound

        if sandbox_id not in self.made:
            raise SandboxNotFound(f"no sandbox has the id '{sandbox_id}'")
        return self.made[sandbox_id]


class SwarmBackend(Backend):
    def __init__(self, settings, owner: str):
        self.settings = settings
        self.owner = owner
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        from .engine import connect

        with self._lock:
            if self._client is None:
                self._client = connect()
            return self._client

    def create(self, lesson, on_progress, pooled=False):
        from .sandbox import SwarmSandbox

        self._refuse_weak_nodes()
        labels = {LABEL_OWNER: self.owner}
        limits = self.settings.limits()
        if pooled:
            labels[LABEL_POOL] = shape(lesson)
            # Waiting swarms yield the CPU to working ones (weight only: idle CPU is theirs).
            limits = dataclasses.replace(limits, cpu_shares=POOL_CPU_SHARES)
        return SwarmSandbox.create(self.client, self.settings, nodes=lesson.nodes, managers=lesson.managers,
                                   progress=on_progress, labels=labels, limits=limits)

    def _refuse_weak_nodes(self) -> None:
        """Learners get hardened nodes, or none unless the operator allowed weak ones
        (LABAPP_ALLOW_WEAK_NODES=1, `labapp serve --allow-weak-nodes`)."""
        import os

        from .errors import SandboxError
        from .sandbox.images import node_image_ref
        from .sandbox.probe import node_security

        recipe = node_security(self.client, node_image_ref(self.settings), self.settings)
        if recipe.weak and os.environ.get("LABAPP_ALLOW_WEAK_NODES") != "1":
            raise SandboxError(f"this lab host cannot harden its nodes ({recipe.name} recipe), and its "
                               "operator has not allowed weak nodes: no sandbox is made",
                               hint="the operator runs 'labapp doctor' to see why")

    def attach(self, sandbox_id):
        from .sandbox import SwarmSandbox

        return SwarmSandbox.attach(self.client, sandbox_id)

    def existing(self):
        from .sandbox import SwarmSandbox

        found = []
        for entry in SwarmSandbox.list(self.client):
            labels = entry.get("labels") or {}
            if labels.get(LABEL_OWNER) != self.owner:
                continue
            found.append({"id": entry["id"], "pooled": bool(labels.get(LABEL_POOL)),
                          "shape": labels.get(LABEL_POOL) or None, "created": entry["created"],
                          "nodes": entry["nodes"]})
        return found

    def destroy(self, sandbox_id):
        from .sandbox import SwarmSandbox

        SwarmSandbox(self.client, sandbox_id, []).destroy()

    def promote(self, sandbox):
        shares = self.settings.limits().cpu_shares
        for node in sandbox.nodes:
            self.client.api.update_container(node.container, cpu_shares=shares)

    def healthy(self, sandbox):
        import docker.errors

        try:
            return all(self.client.api.inspect_container(n.container)["State"]["Running"] for n in sandbox.nodes)
        except docker.errors.APIError:
            return False


def instance_id(data_dir: str) -> str:
    """This app instance's id, kept in its data directory (sandbox owner label)."""
    return kept(data_dir, "instance_id", lambda: secrets.token_hex(6), private=False)
