"""The warm pool's rules over a fake backend (the real engine's pool is an integration test)."""
from labapp.pool import WarmPool

from .fakes import FactoryBackend, FakeSandbox
from .helpers import LESSON, fixture_catalog, until


def _lesson():
    return fixture_catalog().get(LESSON, "en")  # 3 nodes, 1 manager: shape "3x1"


def _backend():
    made = []

    def factory(lesson, progress):
        box = FakeSandbox(nodes=lesson.node_names)
        box.destroyed = False
        box.destroy = lambda: setattr(box, "destroyed", True)
        made.append(box)
        return box
    return FactoryBackend(factory), made


class _Asked:
    """A pool question (busy() or room()) that answers VALUE and counts how often it was asked."""

    def __init__(self, value):
        self.value, self.times = value, 0

    def __call__(self):
        self.times += 1
        return self.value


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
        until(lambda: pool.status()["shapes"]["3x1"]["ready"] == 3)  # refilled
        assert len(made) == 4
        pool.release("w1")
        until(lambda: pool.status()["shapes"]["3x1"]["ready"] == 1)
        # The extras leave the pool first and are destroyed just after, outside its lock.
        until(lambda: sum(1 for b in made if b.destroyed) == 2)
        assert not taken.destroyed  # a learner's now: never the pool's to destroy
    finally:
        pool.stop()
    assert all(b.destroyed for b in made if b is not taken)


def test_what_the_pool_keeps_for_a_workshop_goes_only_to_that_workshop():
    """Resets and self-paced learners take from the standing pool, never what a workshop's
    reservation keeps for its learners still to come (else a few resets drain it)."""
    backend, made = _backend()
    lesson = _lesson()
    pool = WarmPool(backend, {"3x1": lesson}, standing_size=1, room=lambda: 10, busy=lambda: True)
    for _ in range(3):  # filled by hand (the filler waits while "busy"): 1 standing, 2 for w1
        pool.adopt(backend.create(lesson, lambda stage: None), "3x1")
    pool.reserve("w1", lesson, 2)
    assert pool.take(lesson) is made[0]        # the standing one, to anyone
    assert pool.take(lesson) is None           # the rest is w1's
    assert pool.take(lesson, "w2") is None     # another workshop's learner: not theirs either
    assert pool.take(lesson, "w1") is made[1]  # w1's learner arrives
    pool.reserve("w1", lesson, 1)              # (the workshop's tick: one fewer to come)
    assert pool.take(lesson) is None
    assert pool.take(lesson, "w1") is made[2]


def test_the_pool_waits_while_learners_start_and_when_the_host_is_full():
    """The filler asks busy() first and room() next; each wait is proven by the filler coming
    back to ask again (a full pass of its loop) without having made anything."""
    backend, made = _backend()
    busy, room = _Asked(True), _Asked(5)
    pool = WarmPool(backend, {"3x1": _lesson()}, standing_size=2, room=room, busy=busy)
    pool.start()
    try:
        until(lambda: busy.times >= 1)
        pool.release("nobody")  # wakes the filler: it looks again now, not in 2 s
        until(lambda: busy.times >= 2)
        assert made == []  # a learner's sandbox is starting: no pool sandbox, though there is room
        room.value = 0  # no room first, then nobody busy: never a moment with both free
        busy.value = False
        pool.release("nobody")
        until(lambda: room.times >= 1)
        pool.release("nobody")
        until(lambda: room.times >= 2)
        assert made == []  # nobody is starting, but there is no room
        room.value = 5
        pool.release("nobody")
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
