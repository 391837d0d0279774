"""The lab core on a fake sandbox: setups run once, a returning learner is caught up, idle
sandboxes are reaped with progress kept."""
import pytest

from labapp.lab import Lab, LabError
from labapp.lesson.parser import parse_lesson
from labapp.store import Store

from .fakes import FakeEngine, FakeSandbox, fail, network, ok

TEXT = """---
title: t
summary: s
language: en
level: beginner
time: 5
kind: challenge
sandbox: {nodes: 1, managers: 1}
---

## One {#one}

```manager1
docker network create -d overlay one
```

```check
- network: {name: one}
```

## Two {#two}

```setup manager1
docker network create broken
```

```solution manager1
docker network create -d overlay two
```

```check
- network: {name: two}
```
"""


@pytest.fixture
def world(tmp_path):
    lesson, problems = parse_lesson(TEXT, "t.en.md")
    assert problems == []
    engine = FakeEngine()
    boxes = []

    def create(node, line):
        engine._networks.append(network(line.split()[-1]))
        return ok("id\n")

    def factory(lesson, progress):
        progress("nodes starting")
        box = FakeSandbox(engine, script=[(r"docker network create", create)], nodes=("manager1",))
        box.destroyed = False
        box.destroy = lambda: setattr(box, "destroyed", True)
        boxes.append(box)
        return box

    lab = Lab(factory, lambda: {}, Store(str(tmp_path / "s.db")))
    return lab, lesson, engine, boxes


def test_a_step_setup_runs_once_before_the_learner_works_on_it(world):
    lab, lesson, engine, boxes = world
    lab.ensure_sandbox("ann", lesson, lambda stage: None)
    assert boxes[0].ran == []  # step one has no setup
    lab.run_block("ann", lesson, "one", 0, lambda e: None)
    assert lab.check("ann", lesson, "one")["passed"]
    verdict = lab.check("ann", lesson, "two")
    assert not verdict["passed"]
    assert [line for _, line in boxes[0].ran].count("docker network create broken") == 1
    lab.check("ann", lesson, "two")
    assert [line for _, line in boxes[0].ran].count("docker network create broken") == 1


def test_a_returning_learner_gets_a_fresh_sandbox_brought_to_their_step(world):
    lab, lesson, engine, boxes = world
    lab.ensure_sandbox("ann", lesson, lambda stage: None)
    lab.run_block("ann", lesson, "one", 0, lambda e: None)
    assert lab.check("ann", lesson, "one")["passed"]
    lab.release("ann")
    assert boxes[0].destroyed
    stages = []
    lab.ensure_sandbox("ann", lesson, stages.append)
    assert "replaying step one" in stages
    ran = [line for _, line in boxes[1].ran]
    assert ran == ["docker network create -d overlay one", "docker network create broken"]


def test_idle_sandboxes_are_reaped_and_progress_is_kept(world):
    lab, lesson, engine, boxes = world
    lab.ensure_sandbox("ann", lesson, lambda stage: None)
    lab.ensure_sandbox("bob", lesson, lambda stage: None)
    lab.run_block("ann", lesson, "one", 0, lambda e: None)
    lab.check("ann", lesson, "one")
    assert lab.reap(3600) == []
    assert sorted(lab.reap(0)) == ["ann", "bob"]
    assert all(b.destroyed for b in boxes)
    assert lab.store.progress("ann", lesson.slug) == {"one": "passed"}
    with pytest.raises(LabError, match="open the lesson to start one"):
        lab.run_block("ann", lesson, "one", 0, lambda e: None)


def test_a_sandbox_that_cannot_be_caught_up_is_destroyed(world):
    lab, lesson, engine, boxes = world
    lab.store.record("ann", lesson.slug, "one", "passed")
    original = lab.backend._factory

    def failing(lesson, progress):
        box = original(lesson, progress)
        box.script.insert(0, (r"overlay one", fail(1, stderr="boom\n")))
        return box
    lab.backend._factory = failing
    with pytest.raises(LabError, match="replaying step 'one' failed on manager1"):
        lab.ensure_sandbox("ann", lesson, lambda stage: None)
    assert boxes[-1].destroyed
    assert lab.status("ann")["state"] == "none"


def test_shutdown_waits_for_a_sandbox_still_starting_and_destroys_it(world):
    import threading

    lab, lesson, engine, boxes = world
    gate = threading.Event()
    original = lab.backend._factory

    def slow(lesson, progress):
        gate.wait(5)
        return original(lesson, progress)
    lab.backend._factory = slow
    worker = threading.Thread(target=lambda: pytest.raises(LabError, lab.ensure_sandbox, "ann", lesson,
                                                           lambda stage: None))
    worker.start()
    import time

    deadline = time.monotonic() + 5
    while not lab.seat("ann").starting and time.monotonic() < deadline:
        time.sleep(0.01)
    stopper = threading.Thread(target=lab.shutdown)
    stopper.start()
    gate.set()
    stopper.join(10)
    worker.join(10)
    assert boxes and all(b.destroyed for b in boxes)
    with pytest.raises(LabError, match="shutting down"):
        lab.ensure_sandbox("bob", lesson, lambda stage: None)


def test_a_sandbox_near_its_end_is_warned_then_reaped_with_the_reason(world):
    lab, lesson, engine, boxes = world
    told = []
    lab.notify = lambda learner, event: told.append((learner, event))
    lab.idle_seconds, lab.max_seconds, lab.warn_seconds = 3600, 600, 300
    lab.ensure_sandbox("ann", lesson, lambda stage: None)
    assert lab.reap() == [] and told == []
    lab.seat("ann").born -= 400  # 200 s of its 600 s life left
    assert lab.reap() == []
    assert told[-1][1]["type"] == "lifetime" and "maximum lifetime in 3 min" in told[-1][1]["message"]
    lab.reap()
    assert len(told) == 1  # warned once, not every round
    lab.seat("ann").born -= 300
    assert lab.reap() == ["ann"] and boxes[0].destroyed
    assert told[-1] == ("ann", {"type": "expired", "reason": "your sandbox reached its maximum lifetime (10 min) "
                                "and was removed; your progress is kept: press Reset sandbox or reload for a "
                                "fresh one at your step"})
    assert lab.metrics.reaped["lifetime"] == 1
    assert lab.store.holdings() == {}


def test_readopt_gives_back_held_sandboxes_and_destroys_orphans(world):
    lab, lesson, engine, boxes = world
    lab.ensure_sandbox("ann", lesson, lambda stage: None)
    held = boxes[0]
    orphan = lab.backend.create(lesson, lambda stage: None)
    lab.backend.existing = lambda: [
        {"id": b.id, "pooled": False, "shape": None, "created": 0, "nodes": [{"status": "running"}]}
        for b in (held, orphan)]
    lab.backend.destroy = lambda sid: lab.backend.made[sid].destroy()
    fresh = type(lab)(lab.backend, lambda: {}, lab.store)  # the app after a restart
    found = fresh.readopt()
    assert found == {"adopted": [held.id], "pooled": [], "reaped": [orphan.id]}
    assert fresh.status("ann") == {"state": "ready", "lesson": lesson.slug, "nodes": [
        {"name": "manager1", "role": "manager"}], "id": held.id}
    assert orphan.destroyed and not held.destroyed
