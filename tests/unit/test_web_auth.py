"""Trainer credentials and join codes under attack: tokens compared as bytes (never a 500),
back-off after wrong attempts per address and per credential that never holds back the
right credential, strong operator tokens, a session that reveals nothing about the token,
logout behind CSRF, and /api/status telling the public only whether the lab can serve."""
import hashlib
import re

import pytest

from labapp.config import ConfigError
from labapp.web.events import socketio
from labapp.web.credentials import Throttle
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
    app = make_app(tmp_path, LABAPP_TRAINER_TOKEN="강사-토큰-ünïcode-트레이너-토큰")
    sent = "강사-토큰-ünïcode-트레이너-토큰".encode().decode("latin-1")
    assert app.test_client().get(WORKSHOPS, headers=bearer(sent)).status_code == 200
    page = app.test_client()
    form = {"token": "강사-토큰-ünïcode-트레이너-토큰", "csrf": csrf(page, "/trainer/login")}
    answer = page.post("/trainer/login", data=form)
    assert answer.status_code == 302


def test_wrong_bearer_tokens_back_off_but_the_right_one_always_gets_through(app):
    http = app.test_client()
    assert [http.get(WORKSHOPS, headers=bearer(f"nope{n}")).status_code for n in range(3)] == [403, 403, 403]
    waiting = http.get(WORKSHOPS, headers=bearer("nope-again"))  # 2 free, then the third makes the next wait
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "1"
    assert waiting.get_json()["error"] == "too many wrong trainer tokens from your address: try again in 1 second"
    assert http.get(WORKSHOPS, headers=bearer(TOKEN)).status_code == 200  # the right one is never held back
    again = http.get(WORKSHOPS, headers=bearer("nope-after"))  # and it does not clear a guesser's wait
    assert again.status_code == 429
    other = client_at(app, "10.3.3.3")
    assert other.get(WORKSHOPS, headers=bearer("other")).status_code == 403  # another address is not held


def test_wrong_tokens_from_the_room_do_not_lock_the_trainer_out(tmp_path):
    """The red team's attack, with the default limits: 12 wrong Bearer tokens from the
    room's address made the right one wait 64 s, on the API and on the sign-in form."""
    app = make_app(tmp_path)
    room = app.test_client()
    assert [room.get(WORKSHOPS, headers=bearer(f"guess{n}")).status_code for n in range(6)] == [403] * 6
    throttle = app.extensions["labapp"].guard.throttles["trainer"]
    for n in range(6, 12):  # six more, as if the guesser had waited out each delay (1 + 2 + ... + 32 s)
        throttle.failed("127.0.0.1", f"guess{n}")
    waiting = room.get(WORKSHOPS, headers=bearer("guess12"))
    assert waiting.status_code == 429 and 60 <= int(waiting.headers["Retry-After"]) <= 64  # a guesser waits
    assert app.test_client().get(WORKSHOPS, headers=bearer(TOKEN)).status_code == 200
    assert app.test_client().get("/api/status", headers=bearer(TOKEN)).status_code == 200
    page = app.test_client()
    signed = page.post("/trainer/login", data={"token": TOKEN, "csrf": csrf(page, "/trainer/login")})
    assert signed.status_code == 302 and page.get("/trainer").status_code == 200
    board = socketio.test_client(app, namespace="/trainer", flask_test_client=app.test_client(),
                                 headers=bearer(TOKEN))
    assert board.is_connected("/trainer")
    for n in range(30):  # nor do wrong sign-ins past the address's limit (20 a minute)
        room.post("/trainer/login", data={"token": f"guess-{n}", "csrf": csrf(room, "/trainer/login")})
    assert room.get(WORKSHOPS, headers=bearer("guess")).status_code == 429
    page = app.test_client()
    signed = page.post("/trainer/login", data={"token": TOKEN, "csrf": csrf(page, "/trainer/login")})
    assert signed.status_code == 302


@pytest.mark.parametrize("token,problem", [
    ("short", "is 5 characters long; a trainer token must have at least 20"),
    ("nineteen-characters", "is 19 characters long"),
    (" " + TOKEN, "begins or ends with a space"),
])
def test_a_weak_operator_token_is_refused_at_start(tmp_path, token, problem):
    with pytest.raises(ConfigError, match="LABAPP_TRAINER_TOKEN " + re.escape(problem)) as refused:
        make_app(tmp_path, LABAPP_TRAINER_TOKEN=token)
    if "long" in problem:
        assert "secrets.token_urlsafe" in str(refused.value) and "unset LABAPP_TRAINER_TOKEN" in str(refused.value)


