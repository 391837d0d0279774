"""Trainer credentials and join codes under attack: tokens compared as bytes (never a 500),
back-off after wrong attempts per address and per credential, logout behind CSRF, and
/api/status telling the public only whether the lab can serve."""
import re

import pytest

from labapp.web.events import socketio
from labapp.web.guard import Throttle
from limits.storage import MemoryStorage

from .helpers import LESSON, TOKEN, client_at, make_app

WORKSHOPS = "/api/workshops"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def csrf(http, path):
    return re.search(r'name="csrf" value="([^"]+)"', http.get(path).get_data(as_text=True)).group(1)


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, LABAPP_THROTTLE_FREE=2, LABAPP_THROTTLE_MAX_SECONDS=300,
                    LABAPP_JOIN_THROTTLE_FREE=3)


# --- the curve ----------------------------------------------------------------------------

def test_the_back_off_doubles_after_the_free_attempts_up_to_the_cap():
    throttle = Throttle(MemoryStorage(), "trainer", free=5, cap=300)
    assert [throttle.delay(n) for n in range(1, 17)] == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert throttle.delay(10_000) == 300


def test_failures_wait_success_clears_and_each_key_counts_alone():
    throttle = Throttle(MemoryStorage(), "join", free=1, cap=60)
    assert throttle.failed("10.0.0.1", "AAAAAA") == 0
    assert throttle.failed("10.0.0.1", "BBBBBB") == 1  # the address's second failure
    assert 0 < throttle.wait("10.0.0.1", "CCCCCC") <= 1  # any code from that address waits
    assert throttle.wait("10.0.0.2", "AAAAAA") == 0  # another address with a code tried once
    throttle.succeeded("10.0.0.1", "BBBBBB")
    assert throttle.wait("10.0.0.1", "CCCCCC") == 0
    assert throttle.failed("10.0.0.1", "DDDDDD") == 0  # the run starts again from nothing


# --- Bearer tokens ------------------------------------------------------------------------

@pytest.mark.parametrize("header,status", [
    ("Bearer " + "토큰".encode().decode("latin-1"), 403),  # UTF-8 bytes, as a WSGI server hands them over
    ("Bearer \xe9t\xe9", 403),  # Latin-1 text
    ("Bearer ", 403),
    ("Bearer", 403),
    ("bearer   ", 403),
    ("Bearer " + "x" * 60_000, 403),
    ("Bearer " + TOKEN + "\x00", 403),
    ("", 401),
    ("Basic dXNlcjpwYXNz", 401),  # another scheme (a proxy's login) is not a trainer token
    ("Token " + TOKEN, 401),
    ("Bearer" + TOKEN, 401),
])
def test_any_authorization_header_gets_an_answer_never_a_500(tmp_path, header, status):
    app = make_app(tmp_path)
    answer = app.test_client().get(WORKSHOPS, headers={"Authorization": header})
    assert answer.status_code == status and answer.get_json()["error"]
    assert app.test_client().get("/api/status", headers={"Authorization": header}).status_code in (200, 403)


def test_a_non_ascii_token_works_when_sent_as_utf8(tmp_path):
    app = make_app(tmp_path, LABAPP_TRAINER_TOKEN="강사-토큰-ünïcode")
    sent = "강사-토큰-ünïcode".encode().decode("latin-1")
    assert app.test_client().get(WORKSHOPS, headers=bearer(sent)).status_code == 200
    page = app.test_client()
    form = {"token": "강사-토큰-ünïcode", "csrf": csrf(page, "/trainer/login")}
    answer = page.post("/trainer/login", data=form)
    assert answer.status_code == 302


