"""Workshops over a fake sandbox: the model's rules, the trainer's credentials, the API,
the join page and the live dashboard events."""
import time

import pytest

from labapp.capacity import host_capacity
from labapp.config import Settings
from labapp.lab import LabError
from labapp.web.events import socketio

from .helpers import LESSON, TOKEN, make_app, until


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
