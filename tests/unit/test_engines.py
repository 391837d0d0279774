"""Several engines (sandbox/multi.py) on fakes: placement by free room, capacity summed,
an engine that stops answering marked down, its learners told by name, new sandboxes on the
others, what it left removed when it answers again; and off by default."""
import time

import pytest
import requests.exceptions

from labapp.capacity import host_capacity
from labapp.config import ConfigError, Settings
from labapp.engine import engine_addresses
from labapp.errors import EngineUnavailable
from labapp.lesson.catalog import Catalog
from labapp.lesson.parser import parse_lesson
from labapp.sandbox.backend import Backend, SwarmBackend
from labapp.sandbox.backend import ANY_OWNER
from labapp.sandbox.multi import EngineDown, MultiBackend, make_backend
from labapp.services import build_services

from .fakes import FakeSandbox, ok
from ..lesson_text import one_step_lesson
from .helpers import until

TEXT = one_step_lesson("docker node ls", 'output_contains: {value: "x"}')

A, B = "unix:///run/a.sock", "unix:///run/b.sock"


class EngineBackend(Backend):
    """One fake engine: its sandboxes, whether it answers."""

    def __init__(self, address):
        self.address = address
        self.settings = Settings()
        self.alive = True
        self.made: dict[str, FakeSandbox] = {}
        self.destroyed: list[str] = []
        self.fail_create = False

    def _answer(self):
        if not self.alive:
            raise requests.exceptions.ConnectionError("connection refused")

    def create(self, lesson, on_progress, pooled=False, avoid=None):
        self._answer()
        if self.fail_create:
            self.alive = False  # the engine dies while the sandbox is being made
            raise requests.exceptions.ConnectionError("connection refused")
        sandbox = FakeSandbox(script=[("node ls", ok("x"))], nodes=("manager1",))
        engine = self

        class Placed(type(sandbox)):
            def exec_stream(self, node, cmd, **kw):
                engine._answer()
                return super().exec_stream(node, cmd, **kw)

            def destroy(self):
                engine._answer()
                engine.made.pop(self.id, None)
                engine.destroyed.append(self.id)

        sandbox.__class__ = Placed
        self.made[sandbox.id] = sandbox
        return sandbox

    def attach(self, sandbox_id):
        self._answer()
        return self.made[sandbox_id]

    def existing(self, owners=None):
        self._answer()
        return [{"id": sid, "owner": self.owner, "pooled": False, "shape": None, "created": 0, "nodes": []}
                for sid in self.made if owners is None or owners is ANY_OWNER or self.owner in owners]

    def destroy(self, sandbox_id):
        self._answer()
        self.made[sandbox_id].destroy()

    def healthy(self, sandbox):
        self._answer()
        return True


@pytest.fixture
def lesson():
    lesson, problems = parse_lesson(TEXT, "one.en.md")
    assert not problems
    return lesson


def multi(rooms: dict[str, int]):
    backends = {address: EngineBackend(address) for address in rooms}
    settings = Settings()
    backend = MultiBackend(settings, "me", list(rooms), backend_for=backends.__getitem__,
                           answers=lambda e: backends[e.address].alive,
                           capacity_of=lambda e: host_capacity(settings, override=rooms[e.address]))
    return backend, backends


def test_sandboxes_go_to_the_engine_with_the_most_free_room_and_the_stage_says_which(lesson):
    backend, engines = multi({A: 4, B: 2})
    stages = []
    placed = [backend.engine_of(backend.create(lesson, stages.append).id).address for _ in range(5)]
    # free room before each: A4 B2 -> A; A3 B2 -> A; A2 B2 -> A (first listed); A1 B2 -> B; A1 B1 -> A
    assert placed == [A, A, A, B, A]
    assert stages.count(f"placing the sandbox on engine {A}") == 4
    assert f"placing the sandbox on engine {B}" in stages
    assert len(engines[A].made) == 4 and len(engines[B].made) == 1


def test_the_capacity_is_the_sum_over_the_engines_that_answer():
    backend, engines = multi({A: 4, B: 2})
    assert backend.capacity().sandboxes == 6
    assert backend.capacity().engines == 2
    assert "these 2 engines hold" in backend.capacity().explain()
    engines[B].alive = False
    backend.look(backend.engines[1])
    assert backend.capacity().sandboxes == 4
    assert backend.capacity(override=9).sandboxes == 9


def test_a_destroyed_sandbox_frees_its_room(lesson):
    backend, engines = multi({A: 1, B: 1})
    first = backend.create(lesson, lambda s: None)
    assert backend.engine_of(first.id).address == A
    first.destroy()
    assert engines[A].destroyed == [first.id]
    assert backend.engine_of(backend.create(lesson, lambda s: None).id).address == A


