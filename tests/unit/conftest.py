"""Fixtures the unit tests share: the web app over a scripted fake sandbox (the real one is
exercised by the integration tests). Plain helpers are in helpers.py."""
import pytest

from .fakes import FakeEngine, FakeSandbox, fail, network, ok
from .helpers import make_app


@pytest.fixture(autouse=True)
def quiet_host(monkeypatch):
    """The lab's services read the host's load (admission refuses self-paced sandboxes on an
    overloaded host; checks wait longer): in unit tests the host is idle, whatever else this
    machine runs. Tests of the load's effects pass their own figures."""
    monkeypatch.setattr("labapp.services.load_per_core", lambda: 0.0)
    monkeypatch.setattr("labapp.checks.base.load_per_core", lambda: 0.0)


@pytest.fixture
def engine():
    return FakeEngine(networks=[network("ingress")])


@pytest.fixture
def app(tmp_path, engine):
    made = []

    def factory(lesson, progress):
        progress("nodes starting")
        box = FakeSandbox(engine, script=[
            (r"docker network create -d overlay test-cluster-net2",
             lambda n, l: engine._networks.append(network("test-cluster-net2")) or ok("abc\n")),
            (r"jq", ok('{\n  "IPAM": {"Config": [{"Subnet": "10.0.1.0/24"}]}\n}\n')),
            (r"docker node ls", ok("manager1 Ready\n")),
            (r"ping", fail(1, stderr="ping: bad address 'my-nginx'\n")),
        ], nodes=lesson.node_names)
        made.append(box)
        return box

    app = make_app(tmp_path, factory=factory)
    app.made = made
    return app
