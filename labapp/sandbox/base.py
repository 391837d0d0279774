"""The Sandbox interface: a disposable swarm of nodes a learner runs commands on."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from .execstream import Chunk

LABEL = "labapp.sandbox"
LABEL_NODE = "labapp.node"
LABEL_ROLE = "labapp.role"
LABEL_CREATED = "labapp.created"
LABEL_OWNER = "labapp.owner"  # the app instance (its data directory) that made the sandbox
LABEL_POOL = "labapp.pool"  # "1" on sandboxes made ahead for the warm pool


def node_plan(count: int, managers: int) -> list[tuple[str, str]]:
    """[(name, role)] of a sandbox of COUNT nodes with MANAGERS managers: manager1..M, then
    worker1..N. The one place node names are made (lessons, sandboxes, the parser)."""
    names = [(f"manager{i}", "manager") for i in range(1, managers + 1)]
    return names + [(f"worker{i}", "worker") for i in range(1, count - managers + 1)]


@dataclass(frozen=True)
class Node:
    """One node of a sandbox: a container running its own dockerd."""

    name: str
    role: str  # "manager" or "worker"
    address: str
    container: str  # container name on the host engine


@dataclass(frozen=True)
class ExecResult:
    """What a finished command left: its exit code and its whole output."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    duration: float = 0.0

    @property
    def output(self) -> str:
        """Stdout then stderr, as one text."""
        return self.stdout + self.stderr

    @property
    def ok(self) -> bool:
        """True when the command exited 0 within its time."""
        return self.exit_code == 0 and not self.timed_out


@dataclass(frozen=True)
class NodeState:
    """A node as the host engine and the swarm see it."""

    name: str
    role: str
    address: str
    running: bool
    swarm_status: str | None = None  # "ready", "down", ... from the manager's node list
    error: str | None = None


@dataclass(frozen=True)
class SandboxState:
    """The state of a whole sandbox at one moment."""

    id: str
    nodes: tuple[NodeState, ...] = field(default_factory=tuple)

    @property
    def ready(self) -> bool:
        """True when every node runs and the swarm sees every node ready."""
        return bool(self.nodes) and all(
            n.running and n.swarm_status == "ready" for n in self.nodes
        )


OnChunk = Callable[[Chunk], None]


class Sandbox(abc.ABC):
    """A learner's disposable swarm. Backends override these few methods."""

    id: str
    nodes: Sequence[Node]

    def node(self, name: str) -> Node:
        """The node called NAME, or NodeNotFound naming the ones that exist."""
        from ..errors import NodeNotFound

        for node in self.nodes:
            if node.name == name:
                return node
        names = ", ".join(n.name for n in self.nodes)
        raise NodeNotFound(f"sandbox {self.id} has no node '{name}' (its nodes: {names})")

    @abc.abstractmethod
    def exec_stream(self, node: str, cmd: Sequence[str] | str, *, timeout: float | None = None,
                    learner: bool = False) -> "Execution":
        """Start CMD on NODE; iterate the returned Execution for its output chunks.

        The app's own commands (and the lessons') run as the node's root; a string is a
        shell line. With LEARNER, CMD is what a learner typed: an argv list (never a shell
        line), run as an unprivileged user of the node with no new privileges."""

    def exec(self, node: str, cmd: Sequence[str] | str, *, timeout: float | None = None,
             on_chunk: OnChunk | None = None, learner: bool = False) -> ExecResult:
        """Run CMD on NODE to its end, passing each chunk to ON_CHUNK as it arrives."""
        execution = self.exec_stream(node, cmd, timeout=timeout, learner=learner)
        for chunk in execution:
            if on_chunk is not None:
                on_chunk(chunk)
        return execution.result()

    def swarm_store(self) -> dict[str, int]:
        """The bytes each manager's swarm store (raft log and snapshots) takes on disk."""
        sizes = {}
        for node in self.nodes:
            if node.role == "manager":
                result = self.exec(node.name, "du -sk /var/lib/docker/swarm 2>/dev/null | cut -f1", timeout=30)
                text = result.stdout.strip()
                sizes[node.name] = int(text) * 1024 if text.isdigit() else 0
        return sizes

    @abc.abstractmethod
    def open_tty(self, node: str, argv: Sequence[str], *, cols: int = 80, rows: int = 24) -> "TtySession":
        """Start a learner's ARGV on NODE with a terminal (docker attach, docker exec -it),
        as exec_stream(learner=True) runs it."""

    @abc.abstractmethod
    def engine(self, node: str):
        """A docker SDK client for the engine inside NODE (for checks that read state)."""

    @abc.abstractmethod
    def state(self) -> SandboxState:
        """Read the state of every node (never changes it)."""

    @abc.abstractmethod
    def destroy(self) -> None:
        """Remove every object the sandbox made; safe to call twice."""


class Execution(abc.ABC):
    """A running command: iterate it for Chunks, then ask for its result()."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Chunk]:
        """Yield output chunks as they arrive, until the command ends or times out."""

    @abc.abstractmethod
    def result(self) -> ExecResult:
        """The command's exit code and output; only after iteration has ended."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Stop the command (its whole process group) on the node."""


class TtySession(abc.ABC):
    """An interactive command on a node, behind a pseudo-terminal: text out, keys in."""

    node: str
    command: str

    @abc.abstractmethod
    def read(self) -> str | None:
        """The terminal's next output (blocks until some arrives); None once it has ended."""

    @abc.abstractmethod
    def write(self, text: str) -> None:
        """Type TEXT into the terminal (keys, pasted text, control characters)."""

    @abc.abstractmethod
    def resize(self, cols: int, rows: int) -> None:
        """Tell the terminal (and the program in it) its new size."""

    @abc.abstractmethod
    def close(self) -> None:
        """End the session: kill what still runs in it. Safe to call twice."""

    @abc.abstractmethod
    def outcome(self) -> tuple[int | None, str]:
        """After the end: (exit code or None, a sentence saying how it ended)."""