def test_an_engine_that_stops_answering_is_marked_down_named_and_skipped(lesson):
    backend, engines = multi({A: 1, B: 5})
    told = []
    backend.on_down = lambda engine, ids: told.append((engine.address, ids))
    on_b = backend.create(lesson, lambda s: None)
    assert backend.engine_of(on_b.id).address == B
    engines[B].alive = False
    before = time.time()
    with pytest.raises(EngineDown) as caught:
        on_b.exec("manager1", "docker node ls")
    assert B in str(caught.value) and "stopped answering" in str(caught.value)
    down = backend.engines[1]
    assert not down.up and down.down_since >= before - 1
    until(lambda: told == [(B, [on_b.id])])
    # new sandboxes go to the engine that answers, though the other had more room
    assert backend.engine_of(backend.create(lesson, lambda s: None).id).address == A
    with pytest.raises(EngineDown, match="run/b.sock"):
        backend.attach(on_b.id)
    on_b.destroy()  # on a down engine: forgotten, no error
    assert not backend.healthy(on_b)


def test_an_engine_that_dies_while_making_a_sandbox_hands_it_to_the_next(lesson):
    backend, engines = multi({A: 1, B: 5})
    engines[B].fail_create = True
    sandbox = backend.create(lesson, lambda s: None)
    assert backend.engine_of(sandbox.id).address == A
    assert not backend.engines[1].up


def test_no_engine_answering_is_a_clear_refusal(lesson):
    backend, engines = multi({A: 1, B: 1})
    for engine in engines.values():
        engine.alive = False
    for engine in backend.engines:
        backend.look(engine)
    with pytest.raises(EngineUnavailable, match="no Docker engine of this lab can take a sandbox now"):
        backend.create(lesson, lambda s: None)


def test_an_engine_back_up_is_used_again_and_what_it_left_is_removed(lesson):
    backend, engines = multi({A: 1, B: 5})
    on_b = backend.create(lesson, lambda s: None)
    engines[B].alive = False
    backend.look(backend.engines[1])
    engines[B].alive = True
    backend.look(backend.engines[1])
    assert backend.engines[1].up
    assert engines[B].destroyed == [on_b.id]
    assert backend.engine_of(backend.create(lesson, lambda s: None).id).address == B


def test_after_a_restart_sandboxes_are_found_on_their_engine_by_their_labels(lesson):
    backend, engines = multi({A: 2, B: 2})
    made = [backend.create(lesson, lambda s: None) for _ in range(2)]
    again, _ = multi({A: 2, B: 2})
    again.engines[0].backend, again.engines[1].backend = engines[A], engines[B]
    found = {e["id"]: e["engine"] for e in again.existing()}
    assert found == {made[0].id: A, made[1].id: B}
    assert again.attach(made[1].id).engine_.address == B


def test_a_learner_on_an_engine_that_goes_down_is_told_its_name_and_the_seat_is_freed(tmp_path, lesson):
    backend, engines = multi({A: 1, B: 2})
    lab = build_services(Settings(data_dir=str(tmp_path), pool_size=0), backend=backend, kernel={},
                         capacity=backend.capacity(), catalog=Catalog({lesson.slug: {"en": lesson}}, []))
    told = []
    lab.events.notify = lambda learner, event: told.append((learner, event))
    assert lab.admission.max_sandboxes == 3
    sandbox = lab.lifecycle.ensure("ann", lesson, lambda s: None)
    assert backend.engine_of(sandbox.id).address == B
    engines[B].alive = False
    backend.look(backend.engines[1])
    until(lambda: told)
    learner, event = told[0]
    assert learner == "ann" and event["type"] == "expired"
    assert B in event["reason"] and "Reset sandbox" in event["reason"]
    assert lab.seats.get("ann").sandbox is None
    assert lab.admission.max_sandboxes == 1
    again = lab.lifecycle.ensure("ann", lesson, lambda s: None)
    assert backend.engine_of(again.id).address == A


def test_off_by_default_one_engine_as_before():
    assert engine_addresses("") == []
    assert isinstance(make_backend(Settings(), "me"), SwarmBackend)
    assert engine_addresses(f" {A}, tcp://h:2376 ,ssh://u@h") == [A, "tcp://h:2376", "ssh://u@h"]
    with pytest.raises(ConfigError, match="not an engine address"):
        engine_addresses("/var/run/docker.sock")
    with pytest.raises(ConfigError, match="twice"):
        engine_addresses(f"{A},{A}")
    assert Settings.from_env({"LABAPP_ENGINES": f"{A},{B}"}).engines == f"{A},{B}"


def test_with_every_engine_down_the_lab_keeps_a_limit_and_gets_its_capacity_back(tmp_path, lesson):
    """0 is admission's 'no limit': every engine down must not lift the limit for good."""
    backend, engines = multi({A: 1, B: 2})
    lab = build_services(Settings(data_dir=str(tmp_path), pool_size=0), backend=backend, kernel={},
                         capacity=backend.capacity(), catalog=Catalog({lesson.slug: {"en": lesson}}, []))
    for address in (A, B):
        engines[address].alive = False
    for engine in backend.engines:
        backend.look(engine)
    until(lambda: lab.admission.max_sandboxes == 1)
    for address in (A, B):
        engines[address].alive = True
    for engine in backend.engines:
        backend.look(engine)
    until(lambda: lab.admission.max_sandboxes == 3)
