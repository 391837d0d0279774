"""The runner's part in issue 12, on a fake sandbox: root blocks are wrapped (and only
they), a step's setup leaves a record its rules compare with, rules hold both ways, and a
capture runs alone after the other checks."""
import re
import shlex
from types import SimpleNamespace

from labapp.lesson.parser import parse_lesson
from labapp.runner import SETUP_RECORDS, Runner
from labapp.sandbox.nodeexec import as_node_root

from .fakes import FakeEngine, FakeSandbox, container, fail, network, ok

LESSON = """---
title: t
summary: s
language: en
level: beginner
time: 5
kind: challenge
sandbox: {nodes: 2, managers: 1}
---

## Fix it {#fix}

```setup manager1
docker service create --name api nginx
docker run -d --name legacy alpine sleep 1d
```

```manager1 root
nsenter --net=/run/docker/netns/1-abc ip -br link
```

```manager1
docker network connect shared legacy
```

```check
- container: {name: legacy, networks: [shared]}
- rule: true
  service: {name: api, same_as_setup: true}
- rule: true
  container: {name: legacy, same_as_setup: true}
- capture: {node: manager1, filter: "udp port 4789", during: {container: legacy, target: api, port: 80}}
```

```hint
A nudge.
```

```hint
The answer.
```
"""


def lesson():
    parsed, problems = parse_lesson(LESSON, "t.en.md")
    assert problems == [], problems
    return parsed


def api(sid):
    tasks = [{"Status": {"State": "running"}}]
    return SimpleNamespace(name="api", id=sid, attrs={"Spec": {"TaskTemplate": {"Networks": []}}},
                           tasks=lambda filters=None: tasks)


class World:
    """A fake swarm whose setup makes api and legacy, with a node file system for records."""

    def __init__(self):
        self.engine = FakeEngine(networks=[network("shared", attachable=True)])
        self.files = {}
        legacy = container("legacy", [])
        legacy.id = "legacy-1"
        self.legacy = legacy
        self.box = FakeSandbox(self.engine, script=[
            (r"docker service create --name api", lambda n, l: self.engine._services.append(api("api-1")) or ok()),
            (r"docker run -d --name legacy", lambda n, l: self.engine._containers.update(legacy=legacy) or ok()),
            (r"docker network connect shared legacy", self.connect),
            (r"printf '%s'", self.write),
            (r"^cat " + SETUP_RECORDS, self.read),
            (r"tcpdump", self.capture),
        ])

    def capture(self, node, line):
        """The wire: a VXLAN packet once legacy is on the shared network, else nothing."""
        connected = "shared" in self.legacy.attrs["NetworkSettings"]["Networks"]
        packet = ("01:00:00.000001 IP 172.29.0.2.1 > 172.29.0.3.4789: VXLAN, flags [I] (0x08), vni 4097\n"
                  "IP 10.0.1.2.3 > 10.0.1.3.80: Flags [S]\n")
        return ok(packet if connected else "", "listening on eth0, link-type EN10MB (Ethernet)\n")

    def connect(self, node, line):
        self.legacy.attrs["NetworkSettings"]["Networks"]["shared"] = {}
        return ok()

    def write(self, node, line):
        path = line.rsplit("> ", 1)[1]
        self.files[path] = shlex.split(re.search(r"printf '%s' (.*) > ", line).group(1))[0]
        return ok()

    def read(self, node, line):
        path = line.split(" ", 1)[1]
        return ok(self.files[path]) if path in self.files else fail(1, stderr="cat: no such file\n")


def test_a_root_block_runs_wrapped_and_shows_its_own_text():
    world, events = World(), []
    step = lesson().steps[0]
    runner = Runner(world.box, lesson(), {}, on_event=events.append)
    runner.run_blocks(step, step.blocks)
    text = "nsenter --net=/run/docker/netns/1-abc ip -br link"
    assert ("manager1", as_node_root(text)) in world.box.ran
    assert ("manager1", "docker network connect shared legacy") in world.box.ran  # the other block is not wrapped
    assert [e["command"] for e in events if e["type"] == "command"] == [text, "docker network connect shared legacy"]
    assert "nsenter --user=/proc/1/ns/user --preserve-credentials -- setpriv --bounding-set=-sys_module" in \
        as_node_root(text)


