"""Pages and Socket.IO events with Flask's and Flask-SocketIO's test clients, over a fake
sandbox (the real one is exercised by the integration tests) and the fixture lesson."""
import re
import time

import pytest

from labapp.web.events import socketio

from .helpers import LESSON, fixture_catalog


def _wait_for(client, name, timeout=5):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        seen += client.get_received("/lab")
        found = [e for e in seen if e["name"] == name]
        if found:
            return found, seen
        time.sleep(0.02)
    raise AssertionError(f"no {name} event; got {[e['name'] for e in seen]}")


def _joined(app):
    http = app.test_client()
    http.get(f"/lessons/{LESSON}?lang=en")
    client = socketio.test_client(app, namespace="/lab", flask_test_client=http)
    assert client.is_connected("/lab")
    client.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    events, _ = _wait_for(client, "sandbox")
    while not any(e["args"][0]["stage"] == "ready" for e in events if e["name"] == "sandbox"):
        more, _ = _wait_for(client, "sandbox")
        events += more
    return http, client


def test_catalogue_lists_lessons_in_the_chosen_language(app):
    page = app.test_client().get("/?lang=ko")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "픽스처 오버레이 네트워크: 단위 테스트의 실습" in text and 'lang="ko"' in text
    english = app.test_client().get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Fixture overlay: a lesson the unit tests own" in english


def test_lesson_page_has_run_buttons_for_this_host_and_its_notes(app):
    text = app.test_client().get(f"/lessons/{LESSON}?lang=en").get_data(as_text=True)
    assert 'data-step="overlay" data-block="0">Run</button>' in text
    assert "docker network inspect test-cluster-net2 | jq &#x27;.[0] | { IPAM }&#x27;" in text \
        or "docker network inspect test-cluster-net2 | jq &#39;.[0] | { IPAM }&#39;" in text
    assert "docker service create --name my-nginx --endpoint-mode dnsrr" in text
    assert "docker service create --name my-nginx --publish" not in text  # no IPVS here
    assert "This lab host has no IPVS" in text
    assert "```check" not in text and "<script>" not in text.split("<body>")[1].split("<script src")[0]


def test_unknown_lesson_is_a_404_page_and_api_404_is_json(app):
    client = app.test_client()
    assert client.get("/lessons/nope").status_code == 404
    response = client.get("/api/nope")
    assert response.status_code == 404 and response.get_json() == {"error": "not found"}


def test_session_cookie_is_httponly_and_samesite(app):
    response = app.test_client().get("/")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_socket_needs_a_page_first(app):
    client = socketio.test_client(app, namespace="/lab")
    assert not client.is_connected("/lab")


def test_join_makes_a_sandbox_with_progress(app):
    """The backend's progress stages reach the page, in order, before 'ready' with the nodes."""
    http = app.test_client()
    http.get(f"/lessons/{LESSON}?lang=en")
    client = socketio.test_client(app, namespace="/lab", flask_test_client=http)
    client.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    stages = []
    while "ready" not in [s["stage"] for s in stages]:
        found, _ = _wait_for(client, "sandbox")
        stages += [e["args"][0] for e in found]
    assert [s["stage"] for s in stages] == ["nodes starting", "ready"]  # the fake backend's one stage
    assert stages[-1]["nodes"] == [{"name": "manager1", "role": "manager"}, {"name": "worker1", "role": "worker"},
                                   {"name": "worker2", "role": "worker"}]
    assert len(app.made) == 1


def test_run_streams_output_and_check_gives_verdicts_with_reasons(app):
    _, client = _joined(app)
    client.emit("check", {"lesson": LESSON, "lang": "en", "step": "overlay"}, namespace="/lab")
    verdicts, _ = _wait_for(client, "verdict")
    before = verdicts[0]["args"][0]
    assert before["passed"] is False
    reasons = [c["reason"] for c in before["checks"]]
    assert any("there is no network test-cluster-net2" in r for r in reasons)
    assert "nothing has run yet: run the step's commands first" in reasons

    client.emit("run", {"lesson": LESSON, "lang": "en", "step": "overlay", "block": 0}, namespace="/lab")
    exits, seen = _wait_for(client, "exit")
    while len([e for e in seen if e["name"] == "exit"]) < 2:
        more, new = _wait_for(client, "exit")
        seen += new
    outputs = [e["args"][0] for e in seen if e["name"] == "output"]
    assert any('"Subnet"' in o["text"] and o["stream"] == "stdout" for o in outputs)
    client.emit("check", {"lesson": LESSON, "lang": "en", "step": "overlay"}, namespace="/lab")
    verdicts, _ = _wait_for(client, "verdict")
    assert verdicts[0]["args"][0]["passed"] is True


