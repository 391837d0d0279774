"""The lab core on a fake sandbox: setups run once, a returning learner is caught up, idle
sandboxes are reaped with progress kept."""
import pytest

import threading

from labapp.config import Settings
from labapp.lab import LabError
from labapp.lesson.catalog import Catalog
from labapp.lesson.parser import parse_lesson
from labapp.services import build_services

from .fakes import FactoryBackend, FakeEngine, FakeSandbox, fail, network, ok
from .helpers import until

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

```hint
A nudge.
```

```hint
The answer.
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

```hint
A nudge.
```

```hint
The answer.
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
        marks = set()  # the node's setup marks (Runner.setup writes one, setup_ran reads it)

        def mark(node, line):
            marks.add(line.rsplit(" ", 1)[1])
            return ok()

        box = FakeSandbox(engine, nodes=("manager1",), script=[
            (r"docker network create", create), (r"^umask 077; mkdir -p /run/labapp/setup && : > ", mark),
            (r"^test -e ", lambda node, line: ok() if line.rsplit(" ", 1)[1] in marks else fail(1))])
        box.destroyed = False
        box.destroy = lambda: setattr(box, "destroyed", True)
        boxes.append(box)
        return box

    lab = services(tmp_path, FactoryBackend(factory), lesson)
    return lab, lesson, engine, boxes


def services(tmp_path, backend, lesson):
    """The lab's parts over BACKEND, serving LESSON alone, with no warm pool."""
    return build_services(Settings(data_dir=str(tmp_path), pool_size=0), backend=backend, kernel={},
                          capacity=None, catalog=Catalog({lesson.slug: {"en": lesson}}, []))


def test_a_step_setup_runs_once_before_the_learner_works_on_it(world):
    lab, lesson, engine, boxes = world
    lab.lifecycle.ensure("ann", lesson, lambda stage: None)
    assert boxes[0].ran == []  # step one has no setup
    lab.commands.run_block("ann", lesson, "one", 0, lambda e: None)
    assert lab.commands.check("ann", lesson, "one")["passed"]
    verdict = lab.commands.check("ann", lesson, "two")
    assert not verdict["passed"]
    assert [line for _, line in boxes[0].ran].count("docker network create broken") == 1
    lab.commands.check("ann", lesson, "two")
    assert [line for _, line in boxes[0].ran].count("docker network create broken") == 1
    lab.lifecycle.seats.get("ann").prepared.clear()  # a restarted app re-adopts the sandbox knowing nothing
    lab.commands.check("ann", lesson, "two")
    assert [line for _, line in boxes[0].ran].count("docker network create broken") == 1  # the node remembers


def test_a_returning_learner_gets_a_fresh_sandbox_brought_to_their_step(world):
    lab, lesson, engine, boxes = world
    lab.lifecycle.ensure("ann", lesson, lambda stage: None)
    lab.commands.run_block("ann", lesson, "one", 0, lambda e: None)
    assert lab.commands.check("ann", lesson, "one")["passed"]
    lab.lifecycle.release("ann")
    assert boxes[0].destroyed
    stages = []
    lab.lifecycle.ensure("ann", lesson, stages.append)
    assert "replaying step one" in stages
    ran = [line for _, line in boxes[1].ran if "/run/labapp/setup" not in line]  # not the setup marks
    assert ran == ["docker network create -d overlay one", "docker network create broken"]


def test_idle_sandboxes_are_reaped_and_progress_is_kept(world):
    lab, lesson, engine, boxes = world
    lab.lifecycle.ensure("ann", lesson, lambda stage: None)
    lab.lifecycle.ensure("bob", lesson, lambda stage: None)
    lab.commands.run_block("ann", lesson, "one", 0, lambda e: None)
    lab.commands.check("ann", lesson, "one")
    assert lab.expiry.reap() == []
    lab.expiry.idle_seconds = 0
    assert sorted(lab.expiry.reap()) == ["ann", "bob"]
    assert all(b.destroyed for b in boxes)
    assert lab.store.progress("ann", lesson.slug) == {"one": "passed"}
    with pytest.raises(LabError, match="open the lesson to start one"):
        lab.commands.run_block("ann", lesson, "one", 0, lambda e: None)


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
        lab.lifecycle.ensure("ann", lesson, lambda stage: None)
    assert boxes[-1].destroyed
    assert lab.lifecycle.status("ann")["state"] == "none"


