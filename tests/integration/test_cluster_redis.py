"""labapp/cluster.py on a real Redis (Debian's, started by tests/servers.py): instances that
beat are alive, one that stops beating is dead for the others after its dead_seconds, one
reaped while only slow lets go of everything when it beats again, a command published by
one reaches the others' handlers (never its own), also after the channel's connection was
cut, and `labapp serve` does not start on a Redis that does not answer."""
import socket
import threading
import time
import uuid

import pytest

from labapp.cluster import Cluster


@pytest.fixture
def name():
    return f"t-{uuid.uuid4().hex[:8]}"


def _until(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_an_instance_that_stops_beating_is_dead_to_the_others(redis_url, name):
    a, b = Cluster(redis_url, name, "a"), Cluster(redis_url, name, "b")
    a.dead_seconds = b.dead_seconds = 1
    a.beat()
    b.beat()
    assert a.alive() == {"a", "b"} and a.dead() == set()
    time.sleep(0.6)
    a.beat()  # a beats on, b does not
    _until(lambda: a.dead() == {"b"}, timeout=5)
    a.beat()
    assert b.dead() == set()  # nobody else is dead to b, and never b itself
    a.forget("b")
    assert a.members() == {"a"} and a.dead() == set()
    other = Cluster(redis_url, name + "-other", "c")  # another lab on the same Redis is not counted
    other.beat()
    assert "c" not in a.members()


def test_an_instance_reaped_while_only_slow_lets_go_of_everything_when_it_beats_again(redis_url, name):
    a, b = Cluster(redis_url, name, "a"), Cluster(redis_url, name, "b")
    a.dead_seconds = b.dead_seconds = 1
    fenced = []
    b.on_fenced = lambda: fenced.append("b let go")
    a.beat()
    b.beat()
    assert not a.fence("b")  # alive: no tombstone is left, and b is not reaped
    b.beat()
    assert fenced == []
    time.sleep(1.2)
    a.beat()
    assert a.fence("b")  # silent for longer than dead_seconds: reaped (a destroys its sandboxes now)
    a.forget("b")
    b.beat()  # b was only slow: it learns it was reaped, and lets go before it serves again
    assert fenced == ["b let go"]
    assert b.alive() >= {"a", "b"}
    b.beat()
    assert fenced == ["b let go"]  # once


class Cut:
    """A TCP relay to Redis that the test can cut (every connection closed, new ones refused)
    and restore on the same port: Redis out of reach for a while, as in a network blip."""

    def __init__(self, redis_url):
        from urllib.parse import urlsplit

        target = urlsplit(redis_url)
        self.target = (target.hostname, target.port)
        self.port = None
        self.conns = []
        self.listener = None
        self.restore()

    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def restore(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port or 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self):
        self.listener.close()
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self.conns = []

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_the_listener_hears_again_after_redis_was_out_of_reach(redis_url, name):
    relay = Cut(redis_url)
    a, b = Cluster(redis_url, name, "a"), Cluster(relay.url(), name, "b")
    got = threading.Event()
    b.on("release", lambda command: got.set())
    b.start()
    try:
        relay.cut()
        time.sleep(4)  # several tries to subscribe again fail meanwhile
        relay.restore()
        deadline = time.monotonic() + 20
        while not got.is_set() and time.monotonic() < deadline:
            a.publish("release", learner="l1")  # until b hears again
            got.wait(0.5)
        assert got.is_set(), "the instance stopped hearing commands after Redis was out of reach"
    finally:
        a.stop()
        b.stop()
        relay.cut()


def test_an_unreachable_redis_stops_the_start_and_says_which(tmp_path, postgres_url):
    from labapp.config import Settings
    from labapp.errors import LabappError
    from labapp.services import build_services
    from labapp.sandbox.loadtest import KERNEL, LoadTestBackend

    settings = Settings(data_dir=str(tmp_path), message_queue="redis://:hunter2@127.0.0.1:1/0", secret_key="s" * 40,
                        trainer_token="t" * 24, database_url=postgres_url, pool_size=0)
    services = build_services(settings, backend=LoadTestBackend("x"), kernel=KERNEL, capacity=None)
    with pytest.raises(LabappError, match=r"cannot reach the Redis of LABAPP_MESSAGE_QUEUE "
                                          r"\(redis://:\*\*\*@127\.0\.0\.1:1/0\)") as caught:
        services.start()
    assert "hunter2" not in str(caught.value)
