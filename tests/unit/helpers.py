"""What the unit tests of the web layer share: the app over fake sandboxes, clients from an
address, and waiting for Socket.IO events. (Fixtures live in conftest.py; these are plain
functions, imported by the tests that use them.)"""
from __future__ import annotations

import os
import threading
import time

from labapp import create_app
from labapp.config import Settings
from labapp.lesson.catalog import Catalog, load_catalog
from labapp.web.events import socketio

from .fakes import FactoryBackend, FakeEngine, FakeSandbox, network, ok

# The unit tests' own lesson (en and ko), not a shipped one: the shipped lessons change with
# the lesson work, these only with the tests. Steps: swarm, overlay, service, bridge-ping.
FIXTURE_LESSONS = os.path.join(os.path.dirname(__file__), "fixtures", "lessons", "web")
LESSON = "fixture-overlay"
TOKEN = "s3cret-trainer-token"
KERNEL = {"ipvs": False, "esp": False, "vxlan": True}


def settings_for(tmp_path, **config) -> Settings:
    """Settings for a test app in TMP_PATH; CONFIG keys are Settings fields, or their
    LABAPP_* environment names (as the docs write them)."""
    fields = {key[len("LABAPP_"):].lower() if key.startswith("LABAPP_") else key: value
              for key, value in config.items()}
    return Settings(**{"data_dir": str(tmp_path), "secret_key": "test", "trainer_token": TOKEN, **fields})


def fixture_catalog() -> Catalog:
    """The catalog of the unit tests' own lessons (FIXTURE_LESSONS); it must lint clean."""
    catalog = load_catalog([FIXTURE_LESSONS])
    assert not catalog.problems, catalog.problems
    return catalog


def make_app(tmp_path, gate=None, factory=None, lessons=None, **config):
    """The app over fake sandboxes (FACTORY, or one whose 'docker node ls' waits for GATE, a
    threading.Event), with the probe's answer KERNEL and no capacity limit unless CONFIG
    sets max_sandboxes. LESSONS: the Catalog to serve (default: the fixture lessons, never
    the shipped ones)."""
    engine = FakeEngine(networks=[network("ingress")])

    def slow(node, line):
        if gate is not None:
            gate.wait(10)
        return ok("manager1 Ready\n")

    def default(lesson, progress):
        return FakeSandbox(engine, script=[(r"docker node ls", slow)], nodes=lesson.node_names)

    from labapp.services import build_services

    services = build_services(settings_for(tmp_path, **config), backend=FactoryBackend(factory or default),
                              kernel=KERNEL, capacity=None,
                              catalog=lessons if lessons is not None else fixture_catalog())
    return create_app(services=services, testing=True)


def learner_of(http):
    with http.session_transaction() as s:
        return s["learner"]


def client_at(app, address=None):
    """A test client (a fresh cookie) from ADDRESS (default: Werkzeug's 127.0.0.1)."""
    http = app.test_client()
    if address:
        http.environ_base["REMOTE_ADDR"] = address
    return http


def same_learner(app, http):
    """Another test client carrying HTTP's cookie: the same learner on another connection."""
    other = app.test_client()
    other.set_cookie("session", http.get_cookie("session").value)
    return other


def until(condition, timeout=5):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def received(client, name, match=lambda e: True, timeout=5, namespace="/lab"):
    """The first NAME event (whose data MATCHes) CLIENT receives within TIMEOUT s."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        seen += client.get_received(namespace)
        for event in seen:
            if event["name"] == name and match(event["args"][0]):
                return event["args"][0]
        time.sleep(0.02)
    raise AssertionError(f"no {name} event; got {[e['name'] for e in seen]}")


def in_background(client, event, data):
    """Emit from another thread: the test client runs a handler in the emitting thread."""
    thread = threading.Thread(target=client.emit, args=(event, data), kwargs={"namespace": "/lab"})
    thread.start()
    return thread


def page_and_socket(app, address=None, lang="en"):
    http = client_at(app, address)
    http.get(f"/lessons/{LESSON}?lang={lang}")
    client = socketio.test_client(app, namespace="/lab", flask_test_client=http)
    assert client.is_connected("/lab")
    return http, client


def joined(app, address=None, lang="en"):
    http, client = page_and_socket(app, address, lang)
    client.emit("join", {"lesson": LESSON, "lang": lang}, namespace="/lab")
    received(client, "sandbox", lambda e: e.get("stage") == "ready")
    return http, client
