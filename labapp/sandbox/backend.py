"""Where a lab's sandboxes come from. Backend is the contract (as JupyterHub's Spawner is
for notebooks): make, find, re-attach and remove sandboxes; SwarmBackend makes real swarms
on the Docker engine, each labelled with the app instance that made it, so that a restart
finds its own sandboxes and leaves other instances' alone."""
from __future__ import annotations

import abc
import dataclasses
import threading
from typing import Callable, Collection

from ..errors import SandboxError
from .base import LABEL_OWNER, LABEL_POOL, Sandbox

Progress = Callable[[str], None]
ANY_OWNER = frozenset({"*"})  # Backend.existing(owners=ANY_OWNER): every instance's sandboxes
POOL_CPU_SHARES = 256  # a pooled sandbox's CPU weight until a learner takes it (a learner's: 1024)


class Backend(abc.ABC):
    """Makes, finds and re-attaches sandboxes for one app instance (its owner id)."""

    owner = ""

    @abc.abstractmethod
    def create(self, lesson, on_progress: Progress, pooled: bool = False) -> Sandbox:
        """A ready sandbox for LESSON (its nodes and managers), reporting stages to ON_PROGRESS;
        POOLED ones are made ahead for the warm pool."""

    @abc.abstractmethod
    def attach(self, sandbox_id: str) -> Sandbox:
        """The existing sandbox SANDBOX_ID, or SandboxNotFound."""

    def existing(self, owners: Collection[str] | None = None) -> list[dict]:
        """This instance's sandboxes (OWNERS: those of these instances instead; ANY_OWNER:
        every instance's): [{id, owner, pooled, shape, created, nodes: [{name, status}]}]."""
        return []

    def destroy(self, sandbox_id: str) -> None:
        self.attach(sandbox_id).destroy()

    def healthy(self, sandbox: Sandbox) -> bool:
        """True when every node of SANDBOX still runs (a quick look, no command on a node)."""
        return True

    def promote(self, sandbox: Sandbox) -> None:
        """A pooled sandbox goes to a learner: give it a learner's share of the CPU."""


class SwarmBackend(Backend):
    """Real swarms (sandbox/swarm.py) on the host engine, owned by OWNER."""

    def __init__(self, settings, owner: str, base_url: str | None = None, name: str = ""):
        """BASE_URL: the engine (default: DOCKER_HOST or the default socket); NAME: its name in
        the sandboxes' labapp.engine label, when the lab has several (sandbox/multi.py)."""
        self.settings = settings
        self.owner = owner
        self.base_url = base_url
        self.name = name
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        from ..engine import connect

        with self._lock:
            if self._client is None:
                self._client = connect(base_url=self.base_url, tls_dir=self.settings.engine_tls_dir)
            return self._client

    def create(self, lesson, on_progress, pooled=False, avoid=None):
        """AVOID(): subnets to keep clear of besides this engine's (other engines on this machine)."""
        from .swarm import SwarmSandbox

        self._refuse_weak_nodes()
        labels = {LABEL_OWNER: self.owner}
        if self.name:
            labels["labapp.engine"] = self.name
        limits = self.settings.limits()
        if pooled:
            labels[LABEL_POOL] = lesson.shape
            # Waiting swarms yield the CPU to working ones (weight only: idle CPU is theirs).
            limits = dataclasses.replace(limits, cpu_shares=POOL_CPU_SHARES)
        return SwarmSandbox.create(self.client, self.settings, nodes=lesson.nodes, managers=lesson.managers,
                                   progress=on_progress, labels=labels, limits=limits, avoid=avoid)

    def _refuse_weak_nodes(self) -> None:
        """Learners get hardened nodes, or none unless the operator allowed weak ones
        (LABAPP_ALLOW_WEAK_NODES=1, `labapp serve --allow-weak-nodes`)."""
        from .images import node_image_ref
        from .probe import node_security

        recipe = node_security(self.client, node_image_ref(self.settings), self.settings)
        if recipe.weak and not self.settings.allow_weak_nodes:
            raise SandboxError(f"this lab host cannot harden its nodes ({recipe.name} recipe), and its "
                               "operator has not allowed weak nodes: no sandbox is made",
                               hint="the operator runs 'labapp doctor' to see why")

    def attach(self, sandbox_id):
        from .swarm import SwarmSandbox

        return SwarmSandbox.attach(self.client, sandbox_id)

    def existing(self, owners=None):
        from .swarm import SwarmSandbox

        owners = {self.owner} if owners is None else owners
        found = []
        for entry in SwarmSandbox.list(self.client):
            labels = entry.get("labels") or {}
            owner = labels.get(LABEL_OWNER)
            if owners is not ANY_OWNER and owner not in owners:
                continue
            found.append({"id": entry["id"], "owner": owner, "pooled": bool(labels.get(LABEL_POOL)),
                          "shape": labels.get(LABEL_POOL) or None, "created": entry["created"],
                          "nodes": entry["nodes"]})
        return found

    def destroy(self, sandbox_id):
        from .swarm import SwarmSandbox

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
