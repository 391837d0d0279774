"""The web layer's limits (labapp/web/guard.py): commands in flight per learner, rate limits
per learner and per client address (which a new cookie does not reset), on REST and
Socket.IO alike; and what a member of a room sharing one address cannot do to the room."""
import re
import threading
import time

import pytest

from labapp.config import ConfigError
from labapp.web.events import socketio
from labapp.web.credentials import Refused
from labapp.web.guard import InFlight, client_address

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


def test_resets_while_the_sandbox_is_starting_cost_the_address_nothing(tmp_path):
    """A reset while the learner's sandbox is still being made (or waits its turn) makes
    nothing: pressed again and again, it must not drain the address's sandbox budget (the
    room behind it shares that budget)."""
    from .fakes import FakeSandbox

    gate = threading.Event()

    def slow(lesson, progress):
        gate.wait(10)
        return FakeSandbox(nodes=lesson.node_names)
    app = make_app(tmp_path, factory=slow, LABAPP_RATE_SANDBOXES="2/minute")
    lab = app.extensions["labapp"].services
    http, ann = page_and_socket(app)
    try:
        ann.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")  # 1 of 2: being made
        until(lambda: lab.lifecycle.status(learner_of(http))["state"] == "starting")
        for _ in range(5):
            ann.emit("reset", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
            received(ann, "sandbox", lambda e: e.get("stage") == "starting")
    finally:
        gate.set()
    until(lambda: lab.lifecycle.status(learner_of(http))["state"] == "ready")
    assert app.test_client().post(SANDBOX, json={}).status_code == 200  # 2 of 2: the resets cost nothing
    assert app.test_client().post(SANDBOX, json={}).status_code == 429


def test_refused_sandbox_requests_from_fresh_cookies_do_not_use_up_the_rooms_sandbox_budget(tmp_path):
    """One member of a room behind one address, with fresh cookies, asks for sandboxes that
    the cap per address refuses (REST, the page's join, its reset): they make nothing, so
    they cost the room's budget nothing, and the room's learners still get theirs."""
    app = make_app(tmp_path, LABAPP_RATE_SANDBOXES="5/minute", LABAPP_SANDBOXES_PER_ADDRESS=2)
    trainer = app.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    room = trainer.post("/api/workshops", json={"title": "Room", "lessons": [LESSON], "capacity": 5}).get_json()
    assert [app.test_client().post(SANDBOX, json={}).status_code for _ in range(2)] == [200, 200]  # 2 of 5 spent
    for _ in range(10):
        refused = app.test_client().post(SANDBOX, json={})
        assert refused.status_code == 429 and "your address already holds the most sandboxes" in refused.get_json()["error"]
    for event in ("join", "reset") * 5:
        _, page = page_and_socket(app)
        page.emit(event, {"lesson": LESSON, "lang": "en"}, namespace="/lab")
        assert "your address already holds the most sandboxes" in received(page, "failure")["message"]
    for n in range(3):  # the room's learners: the 3 made left of the 5
        learner = app.test_client()
        assert learner.post("/api/join", json={"code": room["code"], "name": f"L{n}"}).status_code == 200
        assert learner.post(SANDBOX, json={}).status_code == 200, n
    spent = app.test_client()
    assert spent.post("/api/join", json={"code": room["code"], "name": "L3"}).status_code == 200
    refused = spent.post(SANDBOX, json={})  # what was made is counted
    assert refused.status_code == 429 and "too many new sandboxes from your address" in refused.get_json()["error"]


def test_commands_per_address_are_one_budget_for_rest_and_socket_io(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_COMMANDS="3/minute")
    http, client = joined(app)
    assert http.post(CONSOLE, json=QUICK).status_code == 200
    assert app.test_client().post(CONSOLE, json=QUICK).status_code == 409  # not counted: no sandbox, no node
    client.emit("console", {"lesson": LESSON, "lang": "en", **QUICK}, namespace="/lab")
    received(client, "done")
    client.emit("console", {"lesson": LESSON, "lang": "en", **QUICK}, namespace="/lab")
    received(client, "done")
    client.emit("console", {"lesson": LESSON, "lang": "en", **QUICK}, namespace="/lab")
    assert received(client, "failure")["message"].startswith("too many commands from your address (at most 3")
    refused = same_learner(app, http).post(CONSOLE, json=QUICK)
    assert refused.status_code == 429 and "too many commands from your address" in refused.get_json()["error"]


def _csrf(http, path):
    return re.search(r'name="csrf" value="([^"]+)"', http.get(path).get_data(as_text=True)).group(1)


def test_wrong_join_codes_and_wrong_trainer_tokens_per_address(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_JOINS="2/minute", LABAPP_RATE_SIGNINS="2/minute")
    for _ in range(2):
        assert app.test_client().post("/api/join", json={"code": "ABCDEF", "name": "Ann"}).status_code == 404
    refused = app.test_client().post("/api/join", json={"code": "ABCDEF", "name": "Ann"})
    assert refused.status_code == 429
    assert refused.get_json()["error"].startswith("too many wrong join codes from your address (at most 2 per 1 "
                                                  "minute; everyone behind the same address counts together)")
    page = app.test_client()
    form = page.post("/join", data={"code": "ABCDEF", "name": "Ann", "csrf": _csrf(page, "/join")})
    assert form.status_code == 429 and "too many wrong join codes" in form.get_data(as_text=True)  # one budget
    for _ in range(2):  # forms without their CSRF token are not sign-in attempts: not counted
        assert app.test_client().post("/trainer/login", data={"token": "x"}).status_code == 400
    for _ in range(2):
        assert app.test_client().get("/api/workshops", headers={"Authorization": "Bearer nope"}).status_code == 403
    page = app.test_client()
    wrong = page.post("/trainer/login", data={"token": "nope", "csrf": _csrf(page, "/trainer/login")})
    assert wrong.status_code == 429 and "Retry-After" in wrong.headers  # the form and Bearer share the budget
    assert "too many wrong trainer tokens from your address" in wrong.get_data(as_text=True)


def test_an_empty_setting_switches_a_limit_off_and_a_bad_one_is_refused(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_JOINS="", LABAPP_JOIN_THROTTLE_FREE=1000)
    for _ in range(70):
        assert app.test_client().post("/api/join", json={"code": "ABCDEF", "name": "A"}).status_code == 404
    with pytest.raises(ConfigError, match="LABAPP_RATE_COMMANDS='lots' is not a rate limit"):
        make_app(tmp_path, LABAPP_RATE_COMMANDS="lots")
    with pytest.raises(ConfigError, match="LABAPP_RATE_COMMANDS_PER_LEARNER='2 a minute' is not a rate limit"):
        make_app(tmp_path, LABAPP_RATE_COMMANDS_PER_LEARNER="2 a minute")
    with pytest.raises(ConfigError, match="LABAPP_RATE_JOINS_PER_LEARNER='often' is not a rate limit"):
        make_app(tmp_path, LABAPP_RATE_JOINS_PER_LEARNER="often")


# --- a member of a room cannot use up the room's budget -----------------------------------

def test_refused_lines_from_a_fresh_cookie_do_not_use_up_the_rooms_command_budget(tmp_path):
    """The red team's attack, with the default limits: 1500 console lines the console refuses
    at once, from a fresh cookie with no sandbox, from the room's one address. They cost the
    attacker's own budget (120 a minute), not the address's (1500 a minute). The windows are
    a day here, the defaults' sizes, so that no window's end falls inside the loop (fixed
    windows: a minute's end would reset both counts and hide what is tested)."""
    app = make_app(tmp_path, LABAPP_RATE_COMMANDS_PER_LEARNER="120/day", LABAPP_RATE_COMMANDS="1500/day")
    room, client = joined(app)  # a learner of the room, behind the same address
    attacker = app.test_client()
    answers = [attacker.post(CONSOLE, json={"node": "manager1", "line": "x"}).status_code for _ in range(1500)]
    assert answers[:120] == [422] * 120  # refused by the console: "'x' cannot run on a node"
    assert set(answers[120:]) == {429}  # then the attacker's own budget is spent
    refused = attacker.post(CONSOLE, json=QUICK)
    assert refused.get_json()["error"].startswith("too many commands from you (at most 120 per 1 day); try again")
    for _ in range(3):  # the room works on
        client.emit("console", {"lesson": LESSON, "lang": "en", **QUICK}, namespace="/lab")
        received(client, "done")
    assert room.post(CONSOLE, json=QUICK).status_code == 200


def test_only_commands_that_reach_a_node_cost_the_address(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_COMMANDS="3/minute")
    http, client = joined(app)
    fresh = app.test_client()  # no sandbox: nothing it sends reaches a node
    assert fresh.post(CONSOLE, json=QUICK).status_code == 409
    assert fresh.post(f"/api/lessons/{LESSON}/steps/swarm/run", json={"block": 0}).status_code == 409
    assert fresh.post(f"/api/lessons/{LESSON}/steps/swarm/check", json={}).status_code == 409
    refusals = [  # the learner with a sandbox, but nothing reaches a node either
        (CONSOLE, {"node": "manager1", "line": "rm -rf /"}, 422),  # the console refuses it
        (CONSOLE, {"node": "manager1", "line": "docker exec -it alpine1 ash"}, 422),  # no terminal over REST
        (CONSOLE, {"node": "nowhere", "line": "docker ps"}, 503),  # no such node
        (f"/api/lessons/{LESSON}/steps/nope/check", {}, 404),  # no such step
        (f"/api/lessons/{LESSON}/steps/swarm/run", {"block": 99}, 404),  # no such block
    ]
    for path, body, status in refusals:
        assert http.post(path, json=body).status_code == status, (path, body)
    client.emit("console", {"lesson": LESSON, "lang": "en", "node": "manager1", "line": "rm -rf /"},
                namespace="/lab")
    received(client, "refused")
    for _ in range(3):  # the address's 3 are all still there
        assert http.post(CONSOLE, json=QUICK).status_code == 200
    refused = http.post(f"/api/lessons/{LESSON}/steps/swarm/check", json={})
    assert refused.status_code == 429 and "too many commands from your address" in refused.get_json()["error"]


def test_a_learners_own_command_budget_counts_rest_and_socket_io_together(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_COMMANDS_PER_LEARNER="3/minute")
    http, client = joined(app)
    assert http.post(CONSOLE, json=QUICK).status_code == 200
    assert http.post(CONSOLE, json={"node": "manager1", "line": "rm -rf /"}).status_code == 422  # counted too
    client.emit("console", {"lesson": LESSON, "lang": "en", **QUICK}, namespace="/lab")
    received(client, "done")
    client.emit("check", {"lesson": LESSON, "lang": "en", "step": "swarm"}, namespace="/lab")
    assert received(client, "failure")["message"].startswith("too many commands from you (at most 3 per 1 minute)")
    refused = http.post(CONSOLE, json=QUICK)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    other, _ = joined(app)  # another learner behind the same address has their own
    assert other.post(CONSOLE, json=QUICK).status_code == 200


def test_the_learners_budget_is_said_in_korean_on_a_korean_page(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_COMMANDS_PER_LEARNER="1/minute")
    _, client = joined(app, lang="ko")
    client.emit("console", {"lesson": LESSON, "lang": "ko", **QUICK}, namespace="/lab")
    received(client, "done")
    client.emit("console", {"lesson": LESSON, "lang": "ko", **QUICK}, namespace="/lab")
    message = received(client, "failure")["message"]
    assert "명령" in message and "1분에 1" in message and "too many" not in message, message


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