def test_shutdown_waits_for_a_sandbox_still_starting_and_destroys_it(world):
    lab, lesson, engine, boxes = world
    gate = threading.Event()
    original = lab.backend._factory

    def slow(lesson, progress):
        gate.wait(5)
        return original(lesson, progress)
    lab.backend._factory = slow
    outcome = []

    def start():
        try:
            lab.lifecycle.ensure("ann", lesson, lambda stage: None)
            outcome.append("made")
        except LabError as exc:
            outcome.append(str(exc))
    worker = threading.Thread(target=start)
    worker.start()
    until(lambda: lab.seats.get("ann").starting)
    stopper = threading.Thread(target=lab.shutdown)
    stopper.start()
    gate.set()
    stopper.join(10)
    worker.join(10)
    assert outcome == ["the lab is shutting down"]  # the start in flight was refused, not left behind
    assert boxes and all(b.destroyed for b in boxes)
    with pytest.raises(LabError, match="shutting down"):
        lab.lifecycle.ensure("bob", lesson, lambda stage: None)


def test_a_sandbox_near_its_end_is_warned_then_reaped_with_the_reason(world):
    lab, lesson, engine, boxes = world
    told = []
    lab.events.notify = lambda learner, event: told.append((learner, event))
    expiry = lab.expiry
    expiry.idle_seconds, expiry.max_seconds, expiry.warn_seconds = 3600, 600, 300
    lab.lifecycle.ensure("ann", lesson, lambda stage: None)
    assert expiry.reap() == [] and told == []
    lab.seats.get("ann").born -= 400  # 200 s of its 600 s life left
    assert expiry.reap() == []
    assert told[-1][1]["type"] == "lifetime" and "maximum lifetime in 3 min" in told[-1][1]["message"]
    expiry.reap()
    assert len(told) == 1  # warned once, not every round
    lab.seats.get("ann").born -= 300
    assert expiry.reap() == ["ann"] and boxes[0].destroyed
    assert told[-1] == ("ann", {"type": "expired", "reason": "your sandbox reached its maximum lifetime (10 min) "
                                "and was removed; your progress is kept: press Reset sandbox or reload for a "
                                "fresh one at your step"})
    assert lab.metrics.reaped.labels("lifetime")._value.get() == 1
    assert lab.store.holdings() == {}


def test_a_sandbox_whose_swarm_store_outgrows_its_bound_is_removed_with_the_reason(world):
    """The managers' swarm store is on the host's disk with no size limit of its own (a red
    team grew it by 5 MB a console line): the reaper measures it and ends the sandbox."""
    from labapp.lab import expiry as expiry_module

    lab, lesson, engine, boxes = world
    told = []
    lab.events.notify = lambda learner, event: told.append((learner, event))
    lab.expiry.store_bytes = 384 << 20
    lab.lifecycle.ensure("ann", lesson, lambda stage: None)
    size = ["126000"]  # KiB: an idle manager's two raft log files
    boxes[0].script.insert(0, (r"du -sk /var/lib/docker/swarm", lambda node, line: ok(size[0] + "\n")))
    measured = lambda: sum(1 for _, line in boxes[0].ran if line.startswith("du -sk"))  # noqa: E731
    assert lab.expiry.reap() == [] and measured() == 1
    size[0] = "500000"
    assert lab.expiry.reap() == [] and measured() == 1  # measured once a minute, not every round
    lab.expiry._store_seen["ann"] -= expiry_module.STORE_EVERY
    assert lab.expiry.reap() == ["ann"] and boxes[0].destroyed and measured() == 2
    assert told[-1] == ("ann", {"type": "expired", "reason": "your swarm stored more than 384 MiB on the disk of "
                                "manager1 and your sandbox was removed; your progress is kept: press Reset "
                                "sandbox or reload for a fresh one at your step"})
    assert lab.metrics.reaped.labels("store")._value.get() == 1