def test_the_setup_leaves_a_record_and_the_rules_compare_with_it():
    world = World()
    runner = Runner(world.box, lesson(), {})
    step = lesson().steps[0]
    runner.setup(step)
    record = f"{SETUP_RECORDS}/t.fix.json"
    assert world.files[record] == '{"service api": "api-1", "container legacy@manager1": "legacy-1"}'
    assert any(line.startswith("umask 077; mkdir -p /run/labapp/setup") for _, line in world.box.ran)
    runs = runner.run_blocks(step, step.blocks)
    results = {r.name: r for r in runner.check(step, runs)}
    assert results["service api"].passed and results["container legacy"].passed
    assert results["service api"].rule and results["service api"].as_dict()["rule"] is True
    # the shortcut: api removed and created again
    world.engine._services[:] = [api("api-2")]
    results = {r.name: r for r in Runner(world.box, lesson(), {}).check(step, runs)}
    assert not results["service api"].passed and "removed and created again" in results["service api"].reason
    # no record (a sandbox from before this step's setup ran): a failure that says so
    world.files.clear()
    results = {r.name: r for r in Runner(world.box, lesson(), {}).check(step, runs)}
    assert "no record of this step's setup" in results["container legacy"].reason


def test_both_ways_rules_must_hold_before_and_other_checks_must_fail_before():
    world = World()
    result = Runner(world.box, lesson(), {}).solve_step(lesson().steps[0], both_ways=True)
    assert result.passed, (result.error, [c.as_dict() for c in result.checks])
    before = [(c.kind, c.rule, c.passed) for c in result.before]
    assert before == [("container", False, False), ("service", True, True), ("container", True, True),
                      ("capture", False, False)]


def test_a_rule_that_does_not_hold_before_the_step_is_an_error():
    world = World()
    world.box.script.insert(0, (r"^docker run -d --name legacy", ok()))  # the setup "forgets" legacy
    result = Runner(world.box, lesson(), {}).solve_step(lesson().steps[0], both_ways=True)
    assert not result.passed
    assert result.error.startswith("a rule does not hold before the step, so no learner could keep it: "
                                   "container legacy: there is no container legacy on manager1")


def test_a_check_still_converging_before_the_step_is_an_error(monkeypatch):
    """Before the step a check must fail on evidence: one that ends uncertain there would tell
    a learner who did nothing "not judged", for ever."""
    import dataclasses

    world = World()
    runner = Runner(world.box, lesson(), {})
    checked = runner.check

    def unsure_before(step, runs, state_only=False):
        results = checked(step, runs, state_only=state_only)
        if state_only:  # the before-checks: the first one ends still converging
            results[0] = dataclasses.replace(results[0], passed=False, uncertain=True,
                                             reason="not judged yet: the lab is slow")
        return results
    monkeypatch.setattr(runner, "check", unsure_before)
    result = runner.solve_step(lesson().steps[0], both_ways=True)
    assert not result.passed and all(c.passed for c in result.checks)
    assert result.error == ("a state check cannot tell before its step: it waits for the swarm to converge and "
                            "ends uncertain, so a learner who has not done the step is never told so: "
                            "container legacy: not judged yet: the lab is slow")


def test_a_capture_runs_alone_after_the_other_checks():
    world = World()
    runner = Runner(world.box, lesson(), {})
    step = lesson().steps[0]
    runner.setup(step)
    runs = runner.run_blocks(step, step.blocks)
    world.box.ran.clear()
    results = runner.check(step, runs)
    assert [r.kind for r in results] == ["container", "service", "container", "capture"]  # the lesson's order
    lines = [line for _, line in world.box.ran]
    first_capture = next(i for i, line in enumerate(lines) if "tcpdump" in line)
    assert all("tcpdump" in line or "nc -w 2" in line for line in lines[first_capture:]), lines
    assert results[-1].passed, results[-1].reason


def test_a_setup_record_that_cannot_be_written_is_an_error_that_says_so():
    """Else every same_as_setup rule of the step would fail later with "no record", and
    nothing would say why."""
    import pytest

    from labapp.errors import SandboxError

    world = World()
    world.box.script.insert(0, (r"printf '%s'", lambda n, l: fail(1, stderr="sh: can't create: No space left\n")))
    with pytest.raises(SandboxError, match=r"cannot record the setup of step 'fix' on manager1: sh: can't create"):
        Runner(world.box, lesson(), {}).setup(lesson().steps[0])