def test_progress_is_kept_across_page_loads(app):
    http, client = _joined(app)
    client.emit("run", {"lesson": LESSON, "lang": "en", "step": "overlay", "block": 0}, namespace="/lab")
    _wait_for(client, "done")  # the whole block ran (both of its commands), not only the first
    client.emit("check", {"lesson": LESSON, "lang": "en", "step": "overlay"}, namespace="/lab")
    verdicts, _ = _wait_for(client, "verdict")
    assert verdicts[0]["args"][0]["passed"] is True
    page = http.get(f"/lessons/{LESSON}?lang=en").get_data(as_text=True)
    statuses = dict(re.findall(r'id="step-([\w-]+)".*?data-status="(\w*)"', page, re.S))
    assert statuses == {"swarm": "", "overlay": "passed", "service": "", "bridge-ping": ""}
    steps = len(fixture_catalog().get(LESSON, "en").steps)
    assert f'<span class="progress">1/{steps}</span>' in http.get("/").get_data(as_text=True)


def test_a_refused_console_line_says_why(app):
    _, client = _joined(app)
    client.emit("console", {"lesson": LESSON, "lang": "en", "node": "manager1",
                            "line": "docker run --privileged alpine"}, namespace="/lab")
    refused, _ = _wait_for(client, "refused")
    assert "--privileged gives a container every power of the node" in refused[0]["args"][0]["reason"]


def test_console_runs_an_allowed_line(app):
    _, client = _joined(app)
    client.emit("console", {"lesson": LESSON, "lang": "en", "node": "manager1",
                            "line": "docker node ls | grep Ready"}, namespace="/lab")
    exits, seen = _wait_for(client, "exit")
    assert exits[0]["args"][0]["exit_code"] == 0
    assert any(e["name"] == "output" and "manager1 Ready" in e["args"][0]["text"] for e in seen)


@pytest.mark.parametrize("message,reason", [
    ({"lesson": "nope", "step": "x", "block": 0}, "there is no lesson 'nope'"),
    ({"lesson": LESSON, "step": "nope", "block": 0}, "has no step 'nope'"),
    ({"lesson": LESSON, "step": "overlay", "block": 9}, "has no command block 9"),
    ({"lesson": LESSON, "step": "overlay"}, "the message needs 'block'"),
    ("not a dict", "the message needs 'lesson'"),
])
def test_bad_messages_get_a_clear_failure(app, message, reason):
    _, client = _joined(app)
    client.emit("run", message, namespace="/lab")
    failures, _ = _wait_for(client, "failure")
    assert reason in failures[0]["args"][0]["message"]


def test_run_before_the_sandbox_exists_says_so(app):
    http = app.test_client()
    http.get("/")
    client = socketio.test_client(app, namespace="/lab", flask_test_client=http)
    client.emit("run", {"lesson": LESSON, "step": "overlay", "block": 0}, namespace="/lab")
    failures, _ = _wait_for(client, "failure")
    assert "open the lesson to start one" in failures[0]["args"][0]["message"]


def test_pages_carry_a_content_security_policy(app):
    response = app.test_client().get(f"/lessons/{LESSON}")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in response.get_data(as_text=True)  # no inline script for the CSP to allow


def test_the_page_speaks_the_lessons_language(app):
    ko = app.test_client().get(f"/lessons/{LESSON}?lang=ko").get_data(as_text=True)
    assert ">확인</button>" in ko and ">실행</button>" in ko and "(실패하는 것이 정상)" in ko
    en = app.test_client().get(f"/lessons/{LESSON}?lang=en").get_data(as_text=True)
    assert ">Check</button>" in en and "(meant to fail)" in en


def test_an_interactive_console_line_opens_a_terminal_that_echoes_resizes_and_ends(app):
    _, client = _joined(app)
    client.emit("console", {"lesson": LESSON, "lang": "en", "node": "worker1",
                            "line": "docker exec -it alpine1 ash", "cols": 100, "rows": 30}, namespace="/lab")
    opened, _ = _wait_for(client, "tty_open")
    assert opened[0]["args"][0] == {"type": "tty_open", "node": "worker1", "command": "docker exec -it alpine1 ash"}
    tty = app.made[-1].tty
    assert tty.sizes == [(100, 30)]
    client.emit("tty_resize", {"cols": 120, "rows": 40}, namespace="/lab")
    client.emit("tty_input", {"data": "ls\r"}, namespace="/lab")
    _, seen = _wait_for(client, "tty_output")
    deadline = time.monotonic() + 5
    while "ls\r" not in "".join(e["args"][0]["data"] for e in seen if e["name"] == "tty_output"):
        assert time.monotonic() < deadline, seen
        seen += client.get_received("/lab")
    assert tty.sizes[-1] == (120, 40)
    # A second session while one is open is refused with the reason.
    client.emit("console", {"lesson": LESSON, "lang": "en", "node": "worker1",
                            "line": "docker attach alpine1"}, namespace="/lab")
    refused, _ = _wait_for(client, "refused")
    assert "a terminal session is already open (docker exec -it alpine1 ash on worker1)" in refused[0]["args"][0]["reason"]
    client.emit("tty_input", {"data": "exit\r"}, namespace="/lab")
    exits, seen = _wait_for(client, "tty_exit")
    assert exits[0]["args"][0]["exit_code"] == 0
    if not any(e["name"] == "map" for e in seen):
        _wait_for(client, "map")  # the map is redrawn after the session
    client.emit("tty_input", {"data": "ls\r"}, namespace="/lab")
    failures, _ = _wait_for(client, "failure")
    assert "no terminal session is open" in failures[0]["args"][0]["message"]