def test_the_generated_token_and_a_20_character_one_are_fine(tmp_path):
    assert make_app(tmp_path / "a", LABAPP_TRAINER_TOKEN="x" * 20).test_client().get(
        WORKSHOPS, headers=bearer("x" * 20)).status_code == 200
    app = make_app(tmp_path / "b", LABAPP_TRAINER_TOKEN="")
    made = (tmp_path / "b" / "trainer_token").read_text().strip()
    assert len(made) >= 20 and app.test_client().get(WORKSHOPS, headers=bearer(made)).status_code == 200


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
    for _ in range(3):  # 2 free, then a wait of 1 s
        assert not board("nope").is_connected("/trainer")
    assert app.test_client().get(WORKSHOPS, headers=bearer("nope2")).status_code == 429  # one count for both
    assert board(TOKEN).is_connected("/trainer")  # the right token is never held back


# --- the sign-in form ---------------------------------------------------------------------

def test_the_sign_in_form_backs_off_and_says_when_to_try_again(app):
    http = app.test_client()
    token = csrf(http, "/trainer/login")
    for _ in range(3):
        wrong = http.post("/trainer/login", data={"token": "nope", "csrf": token})
        assert wrong.status_code == 403 and "that is not the trainer token" in wrong.get_data(as_text=True)
    waiting = http.post("/trainer/login", data={"token": "nope", "csrf": token})
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "1"
    assert "too many wrong trainer tokens from your address: try again in 1 second" in waiting.get_data(as_text=True)
    with http.session_transaction() as s:
        assert "trainer" not in s
    assert http.post("/trainer/login", data={"token": TOKEN, "csrf": token}).status_code == 302


# --- the signed-in session ----------------------------------------------------------------

def _signed_in(app, token=TOKEN):
    page = app.test_client()
    assert page.post("/trainer/login", data={"token": token, "csrf": csrf(page, "/trainer/login")}).status_code == 302
    with page.session_transaction() as s:
        return page, s["trainer"]


def test_the_session_cookie_reveals_nothing_about_the_token(tmp_path):
    """A Flask session cookie is signed, not encrypted: the browser reads it. What it holds for
    a signed-in trainer must not let anyone test guesses of the token offline."""
    app = make_app(tmp_path / "a")
    page, mark = _signed_in(app)
    raw = page.get_cookie("session").value
    for candidate in (TOKEN, TOKEN.encode()):
        data = candidate if isinstance(candidate, bytes) else candidate.encode()
        for digest in (hashlib.sha256(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.md5(data).hexdigest(),
                       hashlib.sha512(data).hexdigest()):
            assert digest[:16] not in mark and digest[:16] not in raw
    assert TOKEN not in raw and TOKEN not in mark
    other = make_app(tmp_path / "b", secret_key="another secret")  # the same token, another secret key
    assert _signed_in(other)[1] != mark  # keyed with the app's secret: not a function of the token alone


def test_a_new_token_signs_out_every_earlier_session(tmp_path):
    page, _ = _signed_in(make_app(tmp_path))
    assert page.get("/trainer").status_code == 200
    rotated = make_app(tmp_path, LABAPP_TRAINER_TOKEN="a-brand-new-trainer-token")  # same data, same secret
    old = rotated.test_client()
    old.set_cookie("session", page.get_cookie("session").value)
    assert old.get("/trainer").status_code == 302  # to the sign-in page
    assert old.get(WORKSHOPS).status_code == 403
    fresh, _ = _signed_in(rotated, "a-brand-new-trainer-token")
    assert fresh.get("/trainer").status_code == 200


@pytest.mark.parametrize("field", ["\u00e9\u00e8", "토큰", "", "x" * 20_000,
                                   "\ud800".encode("utf-8", "surrogatepass")])
def test_any_form_token_and_csrf_value_gets_an_answer(app, field):
    http = app.test_client()
    token = csrf(http, "/trainer/login")
    assert http.post("/trainer/login", data={"token": field, "csrf": token}).status_code == 403
    assert http.post("/trainer/login", data={"token": TOKEN, "csrf": field}).status_code == 400


# --- join codes ---------------------------------------------------------------------------

def test_wrong_join_codes_back_off_and_the_right_code_always_gets_through(app):
    made = app.test_client().post(WORKSHOPS, headers=bearer(TOKEN), json={
        "title": "Room", "lessons": [LESSON], "capacity": 5}).get_json()
    http = app.test_client()
    codes = ["WRONG1", "WRONG2", "1", "ÀÀÀÀÀÀ"]
    answers = [http.post("/api/join", json={"code": c, "name": "Ann"}) for c in codes]
    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert "wait 1 s before the next try" in answers[-1].get_json()["error"]
    waiting = http.post("/api/join", json={"code": "WRONG5", "name": "Ann"})
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) >= 1
    assert waiting.get_json()["error"].startswith("too many wrong join codes from your address: try again in")
    assert http.post("/api/join", json={"code": made["code"], "name": "Ann"}).status_code == 200
    assert app.test_client().post("/api/join", json={"code": made["code"].lower(), "name": "Bo"}).status_code == 200
    assert http.post("/api/join", json={"code": "WRONG9", "name": "Ann"}).status_code == 429  # not cleared


