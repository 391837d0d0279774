"""The runner on a fake sandbox: events, expected failures, conditions, both ways, timeouts."""
import re

from labapp.lesson.parser import parse_lesson
from labapp.runner import Runner

from .fakes import FakeEngine, FakeSandbox, fail, network, ok

LESSON = """---
title: t
summary: s
language: en
level: beginner
time: 5
sandbox: {nodes: 2, managers: 1}
---

## Net {#net}

```manager1
docker network create -d overlay --attachable demo
```

```manager1 expect-fail
docker exec nothing ping x
```

```expected
No such container.
```

```worker1 if=ipvs
echo only-with-ipvs
```

```check
- network: {name: demo, attachable: true}
- exit: nonzero
```

## Break {#break}

```manager1
docker network rm demo
false-command
docker never-runs
```

```check
- network: {name: demo, exists: false}
```
"""


def lesson():
    parsed, problems = parse_lesson(LESSON, "t.en.md")
    assert problems == []
    return parsed


def test_solve_step_streams_events_and_checks_state():
    engine = FakeEngine(networks=[])
    box = FakeSandbox(engine, script=[
        (r"network create", lambda n, l: engine._networks.append(network("demo", attachable=True)) or ok("id\n")),
        (r"ping x", fail(1, stderr="ping: bad address 'x'\n")),
    ])
    events = []
    runner = Runner(box, lesson(), {"ipvs": False}, on_event=events.append)
    result = runner.solve_step(lesson().steps[0], both_ways=True)
    assert result.passed, result.as_dict()
    assert [c.passed for c in result.before] == [False]
    assert [e["type"] for e in events] == ["command", "output", "exit", "command", "output", "exit"]
    assert events[4] == {"type": "output", "step": "net", "node": "manager1", "stream": "stderr",
                         "text": "ping: bad address 'x'\n"}
    assert ("worker1", "echo only-with-ipvs") not in box.ran  # if=ipvs skipped on this host
    data = result.as_dict()
    assert data["id"] == "net" and data["status"] == "passed"
    assert {"name", "passed", "reason"} <= set(data["checks"][0])


def test_a_check_that_passes_before_its_step_is_broken():
    engine = FakeEngine(networks=[network("demo", attachable=True)])
    box = FakeSandbox(engine, script=[(r"ping x", fail(1))])
    result = Runner(box, lesson(), {}).solve_step(lesson().steps[0], both_ways=True)
    assert result.status == "failed"
    assert "passes before its step" in result.error and "network demo" in result.error


def test_an_unexpected_failure_stops_the_step_and_says_where():
    engine = FakeEngine(networks=[network("demo")])
    box = FakeSandbox(engine, script=[(r"false-command", fail(127, stderr="sh: false-command: not found\n"))])
    result = Runner(box, lesson(), {}).solve_step(lesson().steps[1])
    assert result.status == "failed"
    assert result.error == "'false-command' on manager1 failed (exit 127): sh: false-command: not found"
    assert ("manager1", "docker never-runs") not in box.ran


def test_notes_follow_the_host():
    text = LESSON.replace("```check\n- network: {name: demo, attachable: true}",
                          "```note if=!ipvs\nno ipvs\n```\n\n```check\n- network: {name: demo, attachable: true}")
    parsed, _ = parse_lesson(text, "t.en.md")
    assert [n.text for n in Runner(FakeSandbox(), parsed, {"ipvs": False}).notes(parsed.steps[0])] == ["no ipvs"]
    assert Runner(FakeSandbox(), parsed, {"ipvs": True}).notes(parsed.steps[0]) == []


def test_a_step_out_of_time_is_an_error_not_a_hang():
    box = FakeSandbox(FakeEngine())
    runner = Runner(box, lesson(), {}, step_timeout=0)
    result = runner.solve_step(lesson().steps[0])
    assert result.status == "error" and "ran out of its 0 s" in result.error


