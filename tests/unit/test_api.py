"""The REST API with Flask's test client over a fake sandbox."""
import re

import pytest

from .helpers import LESSON, TOKEN


@pytest.fixture
def http(app):
    return app.test_client()


def test_lessons_and_a_lesson_for_this_host(http):
    listed = http.get("/api/lessons").get_json()["lessons"]
    assert [l["slug"] for l in listed] == [LESSON]  # the fixture catalog, not the shipped lessons
    lesson = http.get(f"/api/lessons/{LESSON}?lang=ko").get_json()
    assert lesson["language"] == "ko" and lesson["nodes"] == ["manager1", "worker1", "worker2"]
    service = next(s for s in lesson["steps"] if s["id"] == "service")
    assert [b["applies"] for b in service["blocks"]] == [False, True]  # no IPVS here


def test_a_learner_works_a_step_through_the_api(http):
    assert http.get("/api/sandbox").get_json()["state"] == "none"
    started = http.post(f"/api/lessons/{LESSON}/sandbox", json={})
    assert started.status_code == 200 and started.get_json()["state"] == "ready"
    before = http.post(f"/api/lessons/{LESSON}/steps/overlay/check", json={}).get_json()
    assert before["passed"] is False
    ran = http.post(f"/api/lessons/{LESSON}/steps/overlay/run", json={"block": 0}).get_json()
    assert [r["exit_code"] for r in ran["runs"]] == [0, 0] and '"Subnet"' in ran["runs"][1]["stdout"]
    after = http.post(f"/api/lessons/{LESSON}/steps/overlay/check", json={}).get_json()
    assert after["passed"] is True and all({"name", "passed", "reason"} <= set(c) for c in after["checks"])
    assert http.get(f"/api/lessons/{LESSON}/progress").get_json()["steps"] == {"overlay": "passed"}
    assert http.delete("/api/sandbox").get_json()["state"] == "none"


@pytest.mark.parametrize("method,url,kwargs,status,message", [
    ("post", "/api/lessons/nope/sandbox", {"json": {}}, 404, "there is no lesson 'nope'"),
    ("post", f"/api/lessons/{LESSON}/steps/overlay/run", {"json": {"block": 0}}, 409, "open the lesson"),
    ("post", f"/api/lessons/{LESSON}/steps/overlay/run", {"json": {}}, 400, "give the command block"),
    ("post", f"/api/lessons/{LESSON}/steps/overlay/check", {"data": "x"}, 415, "send a JSON body"),
    ("post", f"/api/lessons/{LESSON}/console", {"json": [1]}, 400, "must be a JSON object"),
    ("post", f"/api/lessons/{LESSON}/sandbox", {"json": {}, "headers": {"Origin": "http://evil.example"}},
     403, "are not accepted here"),
    ("get", "/api/nothing-here", {}, 404, "not found"),
])
def test_errors_are_json_with_a_reason(http, method, url, kwargs, status, message):
    response = getattr(http, method)(url, **kwargs)
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_unknown_step_and_refused_console_line(http):
    http.post(f"/api/lessons/{LESSON}/sandbox", json={})
    missing = http.post(f"/api/lessons/{LESSON}/steps/nope/check", json={})
    assert missing.status_code == 404 and "has no step 'nope'" in missing.get_json()["error"]
    refused = http.post(f"/api/lessons/{LESSON}/console", json={"node": "manager1", "line": "rm -rf /"})
    assert refused.status_code == 422 and "'rm' cannot run on a node" in refused.get_json()["error"]
    ran = http.post(f"/api/lessons/{LESSON}/console", json={"node": "manager1", "line": "docker node ls"})
    assert ran.status_code == 200 and "manager1 Ready" in ran.get_json()["stdout"]
    attach = http.post(f"/api/lessons/{LESSON}/console", json={"node": "worker1", "line": "docker attach a1"})
    assert attach.status_code == 422 and "needs a terminal: type it in the lesson page's console" in attach.get_json()["error"]


def test_the_lab_full_and_rate_limit_answers(app, http):
    admission = app.extensions["labapp"].services.admission
    admission.max_sandboxes = 1
    assert http.post(f"/api/lessons/{LESSON}/sandbox", json={}).status_code == 200
    other = app.test_client()
    full = other.post(f"/api/lessons/{LESSON}/sandbox", json={})
    assert full.status_code == 503 and "the lab is full, try again in" in full.get_json()["error"]
    assert int(full.headers["Retry-After"]) > 0
    admission.max_sandboxes, admission.creates_per_hour = 0, 1
    http.delete("/api/sandbox")
    again = http.post(f"/api/lessons/{LESSON}/sandbox", json={})
    assert again.status_code == 429 and "the most allowed" in again.get_json()["error"]


def test_openapi_describes_every_api_route(app, http):
    doc = http.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    routes = {re.sub(r"<(\w+)>", r"{\1}", str(r.rule))
              for r in app.url_map.iter_rules() if str(r.rule).startswith("/api/")}
    assert routes == set(doc["paths"])


@pytest.mark.parametrize("raw,status,words", [
    ('{"node": "manager1", "line": "docker ps \\ud800"}', 400, "not valid Unicode (a lone surrogate)"),
    ('{"node": "manager1", "line": "docker ps", "x": NaN}', 400, "a number that is not finite"),
    ('{"node": "manager1", "line": "docker ps", "x": -Infinity}', 400, "a number that is not finite"),
    ("[" * 20_000 + "]" * 20_000, 400, "nested too deeply"),
    ('{"line": "' + "x" * 70_000 + '"}', 413, "the body is larger than 64 KiB"),
    (b"\xff\xfe{}", 400, "must be a JSON object"),
])
def test_bodies_a_browser_would_never_send_are_a_4xx_with_a_reason(http, raw, status, words):
    answer = http.post(f"/api/lessons/{LESSON}/console", data=raw, content_type="application/json")
    assert answer.status_code == status and words in answer.get_json()["error"]


def test_a_method_the_api_does_not_take_is_a_json_405_with_allow(http):
    answer = http.put("/api/sandbox", json={})
    assert answer.status_code == 405 and answer.get_json()["error"]
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "DELETE"}


def test_a_workshop_start_beyond_a_year_is_refused_not_a_crash(app):
    trainer = app.test_client()
    answer = trainer.post("/api/workshops", headers={"Authorization": "Bearer " + TOKEN},
                          json={"title": "T", "lessons": [LESSON], "capacity": 1, "starts": 1e300})
    assert answer.status_code == 400 and "at most a year from now" in answer.get_json()["error"]


def test_openapi_lists_the_statuses_the_limits_answer(http):
    paths = http.get("/api/openapi.json").get_json()["paths"]
    for path, method in (("/api/lessons/{slug}/console", "post"), ("/api/lessons/{slug}/steps/{step}/run", "post"),
                         ("/api/lessons/{slug}/steps/{step}/check", "post"), ("/api/lessons/{slug}/sandbox", "post"),
                         ("/api/join", "post"), ("/api/workshops", "get"), ("/api/status", "get")):
        answers = paths[path][method]["responses"]
        assert "429" in answers and "Retry-After" in answers["429"]["headers"], path
    slug = paths["/api/lessons/{slug}"]["parameters"][0]["schema"]
    assert LESSON in slug["enum"]