def test_wrong_bearer_tokens_back_off_and_a_right_one_clears_them(app):
    http = app.test_client()
    assert [http.get(WORKSHOPS, headers=bearer("nope")).status_code for _ in range(2)] == [403, 403]
    assert http.get(WORKSHOPS, headers=bearer(TOKEN)).status_code == 200  # success clears the run
    assert [http.get(WORKSHOPS, headers=bearer(f"nope{n}")).status_code for n in range(3)] == [403, 403, 403]
    waiting = http.get(WORKSHOPS, headers=bearer(TOKEN))  # even the right token waits, unread
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "1"
    assert waiting.get_json()["error"] == "too many wrong trainer tokens from your address: try again in 1 second"
    other = client_at(app, "10.3.3.3")
    assert other.get(WORKSHOPS, headers=bearer(TOKEN)).status_code == 200  # another address is not held


def test_a_wrong_token_tried_from_many_addresses_backs_off_too(app):
    for n in range(3):
        assert client_at(app, f"10.0.0.{n}").get(WORKSHOPS, headers=bearer("guess")).status_code == 403
    again = client_at(app, "10.0.0.99").get(WORKSHOPS, headers=bearer("guess"))
    assert again.status_code == 429 and "try again in" in again.get_json()["error"]
    assert client_at(app, "10.0.0.99").get(WORKSHOPS, headers=bearer(TOKEN)).status_code == 200


def test_the_trainer_socket_counts_wrong_tokens_and_refuses_while_waiting(app):
    def board(token, address=None):
        return socketio.test_client(app, namespace="/trainer", flask_test_client=client_at(app, address),
                                    headers=bearer(token))
    for _ in range(5):  # 2 free, then waits of 1, 2 and 4 s
        assert not board("nope").is_connected("/trainer")
    assert not board(TOKEN).is_connected("/trainer")  # refused, unread, while the address waits
    assert app.test_client().get(WORKSHOPS, headers=bearer(TOKEN)).status_code == 429  # one count for both
    assert board(TOKEN, "10.4.4.4").is_connected("/trainer")


# --- the sign-in form ---------------------------------------------------------------------

def test_the_sign_in_form_backs_off_and_says_when_to_try_again(app):
    http = app.test_client()
    token = csrf(http, "/trainer/login")
    for _ in range(3):
        wrong = http.post("/trainer/login", data={"token": "nope", "csrf": token})
        assert wrong.status_code == 403 and "that is not the trainer token" in wrong.get_data(as_text=True)
    waiting = http.post("/trainer/login", data={"token": TOKEN, "csrf": token})
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "1"
    assert "too many wrong trainer tokens from your address: try again in 1 second" in waiting.get_data(as_text=True)
    with http.session_transaction() as s:
        assert "trainer" not in s


@pytest.mark.parametrize("field", ["\u00e9\u00e8", "토큰", "", "x" * 20_000,
                                   "\ud800".encode("utf-8", "surrogatepass")])
def test_any_form_token_and_csrf_value_gets_an_answer(app, field):
    http = app.test_client()
    token = csrf(http, "/trainer/login")
    assert http.post("/trainer/login", data={"token": field, "csrf": token}).status_code == 403
    assert http.post("/trainer/login", data={"token": TOKEN, "csrf": field}).status_code == 400


# --- join codes ---------------------------------------------------------------------------

def test_wrong_join_codes_back_off_and_a_good_join_clears_them(app):
    made = app.test_client().post(WORKSHOPS, headers=bearer(TOKEN), json={
        "title": "Room", "lessons": [LESSON], "capacity": 5}).get_json()
    http = app.test_client()
    codes = ["WRONG1", "WRONG2", "1", "ÀÀÀÀÀÀ"]
    answers = [http.post("/api/join", json={"code": c, "name": "Ann"}) for c in codes]
    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert "wait 1 s before the next try" in answers[-1].get_json()["error"]
    waiting = http.post("/api/join", json={"code": made["code"], "name": "Ann"})
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) >= 1
    assert waiting.get_json()["error"].startswith("too many wrong join codes from your address: try again in")
    app.extensions["labapp"].guard.throttles["join"].succeeded("127.0.0.1")  # as if the wait were over
    assert http.post("/api/join", json={"code": made["code"], "name": "Ann"}).status_code == 200
    assert [http.post("/api/join", json={"code": "WRONG9", "name": "Ann"}).status_code for _ in range(3)] \
        == [404, 404, 404]  # cleared by the join: three free again


