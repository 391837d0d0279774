"""Lesson texts the tests (and bench/web_scale.py) write for themselves (the shipped lessons
are tested as they are)."""


def step(title: str, sid: str, command: str, check: str, node: str = "manager1") -> str:
    """One step: COMMAND in a block on NODE, CHECK (one check line, without its dash) in its
    check block, and the two hints every step needs."""
    return f"""## {title} {{#{sid}}}

```{node}
{command}
```

```check
- {check}
```

```hint
A nudge.
```

```hint
The answer.
```
"""


def lesson(steps: list[str], title: str = "t", summary: str = "s", kind: str | None = None) -> str:
    """A lesson of STEPS (step() above) on one node."""
    kind_line = f"kind: {kind}\n" if kind else ""
    return f"""---
title: {title}
summary: {summary}
language: en
level: beginner
time: 5
{kind_line}sandbox: {{nodes: 1, managers: 1}}
---

""" + "\n".join(steps)


def one_step_lesson(command: str, check: str) -> str:
    """A challenge of one step on one node (step() above)."""
    return lesson([step("One", "one", command, check)], kind="challenge")
