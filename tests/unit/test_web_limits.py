"""The web layer's limits (labapp/web/guard.py): commands in flight per learner, and rate
limits per client address that a new cookie does not reset, on REST and Socket.IO alike."""
import threading
import time

import pytest

from labapp.config import ConfigError
from labapp.web.events import socketio
from labapp.web.guard import InFlight, Refused, client_address

from .helpers import (LESSON, TOKEN, client_at, in_background, joined, learner_of, make_app,  # noqa: F401
                      page_and_socket, received, same_learner, until)

CONSOLE = f"/api/lessons/{LESSON}/console"
SANDBOX = f"/api/lessons/{LESSON}/sandbox"
SLOW = {"node": "manager1", "line": "docker node ls"}  # held at the gate
QUICK = {"node": "manager1", "line": "docker network ls"}


# --- commands in flight, per learner ------------------------------------------------------

def test_the_registry_counts_per_learner_and_frees_a_slot_whatever_happens():
    flight = InFlight(2)
    with flight.hold("ann"), flight.hold("ann"):
        with pytest.raises(Refused, match="a command is still running"):
            with flight.hold("ann"):
                pass
        with flight.hold("bob"):  # another learner has slots of their own
            assert flight.running("bob") == 1
    with pytest.raises(RuntimeError):
        with flight.hold("ann"):
            raise RuntimeError("the command failed")
    assert flight.running("ann") == 0


def test_a_third_rest_command_is_refused_while_two_run(tmp_path):
    gate = threading.Event()
    app = make_app(tmp_path, gate)
    guard = app.extensions["labapp"].guard
    http = app.test_client()
    assert http.post(SANDBOX, json={}).status_code == 200
    learner = learner_of(http)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(same_learner(app, http).post(CONSOLE, json=SLOW)))
               for _ in range(2)]
    for t in threads:
        t.start()
    try:
        until(lambda: guard.in_flight.running(learner) == 2)
        for path, body in ((CONSOLE, QUICK), (f"/api/lessons/{LESSON}/steps/swarm/check", {}),
                           (f"/api/lessons/{LESSON}/steps/swarm/run", {"block": 0})):
            third = http.post(path, json=body)
            assert third.status_code == 429, path
            assert "a command is still running (at most 2 at once)" in third.get_json()["error"]
            assert third.headers["Retry-After"] == "2"
        other = app.test_client()  # another learner is not held up
        other.post(SANDBOX, json={})
        assert other.post(CONSOLE, json=QUICK).status_code == 200
    finally:
        gate.set()
        for t in threads:
            t.join(10)
    assert [a.status_code for a in answers] == [200, 200]
    assert guard.in_flight.running(learner) == 0
    assert http.post(CONSOLE, json=QUICK).status_code == 200


def test_socket_io_and_rest_share_the_learners_commands_in_flight(tmp_path):
    gate = threading.Event()
    app = make_app(tmp_path, gate)
    guard = app.extensions["labapp"].guard
    http, client = joined(app)
    learner = learner_of(http)
    held = []
    try:
        held = [in_background(client, "console", {"lesson": LESSON, "lang": "en", **SLOW}) for _ in range(2)]
        until(lambda: guard.in_flight.running(learner) == 2)
        client.emit("run", {"lesson": LESSON, "lang": "en", "step": "swarm", "block": 0}, namespace="/lab")
        failure = received(client, "failure")
        assert failure["message"].startswith("a command is still running (at most 2 at once)")
        client.emit("check", {"lesson": LESSON, "lang": "en", "step": "swarm"}, namespace="/lab")
        assert "a command is still running" in received(client, "failure")["message"]
        assert http.post(CONSOLE, json=QUICK).status_code == 429  # the same learner over REST
    finally:
        gate.set()
        for thread in held:
            thread.join(10)
    until(lambda: guard.in_flight.running(learner) == 0)
    client.emit("console", {"lesson": LESSON, "lang": "en", **QUICK}, namespace="/lab")
    received(client, "done")


def test_a_command_that_fails_gives_its_slot_back(tmp_path):
    app = make_app(tmp_path)
    http, client = joined(app)
    for _ in range(5):  # each fails (no such node); none may keep its slot
        client.emit("console", {"lesson": LESSON, "lang": "en", "node": "nope", "line": "docker ps"},
                    namespace="/lab")
        received(client, "failure")
        assert http.post(CONSOLE, json={"node": "nope", "line": "docker ps"}).status_code != 429
    assert app.extensions["labapp"].guard.in_flight.running(learner_of(http)) == 0


# --- per address: a new cookie does not reset them ----------------------------------------

