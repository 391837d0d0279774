"""Lesson files: Markdown with YAML front matter, steps as `## Title {#id}` sections.

Inside a step, fenced blocks carry meaning by their info string:

    ```manager1                 commands the learner runs on manager1 (one per line)
    ```worker1 expect-fail      ... which are meant to fail (the article's first two steps)
    ```manager1 if=!ipvs        ... only on a host without IPVS (also if=ipvs, if=esp, ...)
    ```worker1 root             ... as root of the node's own user namespace (nsenter)
    ```setup manager1           run before the step (to start a challenge broken)
    ```solution manager1        the solution, when it differs from the commands shown
    ```check                    YAML list of named checks
    ```hint / ```expected       Markdown: a hint (several: a nudge first, the answer last);
                                what the learner should see
    ```note if=!esp             Markdown shown when the condition holds
    ```note told                a claim this sandbox cannot show: told, not shown
    ```text / json / yaml / output / console, or no info: shown as they are

Parsing collects every problem with its file and line instead of stopping at the first;
the lesson-wide rules (an expected block for an expect-fail block, a branch for each
conditional note, a bold mark on a told note, two hints in a challenge, root for nsenter,
a port for reaching a service) are in _lint_step.

It is one module of some 430 lines on purpose: the block grammar, the check YAML and the
step lint share one problem collector and one pass over the file, and each part is short;
split apart they would pass that state between modules for no reader's gain.
"""
from __future__ import annotations

import os
import re

import yaml

from ..errors import LabappError
from ..sandbox.base import node_plan
from .model import CONDITIONS, LANGUAGES, CheckSpec, Command, CommandBlock, Lesson, Note, Problem, Step

FRONT_KEYS = {"slug", "title", "summary", "language", "level", "time", "sandbox", "kind"}
REQUIRED_KEYS = ("title", "summary", "language", "level", "time", "sandbox")
SANDBOX_KEYS = {"nodes", "managers"}
LEVELS = ("beginner", "intermediate", "advanced")
KINDS = ("guided", "challenge")
DISPLAY = {"", "text", "json", "yaml", "output", "console"}
TEXT_BLOCKS = {"hint", "expected", "note"}
BLOCK_FLAGS = ("expect-fail", "root")
# Commands that enter another network namespace: only root of the node's user namespace may
# (a ```NODE root block); as the node's app user they fail with "Operation not permitted".
_NEEDS_ROOT = re.compile(r"(^|[;&|(]\s*|\$\()\s*(nsenter|ip\s+netns\s+exec)\b")
_SERVICE_NAME = re.compile(r"\bdocker\s+service\s+create\b.*?\s--name[= ]([A-Za-z0-9][\w.-]*)")
_HEADING = re.compile(r"^##\s+(?P<title>.*?)\s*(?:\{#(?P<id>[A-Za-z0-9][\w-]*)\})?\s*$")
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class LessonError(LabappError):
    """A lesson file has problems; the message lists each with its file and line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """(front matter, body, line of the body's first line); front matter None if absent."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1:]), index + 2
    return None, text, 1


def load_lesson(path: str) -> Lesson:
    """The lesson at PATH, or LessonError listing every problem."""
    lesson, problems = parse_file(path)
    if problems:
        raise LessonError(problems)
    return lesson


def parse_file(path: str) -> tuple[Lesson | None, list[Problem]]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(path, 1, f"cannot read the file: {exc}")]
    return parse_lesson(text, path)