def test_wrong_codes_from_the_room_do_not_lock_the_room_out(tmp_path):
    """The red team's attack, with the default limits: after 26 wrong join codes from the
    room's address, an attendee with the right code got 429. Wrong codes are limited, per
    address and per cookie; the right code of an open workshop is not."""
    app = make_app(tmp_path, max_sandboxes=60)
    made = app.test_client().post(WORKSHOPS, headers=bearer(TOKEN), json={
        "title": "Room", "lessons": [LESSON], "capacity": 50}).get_json()
    answers = [app.test_client().post("/api/join", json={"code": f"WRNG{n:02d}", "name": "Eve"}).status_code
               for n in range(21)]
    assert answers == [404] * 21  # 20 free; the 21st makes the next wrong one wait
    throttle = app.extensions["labapp"].guard.throttles["join"]
    for n in range(21, 26):  # five more, as if the guesser had waited out each delay
        throttle.failed("127.0.0.1", f"WRNG{n:02d}")
    assert app.test_client().post("/api/join", json={"code": "WRNG26", "name": "Eve"}).status_code == 429
    for n in range(50):  # the whole room joins, from the same address
        attendee = app.test_client()
        page = attendee.post("/join", data={"code": made["code"], "name": f"Learner {n}",
                                             "csrf": csrf(attendee, f"/w/{made['code']}")})
        assert page.status_code == 302, (n, page.get_data(as_text=True))
    assert app.test_client().post("/api/join", json={"code": "WRNG99", "name": "Eve"}).status_code == 429


def test_wrong_codes_past_the_address_limit_are_refused_and_the_right_code_is_not(tmp_path):
    app = make_app(tmp_path, LABAPP_RATE_JOINS="5/minute", LABAPP_JOIN_THROTTLE_FREE=100)
    made = app.test_client().post(WORKSHOPS, headers=bearer(TOKEN), json={
        "title": "Room", "lessons": [LESSON], "capacity": 5}).get_json()
    answers = [app.test_client().post("/api/join", json={"code": f"WRONG{n}", "name": "Eve"}) for n in range(7)]
    assert [a.status_code for a in answers] == [404] * 5 + [429] * 2
    assert "too many wrong join codes from your address (at most 5 per 1 minute" in answers[-1].get_json()["error"]
    ended = app.test_client().post(WORKSHOPS, headers=bearer(TOKEN), json={
        "title": "Over", "lessons": [LESSON], "capacity": 1}).get_json()
    app.test_client().post(f"/api/workshops/{ended['id']}/end", headers=bearer(TOKEN), json={})
    # an ended workshop's code lets no one in: limited like a wrong one
    assert app.test_client().post("/api/join", json={"code": ended["code"], "name": "Eve"}).status_code == 429
    assert app.test_client().post("/api/join", json={"code": made["code"], "name": "Ann"}).status_code == 200
    elsewhere = client_at(app, "10.7.7.7").post("/api/join", json={"code": "WRONG9", "name": "Eve"})
    assert elsewhere.status_code == 404


def test_one_cookie_cannot_join_again_and_again(tmp_path):
    """A join changes the learner's display name: one browser cycling through names (or
    codes) is limited per cookie, 10 a minute by default; the room is not."""
    app = make_app(tmp_path)
    made = app.test_client().post(WORKSHOPS, headers=bearer(TOKEN), json={
        "title": "Room", "lessons": [LESSON], "capacity": 5}).get_json()
    squatter = app.test_client()
    answers = [squatter.post("/api/join", json={"code": made["code"], "name": f"Name {n}"}) for n in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert answers[-1].get_json()["error"].startswith("too many workshop joins from you (at most 10 per 1 minute)")
    page = squatter.post("/join", data={"code": made["code"], "name": "Again", "csrf": csrf(squatter, "/join")})
    assert page.status_code == 429 and "too many workshop joins from you" in page.get_data(as_text=True)
    assert app.test_client().post("/api/join", json={"code": made["code"], "name": "Bo"}).status_code == 200


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