def test_sandboxes_per_address_count_fresh_cookies_together(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_SANDBOXES="2/minute")
    first = app.test_client()
    assert first.post(SANDBOX, json={}).status_code == 200
    assert first.post(SANDBOX, json={}).status_code == 200  # nothing made: not counted
    assert app.test_client().post(SANDBOX, json={}).status_code == 200
    refused = app.test_client().post(SANDBOX, json={})  # a third cookie, the same address
    assert refused.status_code == 429
    assert refused.get_json()["error"].startswith("too many new sandboxes from your address (at most 2 per 1 "
                                                  "minute; everyone behind the same address counts together)")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    elsewhere = client_at(app, "10.1.2.3")
    assert elsewhere.post(SANDBOX, json={}).status_code == 200


def test_socket_io_joins_and_resets_count_as_sandboxes(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_SANDBOXES="2/minute")
    _, ann = joined(app)
    ann.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")  # a reload: nothing made
    received(ann, "progress")
    ann.emit("reset", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    received(ann, "sandbox", lambda e: e.get("stage") == "ready")
    _, bob = page_and_socket(app)  # a fresh cookie, the same address
    bob.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    assert received(bob, "failure")["message"].startswith("too many new sandboxes from your address")
    _, cho = page_and_socket(app, "10.9.9.9")
    cho.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    received(cho, "sandbox", lambda e: e.get("stage") == "ready")


def test_commands_per_address_are_one_budget_for_rest_and_socket_io(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_COMMANDS="3/minute")
    http, client = joined(app)
    assert http.post(CONSOLE, json=QUICK).status_code == 200
    assert app.test_client().post(CONSOLE, json=QUICK).status_code == 409  # counted: a fresh cookie, no sandbox
    client.emit("console", {"lesson": LESSON, "lang": "en", **QUICK}, namespace="/lab")
    received(client, "done")
    client.emit("console", {"lesson": LESSON, "lang": "en", **QUICK}, namespace="/lab")
    assert received(client, "failure")["message"].startswith("too many commands from your address (at most 3")
    refused = same_learner(app, http).post(CONSOLE, json=QUICK)
    assert refused.status_code == 429 and "too many commands from your address" in refused.get_json()["error"]


def test_joins_and_sign_ins_per_address(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_JOINS="2/minute", LABAPP_RATE_SIGNINS="2/minute")
    for _ in range(2):
        assert app.test_client().post("/api/join", json={"code": "ABCDEF", "name": "Ann"}).status_code == 404
    refused = app.test_client().post("/api/join", json={"code": "ABCDEF", "name": "Ann"})
    assert refused.status_code == 429 and "too many workshop joins from your address" in refused.get_json()["error"]
    form = app.test_client().post("/join", data={"code": "ABCDEF", "name": "Ann"})  # the page shares the budget
    assert form.status_code == 429 and "too many workshop joins" in form.get_data(as_text=True)
    for _ in range(2):
        assert app.test_client().post("/trainer/login", data={"token": "x"}).status_code == 400  # no form token
    page = app.test_client().post("/trainer/login", data={"token": TOKEN})
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "too many trainer sign-in attempts from your address" in page.get_data(as_text=True)


def test_an_empty_setting_switches_a_limit_off_and_a_bad_one_is_refused(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_JOINS="", LABAPP_JOIN_THROTTLE_FREE=1000)
    for _ in range(70):
        assert app.test_client().post("/api/join", json={"code": "ABCDEF", "name": "A"}).status_code == 404
    with pytest.raises(ConfigError, match="LABAPP_RATE_COMMANDS='lots' is not a rate limit"):
        make_app(tmp_path, LABAPP_RATE_COMMANDS="lots")


# --- the client's address -----------------------------------------------------------------

def test_forwarded_addresses_count_only_behind_a_trusted_proxy(tmp_path):
    spoofed = [{"X-Forwarded-For": f"10.0.0.{n}"} for n in range(3)]
    direct = make_app(tmp_path / "a", LABAPP_RATE_JOINS="2/minute")
    answers = [direct.test_client().post("/api/join", json={"code": "ABCDEF", "name": "A"}, headers=h)
               for h in spoofed]
    assert [a.status_code for a in answers] == [404, 404, 429]  # a header does not make a new address
    proxied = make_app(tmp_path / "b", LABAPP_RATE_JOINS="2/minute", LABAPP_TRUSTED_PROXIES=1)
    answers = [proxied.test_client().post("/api/join", json={"code": "ABCDEF", "name": "A"}, headers=h)
               for h in spoofed]
    assert [a.status_code for a in answers] == [404, 404, 404]  # the proxy says who each client is
    # Behind one proxy, only the address the proxy appended counts, not one the client wrote.
    chain = {"X-Forwarded-For": "1.1.1.1, 10.0.0.0"}
    answers = [proxied.test_client().post("/api/join", json={"code": "ABCDEF", "name": "A"}, headers=chain)
               for _ in range(2)]
    assert [a.status_code for a in answers] == [404, 429]


@pytest.mark.parametrize("remote,key", [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),  # one host may hold a whole /64
    ("::ffff:192.0.2.7", "192.0.2.7"),
])
def test_the_address_key(tmp_path, remote, key):
    app = make_app(tmp_path)
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": remote}):
        assert client_address() == key
