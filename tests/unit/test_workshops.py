"""Workshops over a fake sandbox: the model's rules, the trainer's credentials, the API,
the join page and the live dashboard events."""
import re
import threading
import time

import pytest

from labapp.capacity import host_capacity
from labapp.config import Settings
from labapp.lab import LabError
from labapp.web.events import socketio

from .helpers import LESSON, TOKEN, client_at, learner_of, make_app, page_and_socket, received, same_learner, until


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, max_sandboxes=30)


@pytest.fixture
def trainer(app):
    http = app.test_client()
    http.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return http


def _make(trainer, capacity=3, **extra):
    answer = trainer.post("/api/workshops", json={"title": "Onboarding", "lessons": [LESSON],
                                                  "capacity": capacity, **extra})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _learner(app, code, name):
    http = app.test_client()
    http.get("/")
    return http, http.post("/api/join", json={"code": code, "name": name})


def test_creating_a_workshop_needs_the_trainer(app):
    http = app.test_client()
    body = {"title": "T", "lessons": [LESSON], "capacity": 2}
    assert http.post("/api/workshops", json=body).status_code == 401
    wrong = http.post("/api/workshops", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and "trainer token is not right" in wrong.get_json()["error"]
    assert http.get("/api/workshops").status_code == 401


def test_a_workshop_gets_a_short_code_a_link_and_a_qr_code(app, trainer):
    made = _make(trainer)
    assert len(made["code"]) == 6 and made["code"].isalnum() and made["link"].endswith(f"/w/{made['code']}")
    page = app.test_client()
    page.post("/trainer/login", data={"token": TOKEN, "csrf": _csrf(page, "/trainer/login")})
    dashboard = page.get(f"/trainer/workshops/{made['id']}").get_data(as_text=True)
    assert made["code"] in dashboard and "<svg" in dashboard


def _csrf(http, path):
    import re

    text = http.get(path).get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', text).group(1)


@pytest.mark.parametrize("body,status,words", [
    ({"title": "", "lessons": [LESSON], "capacity": 2}, 400, "needs a title"),
    ({"title": "T", "lessons": ["nope"], "capacity": 2}, 400, "there is no lesson 'nope'"),
    ({"title": "T", "lessons": [LESSON], "capacity": 0}, 400, "capacity is the number of learners"),
    ({"title": "T", "lessons": [LESSON], "capacity": 2, "minutes": 5}, 400, "duration is in whole minutes"),
    ({"title": "T", "lessons": [LESSON], "capacity": 2, "starts": 1000}, 400, "would be over already"),
    ({"title": "T", "lessons": [LESSON], "capacity": 31}, 409,
     "a workshop of 31 learners does not fit: this lab holds 30 sandboxes at once"),
])
def test_bad_workshops_are_refused_with_what_to_fix(trainer, body, status, words):
    answer = trainer.post("/api/workshops", json=body)
    assert answer.status_code == status and words in answer.get_json()["error"]


def test_overlapping_workshops_share_the_host(trainer):
    _make(trainer, capacity=20, title="Morning")
    later = trainer.post("/api/workshops", json={"title": "Also now", "lessons": [LESSON], "capacity": 15})
    assert later.status_code == 409
    assert "20 places are already promised to 'Morning'" in later.get_json()["error"]
    assert "at most 9 more fit" in later.get_json()["error"]  # 30 - 20 - 1 in the standing pool
    tomorrow = trainer.post("/api/workshops", json={"title": "Tomorrow", "lessons": [LESSON], "capacity": 15,
                                                    "starts": time.time() + 86400})
    assert tomorrow.status_code == 201


def test_the_host_capacity_names_its_numbers():
    capacity = host_capacity(Settings(node_memory_plan="192m", sandboxes_per_core="10"), memory=24 * 1024**3, cores=2)
    assert capacity.sandboxes == 20 and capacity.by_memory == 34 and capacity.by_cpu == 20
    assert "by CPU 2 cores x 10 per core = 20" in capacity.explain()


def test_joining_wrong_code_full_duplicate_name_and_ended(app, trainer):
    made = _make(trainer, capacity=2)
    _, wrong = _learner(app, "ZZZZZZ", "Ann")
    assert wrong.status_code == 404 and "no workshop has the code 'ZZZZZZ'" in wrong.get_json()["error"]
    ann, ok_ = _learner(app, made["code"].lower(), "Ann")  # codes are read aloud: case does not matter
    assert ok_.status_code == 200 and ok_.get_json()["lesson"] == LESSON
    _, twin = _learner(app, made["code"], "ann")
    assert twin.status_code == 409 and "already called 'Ann'" in twin.get_json()["error"]
    assert ann.post("/api/join", json={"code": made["code"], "name": "Ann"}).status_code == 200  # rejoin is fine
    _learner(app, made["code"], "Bob")
    _, full = _learner(app, made["code"], "Cho")
    assert full.status_code == 409 and "is full (2 of 2 places taken)" in full.get_json()["error"]
    assert trainer.post(f"/api/workshops/{made['id']}/end", json={}).status_code == 200
    _, late = _learner(app, made["code"], "Dan")
    assert late.status_code == 410 and "has ended" in late.get_json()["error"]
    again = trainer.post(f"/api/workshops/{made['id']}/end", json={})
    assert again.status_code == 410


def test_the_join_page_shows_problems_in_words(app, trainer):
    made = _make(trainer)
    http = app.test_client()
    token = _csrf(http, f"/w/{made['code']}")
    answer = http.post("/join", data={"code": "WRONG1", "name": "Ann", "csrf": token})
    assert answer.status_code == 404 and "no workshop has the code" in answer.get_data(as_text=True)
    answer = http.post("/join", data={"code": made["code"], "name": "Ann", "csrf": token})
    assert answer.status_code == 302 and f"/lessons/{LESSON}" in answer.headers["Location"]
    forged = app.test_client().post("/join", data={"code": made["code"], "name": "Eve"})
    assert forged.status_code == 400 and "the form expired" in forged.get_data(as_text=True)


def test_roster_marks_a_learner_stuck_after_repeated_failures_and_results_export(app, trainer):
    made = _make(trainer)
    ann, _ = _learner(app, made["code"], "=Ann")  # a formula-looking name stays text in the CSV
    ann.post(f"/api/lessons/{LESSON}/sandbox", json={})
    for _ in range(3):
        ann.post(f"/api/lessons/{LESSON}/steps/swarm/check", json={})
    roster = trainer.get(f"/api/workshops/{made['id']}").get_json()
    [row] = roster["learners"]
    assert row["step"] == "swarm" and row["checks"]["failed"] == 3
    assert row["stuck"] == "failed the check of this step 3 times in a row"
    assert row["sandbox"] == "ready"
    csv_text = trainer.get(f"/api/workshops/{made['id']}/results.csv").get_data(as_text=True)
    assert csv_text.splitlines()[0] == "name,lesson,step_number,step,status,checks,passed_at"
    assert f"'=Ann,{LESSON},1,swarm,failed,3," in csv_text
    results = trainer.get(f"/api/workshops/{made['id']}/results.json").get_json()
    assert results["results"][0]["checks"] == 3


def test_roster_marks_a_learner_stuck_whose_checks_stay_unjudged(app, trainer):
    """Uncertain verdicts are no failed attempts (tests/unit/test_converging.py counts them on
    the seat); three in a row on the step mark the learner stuck all the same."""
    made = _make(trainer)
    ann, _ = _learner(app, made["code"], "Ann")
    ann.post(f"/api/lessons/{LESSON}/sandbox", json={})
    lab = app.extensions["labapp"].services
    [row] = trainer.get(f"/api/workshops/{made['id']}").get_json()["learners"]
    seat = lab.seats.get(row["learner"])
    seat.unjudged[(LESSON, row["step"])] = 2
    assert trainer.get(f"/api/workshops/{made['id']}").get_json()["learners"][0]["stuck"] is None
    seat.unjudged[(LESSON, row["step"])] = 3
    [row] = trainer.get(f"/api/workshops/{made['id']}").get_json()["learners"]
    assert row["stuck"] == ("the check of this step could not be judged 3 times in a row (the swarm was still "
                            "converging)")
    assert row["checks"] == {"passed": 0, "failed": 0}


def test_trainer_actions_on_a_learner_who_left_or_a_wrong_step(app, trainer):
    made = _make(trainer)
    ann, joined = _learner(app, made["code"], "Ann")
    learner = trainer.get(f"/api/workshops/{made['id']}").get_json()["learners"][0]["learner"]
    bad = trainer.post(f"/api/workshops/{made['id']}/learners/{learner}/reset", json={"step": "nope"})
    assert bad.status_code == 400 and "has no step 'nope'" in bad.get_json()["error"]
    app.extensions["labapp"].services.workshops.leave(made["id"], learner)
    gone = trainer.post(f"/api/workshops/{made['id']}/learners/{learner}/reset", json={})
    assert gone.status_code == 409 and "Ann left the workshop" in gone.get_json()["error"]
    nobody = trainer.post(f"/api/workshops/{made['id']}/learners/nobody/reset", json={})
    assert nobody.status_code == 404


def test_the_dashboard_is_live_and_ending_tells_learners_why(app, trainer):
    made = _make(trainer)
    board_http = app.test_client()
    board_http.post("/trainer/login", data={"token": TOKEN, "csrf": _csrf(board_http, "/trainer/login")})
    board = socketio.test_client(app, namespace="/trainer", flask_test_client=board_http)
    assert board.is_connected("/trainer")
    assert not socketio.test_client(app, namespace="/trainer").is_connected("/trainer")  # not a trainer
    board.emit("watch", {"workshop": made["id"]}, namespace="/trainer")
    first = _received(board, "roster")
    assert first["learners"] == []
    ann, _ = _learner(app, made["code"], "Ann")
    assert [r["name"] for r in _received(board, "roster")["learners"]] == ["Ann"]
    page = socketio.test_client(app, namespace="/lab", flask_test_client=ann)
    page.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    assert _received(page, "workshop")["title"] == "Onboarding"
    _received(page, "sandbox", lambda e: e.get("stage") == "ready")
    board.emit("broadcast", {"workshop": made["id"], "message": "Break until 11:00"}, namespace="/trainer")
    assert _received(page, "broadcast")["message"] == "Break until 11:00"
    learner = _received(board, "roster")["learners"][0]["learner"]
    board.emit("learner", {"workshop": made["id"], "learner": learner}, namespace="/trainer")
    assert _received(board, "learner")["name"] == "Ann"
    board.emit("end", {"workshop": made["id"]}, namespace="/trainer")
    assert "has ended" in _received(page, "expired")["reason"]
    assert app.extensions["labapp"].services.lifecycle.status(learner)["state"] == "none"
    board.emit("end", {"workshop": made["id"]}, namespace="/trainer")
    assert "has already ended" in _received(board, "failure")["message"]


def _received(client, name, match=lambda e: True, timeout=5):
    namespace = "/trainer" if client.is_connected("/trainer") else "/lab"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in client.get_received(namespace):
            if event["name"] == name and match(event["args"][0]):
                return event["args"][0]
        time.sleep(0.02)
    raise AssertionError(f"no {name} event")


def test_metrics_speak_prometheus(app, trainer):
    text = app.test_client().get("/metrics").get_data(as_text=True)
    for name in ("labapp_sandboxes_running", "labapp_sandboxes_pooled", "labapp_time_to_ready_seconds_count",
                 'labapp_checks_total{result="failed"}', "labapp_console_refusals_total", "labapp_workshops_open"):
        assert name in text
    http = app.test_client()
    http.get("/")
    http.post(f"/api/lessons/{LESSON}/console", json={"node": "manager1", "line": "rm -rf /"})
    assert "labapp_console_refusals_total 1" in app.test_client().get("/metrics").get_data(as_text=True)


def test_a_trainer_reset_replays_up_to_the_chosen_step(app, trainer):
    made = _make(trainer)
    ann, _ = _learner(app, made["code"], "Ann")
    ann.post(f"/api/lessons/{LESSON}/sandbox", json={})
    lab = app.extensions["labapp"].services
    learner = trainer.get(f"/api/workshops/{made['id']}").get_json()["learners"][0]["learner"]
    first = lab.seats.get(learner).sandbox
    lab.workshops.reset(made["id"], learner, "overlay")
    until(lambda: lab.seats.get(learner).sandbox not in (None, first))
    fresh = lab.seats.get(learner).sandbox
    assert any("docker node ls" in line for _, line in fresh.ran)  # step 1's solution replayed
    assert lab.store.progress(learner, LESSON) == {}  # a reset does not pass steps for them
    with pytest.raises(LabError):
        lab.workshops.reset(made["id"], "nobody")


def test_a_body_that_is_not_an_object_is_a_400_like_the_rest_of_the_api(trainer):
    answer = trainer.post("/api/workshops", json=["not", "an", "object"])
    assert answer.status_code == 400 and answer.get_json() == {"error": "the body must be a JSON object"}


# --- removing a participant -----------------------------------------------------------------

def _learner_id(trainer, wid, name):
    return next(r["learner"] for r in trainer.get(f"/api/workshops/{wid}").get_json()["learners"] if r["name"] == name)


def test_the_trainer_removes_a_squatter_freeing_the_seat_the_name_and_the_sandbox(app, trainer):
    made = _make(trainer, capacity=2)
    squatter, joined = _learner(app, made["code"], "Ann")  # took a colleague's name
    assert joined.status_code == 200
    assert squatter.post(f"/api/lessons/{LESSON}/sandbox", json={}).status_code == 200
    page = socketio.test_client(app, namespace="/lab", flask_test_client=squatter)
    _learner(app, made["code"], "Bob")
    ann, taken = _learner(app, made["code"], "ann")
    assert taken.status_code == 409 and "already called 'Ann'" in taken.get_json()["error"]
    _, full = _learner(app, made["code"], "Cho")
    assert full.status_code == 409 and "is full" in full.get_json()["error"]
    learner = _learner_id(trainer, made["id"], "Ann")
    path = f"/api/workshops/{made['id']}/learners/{learner}"
    assert app.test_client().delete(path).status_code == 401  # the trainer only
    assert squatter.delete(path).status_code == 401
    forged = trainer.delete(path, headers={"Origin": "http://evil.example"})
    assert forged.status_code == 403 and "are not accepted here" in forged.get_json()["error"]
    removed = trainer.delete(path)
    assert removed.status_code == 200 and removed.get_json() == {"learner": learner, "name": "Ann", "removed": True}
    assert "your trainer removed you from the workshop 'Onboarding'" in _received(page, "expired")["reason"]
    assert app.extensions["labapp"].services.lifecycle.status(learner)["state"] == "none"
    assert ann.post("/api/join", json={"code": made["code"], "name": "Ann"}).status_code == 200  # seat and name
    roster = trainer.get(f"/api/workshops/{made['id']}").get_json()["learners"]
    assert sorted(r["name"] for r in roster) == ["Ann", "Bob"] and learner not in {r["learner"] for r in roster}
    again = squatter.post("/api/join", json={"code": made["code"], "name": "Someone else"})
    assert again.status_code == 409
    assert again.get_json()["error"] == ("your trainer removed you from the workshop 'Onboarding'; this browser "
                                         "cannot join it again")
    assert trainer.delete(path).status_code == 404
    assert trainer.delete(f"/api/workshops/nope/learners/{learner}").status_code == 404
    results = trainer.get(f"/api/workshops/{made['id']}/results.json").get_json()["results"]
    assert {r["name"] for r in results} == {"Ann", "Bob"}


def test_a_sandbox_being_made_when_its_learner_is_removed_does_not_stay_theirs(tmp_path):
    """The squatter asks for a sandbox and is removed while it is being made: once made, it
    is removed too (else they would keep it after the removal)."""
    from .fakes import FakeEngine, FakeSandbox

    gate, made_ones = threading.Event(), []

    class Kept(FakeSandbox):
        destroyed = False

        def destroy(self):
            self.destroyed = True

    def slow(lesson, progress):
        gate.wait(10)
        made_ones.append(Kept(FakeEngine(), nodes=lesson.node_names))
        return made_ones[-1]
    app = make_app(tmp_path, factory=slow, max_sandboxes=10)
    trainer = app.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    made = _make(trainer)
    squatter, _ = _learner(app, made["code"], "Mallory")
    learner = _learner_id(trainer, made["id"], "Mallory")
    lab = app.extensions["labapp"].services
    answers = []
    asking = threading.Thread(target=lambda: answers.append(_sandbox(squatter)))
    asking.start()
    until(lambda: lab.lifecycle.status(learner)["state"] == "starting")
    assert trainer.delete(f"/api/workshops/{made['id']}/learners/{learner}").status_code == 200
    gate.set()
    asking.join(10)
    until(lambda: lab.lifecycle.status(learner)["state"] == "none" and made_ones and made_ones[0].destroyed)
    assert lab.seats.live() == 0


def test_the_dashboard_removes_a_learner_over_socket_io(app, trainer):
    made = _make(trainer)
    board_http = app.test_client()
    board_http.post("/trainer/login", data={"token": TOKEN, "csrf": _csrf(board_http, "/trainer/login")})
    page = board_http.get(f"/trainer/workshops/{made['id']}").get_data(as_text=True)
    assert 'data-remove="Remove"' in page and "data-remove-confirm=" in page
    board = socketio.test_client(app, namespace="/trainer", flask_test_client=board_http)
    board.emit("watch", {"workshop": made["id"]}, namespace="/trainer")
    _received(board, "roster")
    _learner(app, made["code"], "Mallory")
    learner = _received(board, "roster", lambda r: r["learners"])["learners"][0]["learner"]
    board.emit("remove", {"workshop": made["id"], "learner": learner}, namespace="/trainer")
    assert _received(board, "notice")["message"] == ("Mallory was removed from the workshop: their place and name "
                                                     "are free, and their browser cannot join it again")
    assert _received(board, "roster", lambda r: not r["learners"])["learners"] == []
    board.emit("remove", {"workshop": made["id"], "learner": learner}, namespace="/trainer")
    assert "is not in this workshop" in _received(board, "failure")["message"]
    board.emit("remove", {"workshop": made["id"]}, namespace="/trainer")
    assert "needs 'learner'" in _received(board, "failure")["message"]


# --- sandboxes per address, workshops' places, workshop-only labs -----------------------------

NAT = "198.51.100.7"  # the one address a room reaches the lab from


def _sandbox(http):
    return http.post(f"/api/lessons/{LESSON}/sandbox", json={})


def test_one_address_cannot_take_the_whole_lab_with_many_cookies(tmp_path):
    """The red team's attack: N cookies from one address took an N-sandbox lab, and the next
    learner got 503. By default one address holds at most 3 sandboxes outside workshops."""
    app = make_app(tmp_path, max_sandboxes=4)
    answers = [_sandbox(client_at(app, NAT)) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    refused = answers[3]
    assert refused.status_code == 429
    assert re.fullmatch(r"your address already holds the most sandboxes one address may hold at once outside a "
                        r"workshop \(3\): if you are in a workshop, join it first with your trainer's code; "
                        r"otherwise try again in 3[01] minutes, when an unused one is removed",
                        refused.get_json()["error"])
    assert _sandbox(client_at(app, "203.0.113.9")).status_code == 200  # another learner still gets one
    http, client = page_and_socket(app, NAT, lang="ko")  # the page says it in its language
    client.emit("join", {"lesson": LESSON, "lang": "ko"}, namespace="/lab")
    message = received(client, "failure")["message"]
    assert "주소" in message and "(3개)" in message and "sandboxes" not in message, message


def test_fresh_cookies_racing_from_one_address_or_writing_x_forwarded_for_still_get_three(tmp_path):
    """Eight fresh cookies ask at the same moment, each with an X-Forwarded-For of its own:
    with no trusted proxy the header is not an address, and the starts under way count."""
    from .fakes import FakeEngine, FakeSandbox

    gate = threading.Event()

    def slow(lesson, progress):
        gate.wait(10)
        return FakeSandbox(FakeEngine(), nodes=lesson.node_names)
    app = make_app(tmp_path, factory=slow, max_sandboxes=20)
    clients = [client_at(app, NAT) for _ in range(8)]
    for http in clients:
        http.get("/")
    start, answers = threading.Barrier(len(clients)), {}

    def ask(n, http):
        start.wait()
        answers[n] = http.post(f"/api/lessons/{LESSON}/sandbox", json={},
                               headers={"X-Forwarded-For": f"10.9.9.{n}"}).status_code
    threads = [threading.Thread(target=ask, args=(n, http)) for n, http in enumerate(clients)]
    for thread in threads:
        thread.start()
    until(lambda: len(answers) == 5)  # five refused while three are being made
    gate.set()
    for thread in threads:
        thread.join(10)
    assert sorted(answers.values()) == [200] * 3 + [429] * 5
    assert app.extensions["labapp"].services.seats.live() == 3


def test_asking_again_from_a_second_address_does_not_move_a_sandbox_there(tmp_path):
    """Three cookies hold the three sandboxes of address A; each asks again (nothing to make)
    from address B, over REST and over the page. Were the sandboxes moved to B unchecked, A
    would have its three places back, and two addresses would hold any number."""
    app = make_app(tmp_path, max_sandboxes=20)
    holders = [client_at(app, NAT) for _ in range(3)]
    assert [_sandbox(http).status_code for http in holders] == [200] * 3
    for http in holders:
        http.environ_base["REMOTE_ADDR"] = "203.0.113.77"
        assert _sandbox(http).status_code == 200  # nothing made
        page = socketio.test_client(app, namespace="/lab", flask_test_client=http)
        page.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
        received(page, "progress")
    assert _sandbox(client_at(app, NAT)).status_code == 429
    assert [_sandbox(client_at(app, "203.0.113.77")).status_code for _ in range(4)] == [200] * 3 + [429]


def test_the_cap_per_address_setting(tmp_path):
    from labapp.config import ConfigError

    with pytest.raises(ConfigError, match=r"LABAPP_SANDBOXES_PER_ADDRESS=-1: write a whole number, 0 for no limit"):
        make_app(tmp_path / "a", LABAPP_SANDBOXES_PER_ADDRESS=-1)
    with pytest.raises(ConfigError, match=r"LABAPP_SANDBOXES_PER_ADDRESS='three' is not a whole number"):
        Settings.from_env({"LABAPP_SANDBOXES_PER_ADDRESS": "three"})
    with pytest.raises(ConfigError, match=r"LABAPP_WORKSHOP_ONLY='maybe': write 1 or 0"):
        Settings.from_env({"LABAPP_WORKSHOP_ONLY": "maybe"})
    off = make_app(tmp_path / "b", max_sandboxes=10, LABAPP_SANDBOXES_PER_ADDRESS=0)  # 0: no cap
    assert [_sandbox(client_at(off, NAT)).status_code for _ in range(5)] == [200] * 5


def test_resetting_ones_own_sandbox_is_not_a_new_one_and_a_freed_place_is_free(tmp_path):
    app = make_app(tmp_path, max_sandboxes=10, LABAPP_SANDBOXES_PER_ADDRESS=2)
    first, second = client_at(app, NAT), client_at(app, NAT)
    assert _sandbox(first).status_code == 200 and _sandbox(second).status_code == 200
    _, client = page_and_socket(app, NAT)
    client.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    assert "workshop (2): if you are in a workshop" in received(client, "failure")["message"]
    http = same_learner(app, first)
    http.environ_base["REMOTE_ADDR"] = NAT
    assert http.delete("/api/sandbox").status_code == 200  # one is given back
    client.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    received(client, "sandbox", lambda e: e.get("stage") == "ready")
    client.emit("reset", {"lesson": LESSON, "lang": "en"}, namespace="/lab")  # the learner's own: not one more
    received(client, "sandbox", lambda e: e.get("stage") == "ready")


def test_a_room_of_50_behind_one_address_gets_its_sandboxes(tmp_path):
    app = make_app(tmp_path, max_sandboxes=60)
    trainer = app.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    made = _make(trainer, capacity=50)
    for n in range(50):
        http = client_at(app, NAT)
        assert http.post("/api/join", json={"code": made["code"], "name": f"Learner {n}"}).status_code == 200
        started = _sandbox(http)
        assert started.status_code == 200, (n, started.get_json())
    lab = app.extensions["labapp"].services
    assert lab.seats.live() == 50
    assert [_sandbox(client_at(app, NAT)).status_code for _ in range(4)] == [200, 200, 200, 429]  # self-paced: 3


def test_a_workshops_places_are_kept_from_self_paced_learners(tmp_path):
    app = make_app(tmp_path, max_sandboxes=6)
    trainer = app.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    later = _make(trainer, capacity=4, title="Tomorrow", starts=time.time() + 86400)
    made = _make(trainer, capacity=4, title="Now")
    assert [_sandbox(client_at(app, f"203.0.113.{n}")).status_code for n in range(2)] == [200, 200]
    kept = _sandbox(client_at(app, "203.0.113.50"))  # 6 - 2 held - 4 kept for 'Now' ('Tomorrow' keeps none yet)
    assert kept.status_code == 503 and int(kept.headers["Retry-After"]) >= 60
    assert kept.get_json()["error"].startswith("the lab's free places are kept for a workshop now: if you are in it, "
                                               "join it with your trainer's code; otherwise try again in")
    for n in range(4):  # the room takes its four, from one address
        http = client_at(app, NAT)
        assert http.post("/api/join", json={"code": made["code"], "name": f"Learner {n}"}).status_code == 200
        assert _sandbox(http).status_code == 200, n
    late = client_at(app, NAT)
    assert late.post("/api/join", json={"code": later["code"], "name": "Early bird"}).status_code == 200
    full = _sandbox(late)  # the host is full: 6 of 6
    assert full.status_code == 503 and full.get_json()["error"].startswith("the lab is full, try again in")


def test_a_code_given_out_ahead_is_no_way_around_the_cap_on_one_address(tmp_path):
    """A workshop's code, given out (or leaked) the day before: those who join it are
    self-paced until 15 minutes before it starts, with the cap on one address."""
    app = make_app(tmp_path, max_sandboxes=20)
    trainer = app.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    later = _make(trainer, capacity=10, title="Tomorrow", starts=time.time() + 86400)
    answers = []
    for n in range(5):
        http = client_at(app, NAT)
        assert http.post("/api/join", json={"code": later["code"], "name": f"Early {n}"}).status_code == 200
        answers.append(_sandbox(http).status_code)
    assert answers == [200] * 3 + [429] * 2
    soon = make_app(tmp_path / "b", max_sandboxes=20, LABAPP_WORKSHOP_ONLY=True)
    trainer = soon.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    in_an_hour = _make(trainer, title="In an hour", starts=time.time() + 3600)
    early, _ = _learner(soon, in_an_hour["code"], "Ann")
    refused = _sandbox(early)
    assert refused.status_code == 403
    assert re.fullmatch(r"the workshop you joined has not begun yet: its learners get sandboxes in 4[56] minutes, "
                        r"shortly before it starts", refused.get_json()["error"])
    starting = _make(trainer, title="In ten minutes", starts=time.time() + 600)
    on_time, _ = _learner(soon, starting["code"], "Bo")
    assert _sandbox(on_time).status_code == 200  # its places are kept, and its learners get them


def test_resets_take_nothing_the_pool_keeps_for_the_learners_still_to_come(tmp_path):
    """A workshop's reservation in the warm pool is for its learners' first sandboxes: a
    learner who resets (Socket.IO) or releases and starts again (REST) gets a new one made,
    and the room's late arrivals still find theirs ready."""
    app = make_app(tmp_path, max_sandboxes=30)
    lab = app.extensions["labapp"].services
    trainer = app.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    made = _make(trainer, capacity=3)
    lesson = lab.catalog.get(LESSON, "en")
    lab.workshops.tick()  # the workshop has begun: the pool keeps 3 for it
    for _ in range(3):
        lab.pool.adopt(lab.backend.create(lesson, lambda stage: None), lesson.shape)
    hits = lambda: lab.metrics.pool_hits._value.get()  # noqa: E731
    ann, _ = _learner(app, made["code"], "Ann")
    assert _sandbox(ann).status_code == 200 and hits() == 1 and lab.pool.count() == 2
    for _ in range(3):  # release and start again, three times: made anew, the pool untouched
        assert ann.delete("/api/sandbox").status_code == 200
        assert _sandbox(ann).status_code == 200
    ann.get(f"/lessons/{LESSON}?lang=en")
    client = socketio.test_client(app, namespace="/lab", flask_test_client=ann)
    client.emit("reset", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    received(client, "sandbox", lambda e: e.get("stage") == "ready")
    assert hits() == 1 and lab.pool.count() == 2
    bo, _ = _learner(app, made["code"], "Bo")  # a late arrival: theirs is ready
    assert _sandbox(bo).status_code == 200 and hits() == 2 and lab.pool.count() == 1


def test_a_workshop_only_lab_gives_sandboxes_to_workshop_learners_only(tmp_path):
    app = make_app(tmp_path, max_sandboxes=10, LABAPP_WORKSHOP_ONLY=True)
    assert app.extensions["labapp"].services.pool.standing_size == 0  # no self-paced learner to pool for
    trainer = app.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    made = _make(trainer)
    alone = app.test_client()
    refused = _sandbox(alone)
    assert refused.status_code == 403
    assert refused.get_json()["error"] == ("this lab gives sandboxes only to the learners of a workshop: join yours "
                                           "with the code your trainer gives you (at /join), then open the lesson "
                                           "again")
    _, client = page_and_socket(app, lang="ko")
    client.emit("join", {"lesson": LESSON, "lang": "ko"}, namespace="/lab")
    message = received(client, "failure")["message"]
    assert "워크숍" in message and "/join" in message and "only" not in message, message
    member, joined = _learner(app, made["code"], "Ann")
    assert joined.status_code == 200 and _sandbox(member).status_code == 200
    learner = _learner_id(trainer, made["id"], "Ann")
    trainer.delete(f"/api/workshops/{made['id']}/learners/{learner}")
    assert _sandbox(member).status_code == 403  # removed: no longer in a workshop
    assert Settings.from_env({"LABAPP_WORKSHOP_ONLY": "1"}).workshop_only is True


def test_a_reset_on_a_full_lab_keeps_the_learners_sandbox(tmp_path):
    """Reset replaces the learner's sandbox with a fresh one, admitted as a replacement while
    the old one is still theirs: another learner asking at that moment finds the lab full,
    and the one resetting is never left with none (with release first, then a new admission,
    the other learner took the place in between)."""
    app = make_app(tmp_path, max_sandboxes=2)
    lab = app.extensions["labapp"].services
    lesson = lab.catalog.get(LESSON, "en")
    lab.lifecycle.ensure("bob", lesson, lambda stage: None)
    _, client = page_and_socket(app, NAT)
    client.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    received(client, "sandbox", lambda e: e.get("stage") == "ready")
    ann = next(s for s in lab.seats.all() if s.learner != "bob")
    before = ann.sandbox
    assert before is not None and lab.admission.room() == 0  # the lab is full
    carol = []

    def destroy_then_carol_asks(destroy=before.destroy):
        destroy()
        try:
            carol.append(lab.lifecycle.ensure("carol", lesson, lambda stage: None))
        except LabError as exc:
            carol.append(str(exc))
    before.destroy = destroy_then_carol_asks
    client.get_received("/lab")
    client.emit("reset", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    heard = []
    until(lambda: heard.extend(client.get_received("/lab")) or any(
        e["name"] == "failure" or (e["name"] == "sandbox" and e["args"][0].get("stage") == "ready") for e in heard))
    assert [e["args"][0]["message"] for e in heard if e["name"] == "failure"] == []
    assert ann.sandbox is not None and ann.sandbox is not before
    assert len(carol) == 1 and str(carol[0]).startswith("the lab is full")


def test_a_trainer_reset_that_cannot_make_the_sandbox_tells_the_learner_and_the_dashboard(tmp_path):
    from labapp.errors import SandboxCreateError
    from .fakes import FakeEngine, FakeSandbox

    made_boxes = []

    def factory(lesson, progress):
        if made_boxes:  # every sandbox after the first fails to start
            raise SandboxCreateError("node manager1 of sandbox x could not start its engine")
        made_boxes.append(FakeSandbox(FakeEngine(), nodes=lesson.node_names))
        return made_boxes[-1]
    app = make_app(tmp_path, factory=factory)
    trainer = app.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    made = _make(trainer)
    ann, _ = _learner(app, made["code"], "Ann")
    assert ann.post(f"/api/lessons/{LESSON}/sandbox", json={}).status_code == 200
    lab = app.extensions["labapp"].services
    learner = trainer.get(f"/api/workshops/{made['id']}").get_json()["learners"][0]["learner"]
    told, changed = [], []
    lab.events.notify = lambda who, event: told.append((who, event))
    on_change = lab.workshops.on_change
    lab.workshops.on_change = lambda wid: (changed.append(wid), on_change(wid))
    lab.workshops.reset(made["id"], learner)
    until(lambda: changed)
    failures = [str(e["message"]) for who, e in told if who == learner and e["type"] == "failure"]
    assert failures and failures[0].startswith("the reset did not work: node manager1 of sandbox x could not start")
    assert not lab.seats.get(learner).starting
