"""labapp/cluster.py on a real Redis (Debian's, started by tests/servers.py): instances that
beat are alive, one that stops beating is dead for the others after ALIVE_SECONDS, and a
command published by one reaches the others' handlers, never its own."""
import threading
import time
import uuid

import pytest

from labapp import cluster as C
from labapp.cluster import Cluster


@pytest.fixture
def name():
    return f"t-{uuid.uuid4().hex[:8]}"


def _until(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_an_instance_that_stops_beating_is_dead_to_the_others(redis_url, name, monkeypatch):
    monkeypatch.setattr(C, "ALIVE_SECONDS", 1)
    a, b = Cluster(redis_url, name, "a"), Cluster(redis_url, name, "b")
    a.beat()
    b.beat()
    assert a.alive() == {"a", "b"} and a.dead() == set()
    time.sleep(0.6)
    a.beat()  # a beats on, b does not
    _until(lambda: a.dead() == {"b"}, timeout=5)
    assert b.dead() == set()  # nobody else is dead to b, and never b itself
    a.forget("b")
    assert a.members() == {"a"} and a.dead() == set()
    other = Cluster(redis_url, name + "-other", "c")  # another lab on the same Redis is not counted
    other.beat()
    assert "c" not in a.members()


def test_a_command_reaches_the_other_instances_only(redis_url, name):
    a, b = Cluster(redis_url, name, "a"), Cluster(redis_url, name, "b")
    got = {"a": [], "b": []}
    arrived = threading.Event()
    a.on("reset", got["a"].append)
    b.on("reset", lambda command: (got["b"].append(command), arrived.set()))
    a.start()
    b.start()
    try:
        a.publish("reset", learner="l1", step=None)
        assert arrived.wait(10), "the command did not reach the other instance"
        time.sleep(0.3)
        assert got == {"a": [], "b": [{"learner": "l1", "step": None, "kind": "reset", "from": "a"}]}
    finally:
        a.stop()
        b.stop()
    assert a.members() == set()  # both said goodbye