def test_readopt_gives_back_held_sandboxes_and_destroys_orphans(world, tmp_path):
    lab, lesson, engine, boxes = world
    lab.lifecycle.ensure("ann", lesson, lambda stage: None)
    held = boxes[0]
    orphan = lab.backend.create(lesson, lambda stage: None)
    lab.backend.existing = lambda: [
        {"id": b.id, "pooled": False, "shape": None, "created": 0, "nodes": [{"status": "running"}]}
        for b in (held, orphan)]
    lab.backend.destroy = lambda sid: lab.backend.made[sid].destroy()
    fresh = services(tmp_path, lab.backend, lesson)  # the app after a restart
    found = fresh.lifecycle.readopt()
    assert found == {"adopted": [held.id], "pooled": [], "reaped": [orphan.id]}
    assert fresh.lifecycle.status("ann") == {"state": "ready", "lesson": lesson.slug, "nodes": [
        {"name": "manager1", "role": "manager"}], "id": held.id}
    assert orphan.destroyed and not held.destroyed


def test_running_a_block_again_replaces_its_run_and_what_is_kept_is_bounded(world):
    """A learner may Run a block again and again (a red team grew the app by 125 MB in 100
    Runs of a block whose program printed 1 MB): the last run of each block is kept for the
    step's Check, each within RUN_KEPT characters from either end of each stream."""
    from labapp.lab.seats import OUTPUT_KEPT, RUN_KEPT

    lab, lesson, engine, boxes = world
    lab.lifecycle.ensure("ann", lesson, lambda stage: None)
    huge = "begin\n" + "x" * (4 * RUN_KEPT) + "\nend\n"
    boxes[0].script.insert(0, (r"docker network create", lambda node, line: (
        create_and(engine, line), ok(huge))[1]))
    for _ in range(5):
        lab.commands.run_block("ann", lesson, "one", 0, lambda e: None)
    seat = lab.seats.get("ann")
    runs = seat.runs_of("one")
    assert len(runs) == 1
    stdout = runs[0].result.stdout
    assert stdout.startswith("begin\n") and stdout.endswith("\nend\n") and len(stdout) <= 2 * RUN_KEPT + 5
    assert lab.commands.check("ann", lesson, "one")["passed"]
    assert seat.output_size == sum(map(len, seat.output)) <= OUTPUT_KEPT


def create_and(engine, line):
    engine._networks.append(network(line.split()[-1]))


# --- admission ----------------------------------------------------------------------------------

def test_two_learners_admitted_at_the_same_moment_both_count():
    """Admission marks an admitted seat as starting under its own lock: a second learner asking
    between the first's admission and the start of their sandbox cannot take the same place."""
    from labapp.lab import Admission, LabFull, Seats

    seats = Seats()
    admission = Admission(seats, max_sandboxes=1)
    admission.admit("ann", replacing=False)
    assert seats.get("ann").starting and seats.live() == 1
    with pytest.raises(LabFull):
        admission.admit("bob", replacing=False)


def test_admission_counts_workshop_learners_against_their_workshop_and_caps_an_address():
    from labapp.lab import Admission, KeptForWorkshops, LabFull, Seating, Seats, TooMany, WorkshopOnly

    seats = Seats()
    seating = Seating(members={"w1": "W", "w2": "W"}, kept={"W": 2})
    admission = Admission(seats, max_sandboxes=4, per_address=1, seating=lambda: seating)
    for learner, address in (("s1", "10.0.0.1"), ("s2", "10.0.0.1"), ("s3", "10.0.0.2"), ("s4", "10.0.0.3"),
                             ("w1", "10.0.0.1"), ("w2", "10.0.0.1")):
        seats.get(learner).address = address
    admission.admit("s1", replacing=False)
    with pytest.raises(TooMany, match=r"your address already holds the most sandboxes one address may hold at once outside a workshop \(1\)"):
        admission.admit("s2", replacing=False)
    admission.admit("s1", replacing=True)  # a fresh sandbox for the one s1 holds is not one more
    admission.admit("w1", replacing=False)  # a workshop learner: their workshop's place, not the address's
    admission.admit("s3", replacing=False)  # 2 held + 1 kept for W
    with pytest.raises(KeptForWorkshops, match="kept for a workshop now"):
        admission.admit("s4", replacing=False)
    admission.admit("w2", replacing=False)  # W's last kept place
    with pytest.raises(LabFull, match="the lab is full"):
        admission.admit("s4", replacing=False)
    admission.workshop_only = True
    seats.get("s1").starting = False
    with pytest.raises(WorkshopOnly, match="only to the learners of a workshop"):
        admission.admit("s1", replacing=False)
    seating.early["s1"] = 61  # s1 joined a workshop that begins in 61 s
    with pytest.raises(WorkshopOnly, match="has not begun yet: its learners get sandboxes in 2 minutes"):
        admission.admit("s1", replacing=False)