def parse_lesson(text: str, path: str = "<lesson>") -> tuple[Lesson | None, list[Problem]]:
    """Parse a lesson; return it (None if it cannot be built) and every problem found."""
    from ..checks import validate_check

    problems: list[Problem] = []

    def problem(line: int, message: str) -> None:
        problems.append(Problem(path, line, message))

    front, body, body_line = split_front_matter(text)
    if front is None:
        problem(1, "no front matter: start the file with a '---' line, the lesson's keys, and '---'")
        return None, problems
    meta = _front_matter(front, problem)
    if meta is None:
        return None, problems
    stem = os.path.basename(path).split(".")[0]
    slug = str(meta.get("slug") or stem)
    language = meta.get("language")
    if language not in LANGUAGES:
        problem(meta.line("language"), f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    suffix = os.path.basename(path).split(".")
    if len(suffix) >= 3 and language in LANGUAGES and suffix[-2] != language:
        problem(meta.line("language"), f"language is {language!r} but the file name says {suffix[-2]!r}")
    level = meta.get("level")
    if level not in LEVELS:
        problem(meta.line("level"), f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    kind = meta.get("kind", "guided")
    if kind not in KINDS:
        problem(meta.line("kind"), f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    minutes = meta.get("time")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
        problem(meta.line("time"), f"time is the estimated minutes, a whole number above 0, not {minutes!r}")
        minutes = 0
    nodes, managers = 3, 1
    sandbox = meta.get("sandbox")
    if isinstance(sandbox, dict):
        for key in sandbox:
            if key not in SANDBOX_KEYS:
                problem(meta.line("sandbox"), f"unknown key sandbox.{key} (known: {', '.join(sorted(SANDBOX_KEYS))})")
        nodes, managers = sandbox.get("nodes", 3), sandbox.get("managers", 1)
        if not (isinstance(nodes, int) and isinstance(managers, int) and 1 <= managers <= nodes <= 9):
            problem(meta.line("sandbox"), "sandbox needs 1 to 9 nodes and 1 to that many managers")
            nodes, managers = 3, 1
    elif "sandbox" in meta.data:
        problem(meta.line("sandbox"), "sandbox must be a mapping like {nodes: 3, managers: 1}")
    node_names = [name for name, _ in node_plan(nodes, managers)]

    intro, steps = _steps(body, body_line, node_names, problem, validate_check)
    services = _services(steps)
    for step in steps:
        _lint_step(step, str(kind), services, problem)
    if not steps:
        problem(body_line, "no steps: each step is a '## Title {#step-id}' heading")
    lesson = Lesson(slug=slug, language=str(language), title=str(meta.get("title", "")),
                    summary=str(meta.get("summary", "")), level=str(level), minutes=minutes,
                    nodes=nodes, managers=managers, intro=intro, steps=tuple(steps), path=path,
                    kind=str(kind))
    return lesson, problems


class _Meta:
    def __init__(self, data: dict, lines: dict[str, int]):
        self.data, self._lines = data, lines

    def get(self, key, default=None):
        return self.data.get(key, default)

    def line(self, key: str) -> int:
        return self._lines.get(key, 2)


def _front_matter(front: str, problem) -> _Meta | None:
    try:
        node = yaml.compose(front, Loader=yaml.SafeLoader)
        data = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem((mark.line + 2) if mark else 2, f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}")
        return None
    if not isinstance(data, dict):
        problem(2, "front matter must be a YAML mapping of keys (title, summary, ...)")
        return None
    lines = {k.value: k.start_mark.line + 2 for k, _ in node.value} if node is not None else {}
    meta = _Meta(data, lines)
    for key in data:
        if key not in FRONT_KEYS:
            problem(meta.line(key), f"unknown key '{key}' in front matter (known: {', '.join(sorted(FRONT_KEYS))})")
    for key in REQUIRED_KEYS:
        if key not in data:
            problem(2, f"front matter has no '{key}'")
    return meta


def _steps(body: str, first_line: int, node_names, problem, validate_check):
    """Split the body into the intro and steps; parse each step's fenced blocks."""
    lines = body.split("\n")
    sections: list[tuple[int, str, str | None, list[tuple[int, str]]]] = []
    intro: list[str] = []
    current = None
    fence = None
    for offset, raw in enumerate(lines):
        lineno = first_line + offset
        match = _FENCE.match(raw.strip()) if raw.startswith(("`", "~")) else None
        if match and (fence is None or match["fence"][0] == fence[0] and not match["info"]):
            fence = None if fence else match["fence"]
        heading = _HEADING.match(raw) if fence is None and raw.startswith("## ") else None
        if heading:
            current = (lineno, heading["title"], heading["id"], [])
            sections.append(current)
            continue
        if current is None:
            intro.append(raw)
        else:
            current[3].append((lineno, raw))
    steps, seen = [], set()
    for lineno, title, step_id, content in sections:
        if not step_id:
            problem(lineno, f"step heading needs an id: '## {title} {{#step-id}}'")
            continue
        if not _STEP_ID.match(step_id):
            problem(lineno, f"step id '{step_id}' must be lowercase letters, digits and dashes")
        if step_id in seen:
            problem(lineno, f"step id '{step_id}' is used twice")
        seen.add(step_id)
        steps.append(_step(lineno, title, step_id, content, node_names, problem, validate_check))
    return "\n".join(intro).strip(), steps


def _services(steps) -> set[str]:
    """The names of the services a lesson's commands create (setup and solutions included)."""
    names = set()
    for step in steps:
        for block in (*step.blocks, *step.setup, *step.solution):
            for command in block.commands:
                names.update(_SERVICE_NAME.findall(command.text))
    return names


def _lint_step(step: Step, kind: str, services: set[str], problem) -> None:
    """The rules that look at a whole step (docs/lessons.md, "Rules the linter enforces")."""
    failing = [b for b in step.blocks if b.expect_fail]
    if failing and not step.expected:
        problem(failing[0].line, f"step '{step.id}' has an expect-fail block but no ```expected block: "
                                 "say what the learner should see when it fails")
    branches = {b.when for b in (*step.blocks, *step.setup, *step.solution)} | {c.when for c in step.checks}
    for note in step.notes:
        if note.when and note.when not in branches:
            problem(note.line, f"a note if={note.when} but no command block or check of step '{step.id}' "
                               f"has if={note.when} / when: {note.when}: say what differs on such a host, "
                               "or drop the condition")
    for note in step.notes:
        if note.told and not re.match(r"\*\*[^*\n]+\*\*", note.text):
            problem(note.line, "a ```note told opens with its mark in bold (**Told, not shown:** ...): the page "
                               "shows a note as written, so the learner reads that it is told, not shown")
    if kind == "challenge" and len(step.hints) < 2:
        problem(step.line, f"challenge step '{step.id}' needs two ```hint blocks: a nudge first, "
                           "then the answer")
    for block in (*step.blocks, *step.setup, *step.solution):
        if block.root:
            continue
        for command in block.commands:
            if _NEEDS_ROOT.search(command.text):
                problem(command.line, "nsenter needs root of the node's user namespace: tag the block "
                                      f"```{block.node} root")
    for spec in step.checks:
        if spec.args.get("same_as_setup") and not step.setup:
            problem(spec.line, f"same_as_setup compares with what the step's setup made, but step '{step.id}' "
                               "has no ```setup block")
        if spec.kind == "reaches" and "port" not in spec.args and spec.args.get("target") in services:
            problem(spec.line, f"reaches {spec.args['target']} by ping, but it is a service: on a host "
                               "with IPVS the client's own node answers a ping to its virtual IP; give "
                               "the service's port (port: 80)")


def _step(lineno, title, step_id, content, node_names, problem, validate_check) -> Step:
    parts = {"blocks": [], "setup": [], "solution": [], "checks": [], "notes": [], "hints": []}
    texts = {"expected": ""}
    text_lines: list[str] = []  # the step's Markdown, command blocks left in place
    body: list = []  # the same as pieces: Markdown text, and each command block's index
    prose: list[str] = []
    index = 0
    while index < len(content):
        line_no, raw = content[index]
        match = _FENCE.match(raw) if raw.startswith(("`", "~")) else None
        if not match:
            text_lines.append(raw)
            prose.append(raw)
            index += 1
            continue
        end = index + 1
        while end < len(content) and content[end][1].strip() != match["fence"]:
            end += 1
        if end >= len(content):
            problem(line_no, "this fenced block is never closed")
        block = content[index + 1:end]
        info = match["info"].split()
        blocks_before = len(parts["blocks"])
        keep = _block(line_no, info, block, node_names, parts, texts, problem, validate_check)
        if keep:
            text_lines.extend(raw for _, raw in content[index:end + 1])
        if len(parts["blocks"]) > blocks_before:  # a command block: a Run widget in its place
            body.extend(["\n".join(prose), blocks_before])
            prose = []
        elif keep:
            prose.extend(raw for _, raw in content[index:end + 1])
        index = end + 1
    if not parts["checks"]:
        problem(lineno, f"step '{step_id}' has no check: add a ```check block")
    body.append("\n".join(prose))
    return Step(id=step_id, title=title, text="\n".join(text_lines).strip(), line=lineno,
                body=tuple(piece for piece in body if not isinstance(piece, str) or piece.strip()),
                blocks=tuple(parts["blocks"]), setup=tuple(parts["setup"]),
                solution=tuple(parts["solution"]), checks=tuple(parts["checks"]),
                hints=tuple(parts["hints"]), expected=texts["expected"], notes=tuple(parts["notes"]))


def _block(line_no, info, block, node_names, parts, texts, problem, validate_check) -> bool:
    """Handle one fenced block; return True if it stays in the step's text."""
    words = list(info)
    head = words.pop(0) if words else ""
    when = None
    flags = []
    for word in words:
        if word.startswith("if="):
            when = word[3:]
            if when.lstrip("!") not in CONDITIONS:
                problem(line_no, f"unknown condition '{when}' (known: {', '.join(CONDITIONS)}, each may start with !)")
        else:
            flags.append(word)
    body = "\n".join(raw for _, raw in block)
    if head in DISPLAY:
        if head == "" and any(raw.lstrip().startswith(("docker ", "$ docker")) for _, raw in block):
            problem(line_no, "a command with no node: tag the block with the node it runs on, e.g. ```manager1")
        return True
    if head in TEXT_BLOCKS:
        for flag in flags:
            if not (head == "note" and flag == "told"):
                problem(line_no, f"unknown flag '{flag}' on a ```{head} block"
                                 + (" (known: told, if=CONDITION)" if head == "note" else ""))
        if head != "note" and when:
            problem(line_no, f"a ```{head} block takes no condition; use a ```note if={when}")
        if head == "note":
            parts["notes"].append(Note(body.strip(), when, "told" in flags, line_no))
        elif head == "hint":
            parts["hints"].append(body.strip())
        else:
            if texts[head]:
                problem(line_no, f"a second ```{head} block in this step: say it all in one")
            texts[head] = body.strip()
        return False
    if head == "check":
        if flags:
            problem(line_no, f"unknown flag '{flags[0]}' on a ```check block (give 'when:' or 'rule:' to a check)")
        parts["checks"].extend(_checks(line_no, body, when, problem, validate_check, node_names))
        return False
    kind = "blocks"
    if head in ("setup", "solution"):
        kind = head
        if not flags:
            problem(line_no, f"a ```{head} block needs the node it runs on, e.g. ```{head} manager1")
            return False
        head = flags.pop(0)
    expect_fail, root = "expect-fail" in flags, "root" in flags
    for flag in flags:
        if flag not in BLOCK_FLAGS:
            problem(line_no, f"unknown flag '{flag}' on a command block (known: {', '.join(BLOCK_FLAGS)}, "
                             "if=CONDITION)")
    if head not in node_names:
        problem(line_no, f"unknown node '{head}' (this lesson's sandbox has {', '.join(node_names)}; "
                         "display blocks use text, json, yaml, output or console)")
        return True
    commands = _commands(block)
    if not commands:
        problem(line_no, f"the block for {head} has no command")
    parts[kind].append(CommandBlock(head, tuple(commands), line_no, expect_fail, when, root))
    return kind == "blocks"


def _commands(block) -> list[Command]:
    """One command per line; a trailing backslash continues it; # lines are comments."""
    commands, pending, start = [], "", 0
    for line_no, raw in block:
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            start = line_no
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        commands.append(Command(pending + stripped, start))
        pending = ""
    if pending:
        commands.append(Command(pending.strip(), start))
    return commands


def _reads_output(spec: CheckSpec) -> bool:
    """True for a check kind that reads the step's output (an unknown kind is reported elsewhere)."""
    from ..checks import CHECKS

    kind = CHECKS.get(spec.kind)
    return kind is not None and kind.reads == "output"


def _checks(line_no, body, when, problem, validate_check, node_names) -> list[CheckSpec]:
    try:
        node = yaml.compose(body, Loader=yaml.SafeLoader)
        data = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem(line_no + 1 + (mark.line if mark else 0), f"check block is not valid YAML: {getattr(exc, 'problem', exc)}")
        return []
    if not isinstance(data, list):
        problem(line_no, "a check block is a YAML list: '- kind: arguments'")
        return []
    specs = []
    for item, item_node in zip(data, node.value):
        line = line_no + 1 + item_node.start_mark.line
        if not isinstance(item, dict):
            problem(line, f"each check is a mapping like '- output_contains: text', not {item!r}")
            continue
        item = dict(item)
        item_when = item.pop("when", when)
        rule = item.pop("rule", False)
        if item_when is not None and str(item_when).lstrip("!") not in CONDITIONS:
            problem(line, f"unknown condition '{item_when}' (known: {', '.join(CONDITIONS)}, each may start with !)")
        if not isinstance(rule, bool):
            problem(line, f"'rule' is true or false, not {rule!r}")
            rule = False
        if len(item) != 1:
            problem(line, f"each check names one kind (and maybe 'when', 'rule'); this one has "
                          f"{', '.join(map(str, item)) or 'none'}")
            continue
        (kind, args), = item.items()
        spec = CheckSpec(str(kind), args if isinstance(args, dict) else {"value": args}, line,
                         str(item_when) if item_when is not None else None, rule)
        for message in validate_check(spec, node_names):
            problem(line, message)
        if rule and _reads_output(spec):
            problem(line, f"a rule reads the swarm, not the output: '{kind}' cannot be a rule")
        specs.append(spec)
    return specs