def test_a_console_line_runs_as_the_learner_argv_and_pipes_in_the_app():
    from labapp.console import judge

    sandbox = FakeSandbox(script=[(r"^docker ps", ok("NAMES\nalpine1\nweb.1\nweb.2\n"))])
    events = []
    runner = Runner(sandbox, parse_lesson(LESSON, "t.en.md")[0], on_event=events.append)
    result = runner.run_console("manager1", "docker ps | grep web | wc -l", judge("docker ps | grep web | wc -l"), 30)
    assert sandbox.learner_argvs == [("docker", "ps")]  # the filters never reached the node
    assert result.stdout.strip() == "2" and result.exit_code == 0
    assert [e["type"] for e in events][0] == "command" and events[0]["command"] == "docker ps | grep web | wc -l"
    # grep finding nothing exits 1, as in a shell pipeline whose last command is grep
    none = runner.run_console("manager1", "docker ps | grep nothing", judge("docker ps | grep nothing"), 30)
    assert none.exit_code == 1 and none.stdout == ""


def test_output_past_the_cap_stops_the_command_and_says_so():
    from labapp.runner import MAX_OUTPUT

    huge = "x" * (MAX_OUTPUT + 5000)
    sandbox = FakeSandbox(script=[(r"flood", ok(huge, "late stderr"))])
    runner = Runner(sandbox, parse_lesson(LESSON, "t.en.md")[0])
    result = runner.run_command("s", "manager1", "flood", 30)
    assert len(result.stdout) == MAX_OUTPUT
    assert result.stderr.strip() == f"(output cut at {MAX_OUTPUT // 1024} KiB: the command was stopped)"


def test_a_filters_note_reaches_the_page_as_a_message_said_in_its_language():
    from labapp.console import judge
    from labapp.i18n import Message, localized

    sandbox = FakeSandbox(script=[(r"^docker ps", ok("line\n" * 250_000))])  # more than sort reads (1 MiB)
    events = []
    runner = Runner(sandbox, parse_lesson(LESSON, "t.en.md")[0], on_event=events.append)
    result = runner.run_console("manager1", "docker ps | sort | head -n 1", judge("docker ps | sort | head -n 1"), 30)
    assert result.stdout == "line\n"
    notes = [e["text"] for e in events if e["type"] == "output" and e["stream"] == "stderr" and e["text"] != "\n"]
    assert len(notes) == 1 and isinstance(notes[0], Message)
    assert notes[0].startswith("(sort: ") and "1 MiB" in notes[0], notes[0]
    korean = localized({"text": notes[0]}, "ko")["text"]
    assert korean.startswith("(sort: ") and re.search(r"[\uac00-\ud7a3]", korean), korean


def test_a_pipeline_whose_command_the_node_stopped_at_its_keep_limit_says_so():
    """Through filters, little is shown of a command that printed without end; the node stops
    it at 2 MiB (its result ends with KEPT_NOTE, which no chunk carries): the learner is told
    that what they see comes from that much only."""
    from labapp.console import judge
    from labapp.sandbox.base import Chunk, ExecResult, Execution
    from labapp.sandbox.nodeexec import KEPT_NOTE

    class Endless(Execution):
        def __iter__(self):
            yield Chunk("stdout", "noise\n" * 1000 + "web.1\n")

        def result(self):
            return ExecResult(None, "noise\n" * 1000 + "web.1\n", KEPT_NOTE)

        def cancel(self):
            pass

    sandbox = FakeSandbox()
    sandbox.exec_stream = lambda node, cmd, timeout=None, learner=False: Endless()
    events = []
    runner = Runner(sandbox, parse_lesson(LESSON, "t.en.md")[0], on_event=events.append)
    result = runner.run_console("manager1", "docker logs web | grep web", judge("docker logs web | grep web"), 30)
    assert result.stdout == "web.1\n"
    shown = [e["text"] for e in events if e["type"] == "output" and e["stream"] == "stderr"]
    assert shown == [KEPT_NOTE] and result.stderr == KEPT_NOTE
