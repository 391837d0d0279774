"""Another learner's sandbox never shows: not in any API answer, not in any Socket.IO event
a learner receives, whatever they ask for and whatever the other learner does."""
import json

import pytest

from labapp.web.events import socketio

from .helpers import LESSON, TOKEN, joined, learner_of, make_app, received


@pytest.fixture
def app(tmp_path, monkeypatch):
    import labapp.web.api as api

    app = make_app(tmp_path)
    seats = app.extensions["labapp"].services.seats

    def details(sandboxes=True):  # the engine lists every learner's sandbox, as the real one does
        answer = {"version": "29.0.0", "error": None, "missing": []}
        if sandboxes:
            answer["sandboxes"] = [{"id": s.sandbox.id} for s in seats.all() if s.sandbox]
        return answer
    monkeypatch.setattr(api, "_engine_details", details)
    return app


def _text(response):
    return response.get_data(as_text=True)


def test_no_answer_or_event_shows_another_learners_sandbox(app):
    seats = app.extensions["labapp"].services.seats
    ann_http, ann = joined(app)
    bob_http, bob = joined(app)
    ann_learner, bob_learner = learner_of(ann_http), learner_of(bob_http)
    secret = seats.get(ann_learner).sandbox.id
    mine = seats.get(bob_learner).sandbox.id
    assert secret != mine
    workshop = app.test_client().post("/api/workshops", headers={"Authorization": f"Bearer {TOKEN}"}, json={
        "title": "Room", "lessons": [LESSON], "capacity": 5}).get_json()
    ann_http.post("/api/join", json={"code": workshop["code"], "name": "Ann"})
    bob.get_received("/lab")

    # Ann works: runs, console lines, a terminal, checks, a reset.
    for event, data in (("run", {"step": "swarm", "block": 0}),
                        ("console", {"node": "manager1", "line": "docker node ls"}),
                        ("console", {"node": "nope", "line": "docker ps"}), ("check", {"step": "swarm"}),
                        ("console", {"node": "worker1", "line": "docker attach alpine1"}), ("tty_close", {}),
                        ("reset", {})):
        ann.emit(event, {"lesson": LESSON, "lang": "en", **data}, namespace="/lab")
    received(ann, "sandbox", lambda e: e.get("stage") == "ready")
    secrets = {secret, seats.get(ann_learner).sandbox.id, ann_learner}

    # Bob asks everything the API has, with Ann's ids where a path takes an id.
    seen = []
    values = {"slug": LESSON, "step": "swarm", "wid": workshop["id"], "learner": ann_learner}
    for rule in app.url_map.iter_rules():
        if not str(rule).startswith("/api/"):
            continue
        path = str(rule)
        for name, value in values.items():
            path = path.replace(f"<{name}>", value)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            body = {"block": 0, "node": "manager1", "line": "docker node ls", "code": workshop["code"],
                    "name": "Bob", "message": "hi", "title": "T", "lessons": [LESSON], "capacity": 1}
            answer = bob_http.open(path, method=method, json=body if method != "GET" else None)
            assert answer.status_code < 500, (method, path)
            seen.append(_text(answer) + str(answer.headers))
    for path in ("/", f"/lessons/{LESSON}", "/metrics", "/join", "/trainer", "/trainer/login"):
        seen.append(_text(bob_http.get(path)))
    # and every event of his own (his sandbox was reset by DELETE /api/sandbox above)
    bob.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    received(bob, "sandbox", lambda e: e.get("stage") == "ready")
    for event, data in (("run", {"step": "swarm", "block": 0}), ("check", {"step": "swarm"}),
                        ("console", {"node": "manager1", "line": "docker node ls"}), ("tty_close", {})):
        bob.emit(event, {"lesson": LESSON, "lang": "en", **data}, namespace="/lab")
    seen += [json.dumps(e) for e in bob.get_received("/lab")]

    everything = "\n".join(seen)
    assert mine in everything  # Bob does see his own
    for value in secrets:
        assert value not in everything, [s[:200] for s in seen if value in s]


def test_the_lab_room_of_a_learner_is_theirs_only(app):
    ann_http, ann = joined(app)
    _, bob = joined(app)
    bob.get_received("/lab")
    ann.emit("console", {"lesson": LESSON, "lang": "en", "node": "manager1", "line": "docker node ls"},
             namespace="/lab")
    received(ann, "done")
    assert bob.get_received("/lab") == []
    # A socket without a page (no learner id) cannot join any room.
    assert not socketio.test_client(app, namespace="/lab").is_connected("/lab")
