"""The warm pool's rules over a fake backend (the real engine's pool is an integration test)."""
import threading
import time

from labapp.lesson.catalog import load_catalog
from labapp.pool import WarmPool

from .fakes import FactoryBackend, FakeSandbox


def _lesson():
    return load_catalog().get("overlay-attachable", "en")


def _backend():
    made = []

    def factory(lesson, progress):
        box = FakeSandbox(nodes=lesson.node_names)
        box.destroyed = False
        box.destroy = lambda: setattr(box, "destroyed", True)
        made.append(box)
        return box
    return FactoryBackend(factory), made


def _wait(condition, timeout=5):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_pool_fills_to_its_target_gives_out_and_refills():
    backend, made = _backend()
    lesson = _lesson()
    pool = WarmPool(backend, {"3x1": lesson}, standing_size=1, room=lambda: 10)
    pool.start()
    try:
        assert pool.wait_filled(5)
        pool.reserve("w1", lesson, 2)
        assert pool.wait_filled(5) and pool.status()["shapes"]["3x1"] == {"ready": 3, "target": 3, "filling": False}
        taken = pool.take(lesson)
        assert taken is made[0]
        _wait(lambda: pool.status()["shapes"]["3x1"]["ready"] == 3)  # refilled
        pool.release("w1")
        _wait(lambda: pool.status()["shapes"]["3x1"]["ready"] == 1)  # extras destroyed
        assert sum(1 for b in made if b.destroyed) == 2
    finally:
        pool.stop()
    assert all(b.destroyed for b in made if b is not taken)


def test_the_pool_waits_while_learners_start_and_when_the_host_is_full():
    backend, made = _backend()
    busy, room = threading.Event(), {"n": 0}
    busy.set()
    pool = WarmPool(backend, {"3x1": _lesson()}, standing_size=2, room=lambda: room["n"], busy=busy.is_set)
    pool.start()
    try:
        time.sleep(0.3)
        assert made == []  # a learner's sandbox is starting and there is no room
        busy.clear()
        time.sleep(0.3)
        assert made == []  # still no room
        room["n"] = 5
        assert pool.wait_filled(8)
        assert len(made) == 2
    finally:
        pool.stop()


def test_a_pooled_sandbox_found_dead_is_removed_and_the_next_is_given():
    backend, made = _backend()
    lesson = _lesson()
    pool = WarmPool(backend, {"3x1": lesson}, standing_size=2, room=lambda: 10)
    pool.start()
    try:
        assert pool.wait_filled(5)
        dead = made[0]
        backend.healthy = lambda sandbox: sandbox is not dead
        assert pool.take(lesson) is made[1]
        assert dead.destroyed
    finally:
        pool.stop()
