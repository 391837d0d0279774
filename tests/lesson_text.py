"""Lesson texts the tests write for themselves (the shipped lessons are tested as they are)."""


def one_step_lesson(command: str, check: str) -> str:
    """A challenge of one step on one node: COMMAND in its block, CHECK (one check line,
    without its dash) in its check block, and the two hints every step needs."""
    return f"""---
title: t
summary: s
language: en
level: beginner
time: 5
kind: challenge
sandbox: {{nodes: 1, managers: 1}}
---

## One {{#one}}

```manager1
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