@pytest.mark.parametrize("event,message,reason", [
    ("tty_input", {"data": "x" * 9000}, "terminal input must be text of 1 to 8192 characters"),
    ("tty_input", {"data": 5}, "terminal input must be text"),
    ("tty_resize", {"cols": "wide", "rows": 3}, "a terminal size is whole columns (2-500) and rows (2-200)"),
    ("tty_resize", {"cols": 10_000, "rows": 30}, "a terminal size is whole columns"),
    ("console", {"lesson": LESSON, "node": "worker1", "line": "docker attach alpine1", "cols": 0},
     "a terminal size is whole columns"),
])
def test_bad_terminal_messages_get_a_clear_failure(app, event, message, reason):
    _, client = _joined(app)
    if event != "console":
        client.emit("console", {"lesson": LESSON, "node": "worker1",
                                "line": "docker attach alpine1"}, namespace="/lab")
        _wait_for(client, "tty_open")
    client.emit(event, message, namespace="/lab")
    failures, _ = _wait_for(client, "failure")
    assert reason in failures[0]["args"][0]["message"]


def test_a_malformed_terminal_size_is_said_as_such_with_no_terminal_open(app):
    """The size is checked before the session: a page (or a hand-made socket) gets told
    what is wrong with its message, not that no terminal is open."""
    _, client = _joined(app)
    client.emit("tty_resize", {"cols": 1e9, "rows": -1}, namespace="/lab")
    failures, _ = _wait_for(client, "failure")
    assert "a terminal size is whole columns (2-500) and rows (2-200)" in failures[0]["args"][0]["message"]
    client.emit("tty_resize", {"cols": 80, "rows": 24}, namespace="/lab")
    failures, _ = _wait_for(client, "failure")
    assert "no terminal session is open" in failures[0]["args"][0]["message"]


def test_reloading_the_page_closes_the_terminal_it_left(app):
    _, client = _joined(app)
    client.emit("console", {"lesson": LESSON, "node": "worker1",
                            "line": "docker attach alpine1"}, namespace="/lab")
    _wait_for(client, "tty_open")
    client.emit("join", {"lesson": LESSON, "lang": "en"}, namespace="/lab")
    exits, _ = _wait_for(client, "tty_exit")
    assert exits[0]["args"][0]["message"] == "the session was closed"


def test_the_lesson_page_vendors_xterm_and_allows_its_styles_only_there(app):
    client = app.test_client()
    page = client.get(f"/lessons/{LESSON}")
    text = page.get_data(as_text=True)
    assert "vendor/xterm/xterm.js" in text and "vendor/xterm/addon-fit.js" in text and "vendor/xterm/xterm.css" in text
    assert "style-src 'self' 'unsafe-inline'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in client.get("/").headers["Content-Security-Policy"]
    for asset in ("xterm/xterm.js", "xterm/addon-fit.js", "xterm/xterm.css"):
        assert client.get(f"/static/vendor/{asset}").status_code == 200


def test_terminal_keys_are_written_in_their_order_whatever_order_they_arrive_in(app):
    _, client = _joined(app)
    client.emit("console", {"lesson": LESSON, "node": "worker1",
                            "line": "docker attach alpine1"}, namespace="/lab")
    _wait_for(client, "tty_open")
    tty = app.made[-1].tty
    written = []
    tty.write = written.append
    for seq, key in ((2, "c"), (0, "a"), (3, "d"), (1, "b")):
        client.emit("tty_input", {"data": key, "seq": seq}, namespace="/lab")
    deadline = time.monotonic() + 5
    while len(written) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert written == ["a", "b", "c", "d"]
    client.emit("tty_input", {"data": "x", "seq": -1}, namespace="/lab")
    failures, _ = _wait_for(client, "failure")
    assert "'seq' is a whole number" in failures[0]["args"][0]["message"]
