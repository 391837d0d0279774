"""The lesson model: frozen dataclasses, built by the parser, read by the runner and the web."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..sandbox.base import node_plan

CONDITIONS = ("ipvs", "esp", "vxlan")  # what the probe reports; `if=!esp` negates
LANGUAGES = ("en", "ko")  # the languages of lessons and of the app's own words
DEFAULT_LANGUAGE = "en"


def condition_holds(when: str | None, kernel: dict | None) -> bool:
    """True when WHEN (e.g. 'ipvs', '!esp', None) holds for the probe's KERNEL booleans."""
    if not when:
        return True
    kernel = kernel or {}
    negate = when.startswith("!")
    value = bool(kernel.get(when.lstrip("!")))
    return not value if negate else value


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a lesson file, at its place."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Command:
    """One command line of a block (continuation lines joined)."""

    text: str
    line: int


@dataclass(frozen=True)
class CommandBlock:
    """A fenced block of commands for one node: what the learner runs (or a setup/solution)."""

    node: str
    commands: tuple[Command, ...]
    line: int
    expect_fail: bool = False
    when: str | None = None
    # Run as root of the node's own user namespace (a ```manager1 root block): what looking
    # inside a network namespace needs (nsenter). Only a lesson file can ask for it; see
    # sandbox/nodeexec.py as_node_root and docs/lessons.md.
    root: bool = False

    def signature(self) -> tuple:
        """What must match between language versions: node, flags, commands."""
        return (self.node, self.expect_fail, self.when, self.root, tuple(c.text for c in self.commands))


@dataclass(frozen=True)
class CheckSpec:
    """A named check with its arguments, as written in a ```check block."""

    kind: str
    args: dict = field(hash=False)
    line: int = 0
    when: str | None = None
    # A rule (`rule: true`): what must stay true while the learner works (a challenge's
    # "keep legacy", "api keeps its 2 tasks"). It holds before the step as after it; a state
    # check that is not a rule must fail before its step (--both-ways).
    rule: bool = False

    def signature(self) -> tuple:
        return (self.kind, repr(sorted(self.args.items())), self.when, self.rule)


@dataclass(frozen=True)
class Note:
    """A note shown to the learner when its condition holds (e.g. no IPVS on this host)."""

    text: str
    when: str | None = None
    told: bool = False  # ```note told: a claim this sandbox cannot show, said as told, not shown
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    text: str  # Markdown, with the command blocks left in place
    line: int
    body: tuple = ()  # the text as pieces: Markdown, and in its place each command block's index
    blocks: tuple[CommandBlock, ...] = ()
    setup: tuple[CommandBlock, ...] = ()
    solution: tuple[CommandBlock, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    hints: tuple[str, ...] = ()  # in order: a nudge first, the answer last
    expected: str = ""
    notes: tuple[Note, ...] = ()

    @property
    def hint(self) -> str:
        """The first hint (the nudge); "" when the step has none."""
        return self.hints[0] if self.hints else ""

    def solution_blocks(self) -> tuple[CommandBlock, ...]:
        """The solution: its own blocks where the step has them, else the step's commands."""
        return self.solution or self.blocks

    def signature(self) -> tuple:
        return (self.id,
                tuple(b.signature() for b in self.blocks),
                tuple(b.signature() for b in self.setup),
                tuple(b.signature() for b in self.solution),
                tuple(c.signature() for c in self.checks),
                tuple((n.when, n.told) for n in self.notes), len(self.hints))


@dataclass(frozen=True)
class Lesson:
    slug: str
    language: str
    title: str
    summary: str
    level: str
    minutes: int
    nodes: int
    managers: int
    intro: str
    steps: tuple[Step, ...]
    path: str
    kind: str = "guided"  # or "challenge"

    @property
    def node_names(self) -> list[str]:
        return [name for name, _ in node_plan(self.nodes, self.managers)]

    @property
    def shape(self) -> str:
        """The swarm's shape, e.g. '3x1' (nodes x managers): sandboxes of one shape are alike."""
        return f"{self.nodes}x{self.managers}"

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