def test_the_join_page_shows_the_wait(app):
    http = app.test_client()
    token = csrf(http, "/join")
    for n in range(4):
        http.post("/join", data={"code": f"WRONG{n}", "name": "Ann", "csrf": token})
    page = http.post("/join", data={"code": "ABCDEF", "name": "Ann", "csrf": token})
    assert page.status_code == 429 and "too many wrong join codes" in page.get_data(as_text=True)


# --- logout -------------------------------------------------------------------------------

def test_logout_is_a_post_with_the_csrf_token(app):
    http = app.test_client()
    http.post("/trainer/login", data={"token": TOKEN, "csrf": csrf(http, "/trainer/login")})
    home = http.get("/trainer").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/trainer/logout"[^>]*>(.*?)</form>', home).group(1)
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    assert http.get("/trainer/logout").status_code == 405
    forged = http.post("/trainer/logout")  # what another site's form could send
    assert forged.status_code == 400 and "sign-out form expired" in forged.get_data(as_text=True)
    assert http.post("/trainer/logout", data={"csrf": "wrong"}).status_code == 400
    assert http.get("/trainer").status_code == 200  # still signed in
    assert http.post("/trainer/logout", data={"csrf": token}).status_code == 302
    assert http.get("/trainer").status_code == 302  # to the sign-in page


# --- /api/status --------------------------------------------------------------------------

@pytest.fixture
def engine_details(monkeypatch):
    import labapp.web.api as api

    def details(sandboxes=True):
        answer = {"version": "29.0.0", "error": None, "missing": []}
        if sandboxes:
            answer["sandboxes"] = [{"id": "a1b2c3d4", "nodes": []}]
        return answer
    monkeypatch.setattr(api, "_engine_details", details)


PUBLIC = {"serving", "engine", "images", "capacity", "free", "reason"}


def test_status_tells_anyone_only_whether_the_lab_can_serve(tmp_path, engine_details):
    app = make_app(tmp_path, LABAPP_MAX_SANDBOXES=2)
    answer = app.test_client().get("/api/status").get_json()
    assert set(answer) == PUBLIC
    assert answer == {"serving": True, "engine": "up", "images": "present", "capacity": 2, "free": 2,
                      "reason": None}
    for n in range(2):
        client_at(app, f"10.5.5.{n}").post(f"/api/lessons/{LESSON}/sandbox", json={})
    full = app.test_client().get("/api/status").get_json()
    assert full["serving"] is False and full["free"] == 0 and full["reason"] == "the lab is full"


def test_status_lists_the_sandboxes_for_the_trainer_only(tmp_path, engine_details):
    app = make_app(tmp_path)
    assert "a1b2c3d4" not in app.test_client().get("/api/status").get_data(as_text=True)
    by_token = app.test_client().get("/api/status", headers=bearer(TOKEN)).get_json()
    assert by_token["sandboxes"] == [{"id": "a1b2c3d4", "nodes": []}] and by_token["version"] == "29.0.0"
    page = app.test_client()
    page.post("/trainer/login", data={"token": TOKEN, "csrf": csrf(page, "/trainer/login")})
    assert "sandboxes" in page.get("/api/status").get_json()
    wrong = app.test_client().get("/api/status", headers=bearer("nope"))
    assert wrong.status_code == 403 and "sandboxes" not in wrong.get_json()


def test_status_says_why_the_lab_cannot_serve(tmp_path, monkeypatch):
    import labapp.web.api as api

    app = make_app(tmp_path)
    monkeypatch.setattr(api, "_engine_details", lambda sandboxes=True: {
        "version": None, "error": "Cannot connect to the Docker daemon at unix:///var/run/docker.sock",
        "missing": [], "sandboxes": []})
    answer = app.test_client().get("/api/status").get_json()
    assert answer["serving"] is False and answer["engine"] == "down" and answer["images"] == "unknown"
    assert answer["reason"] == "the Docker engine does not answer" and "docker.sock" not in str(answer)
