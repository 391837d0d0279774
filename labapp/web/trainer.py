"""Workshops on the web: the trainer's sign-in and token, the workshop list and live
dashboard, the workshop API under /api/workshops, and the learners' join page and API."""
from __future__ import annotations

import functools
import hmac
import json
import os
import secrets
import time

import segno
from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, session, url_for
from markupsafe import Markup

from ..config import ConfigError
from ..datadir import kept
from ..i18n import N_, msg, said
from ..lab import LabError, NotFound
from . import services, web
from .errors import ApiError, api_blueprint_errors, explain, json_body
from .credentials import Refused, header_bytes, same_secret
from .guard import client_address, guard, rate_limited
from .views import get_lesson, language, learner_id

pages = Blueprint("workshops", __name__)
wsapi = Blueprint("wsapi", __name__, url_prefix="/api")
api_blueprint_errors(wsapi)
CODE_LENGTH = 6  # a join code's letters and digits
MIN_TOKEN = 20  # characters an operator's LABAPP_TRAINER_TOKEN must have: the right token is never held back
MAX_AHEAD = 366 * 86400  # a workshop starts at most this far ahead (dates past 9999 break the clock)
_WRONG = "the trainer token is not right (labapp serve prints it; LABAPP_TRAINER_TOKEN sets it)"  # the API's only
_EXPIRED = N_("the form expired; try again")


def init_app(app) -> None:
    app.register_blueprint(pages)
    app.register_blueprint(wsapi)


def workshops():
    return services().workshops


# --- the trainer's credentials ----------------------------------------------------------

def trainer_token(settings) -> str:
    """LABAPP_TRAINER_TOKEN, or a random token made once per data directory (mode 0600) and
    printed by `labapp serve`: there is no default token.

    The right token always gets in (a room sharing the trainer's address cannot lock them
    out with wrong ones), so a refusal of a wrong one tells a guesser no more than its 403:
    the token's strength is what stops guessing. An operator's token shorter than MIN_TOKEN
    characters, or one with spaces around it (which the sign-in form and the Bearer header
    cannot carry), is refused at start (ConfigError)."""
    token = settings.trainer_token
    if not token:
        return kept(settings.data_dir, "trainer_token", lambda: secrets.token_urlsafe(18))
    if token != token.strip():
        raise ConfigError("LABAPP_TRAINER_TOKEN begins or ends with a space, which neither the sign-in form nor an "
                          "'Authorization: Bearer' header can carry: remove it")
    if len(token) < MIN_TOKEN:
        raise ConfigError(f"LABAPP_TRAINER_TOKEN is {len(token)} characters long; a trainer token must have at least "
                          f"{MIN_TOKEN}, so that it cannot be guessed (the right token is never held back by the "
                          "back-off): set a longer random one, for example the output of "
                          "`python3 -c 'import secrets; print(secrets.token_urlsafe(18))'`, or unset "
                          "LABAPP_TRAINER_TOKEN and labapp makes one and prints it")
    return token


def trainer_token_note(settings) -> str:
    if settings.trainer_token:
        return "from LABAPP_TRAINER_TOKEN"
    path = os.path.join(settings.data_dir, "trainer_token")
    return f"{trainer_token(settings)} (kept in {path}; set LABAPP_TRAINER_TOKEN to choose one)"


def _session_mark(token: str) -> str:
    """What a signed-in trainer's session holds: an HMAC of the token keyed with the app's
    secret key. The session cookie is signed, not encrypted (the browser can read it), so it
    must reveal nothing about the token to someone without the secret key; a new token (or a
    new secret key) makes every earlier session's mark wrong, which signs it out."""
    key = current_app.secret_key
    key = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    return hmac.new(key, b"labapp trainer session\0" + token.encode("utf-8", "surrogatepass"), "sha256").hexdigest()


def trainer_state() -> str:
    """'ok', 'missing' (no credentials: 401) or 'wrong' (bad credentials: 403).

    A Bearer token is the credential when the request has one (other Authorization schemes,
    such as a proxy's Basic, are not ours and are ignored); else the signed-in session. A
    wrong Bearer token is limited (_attempt): Refused (429) past the limits; the right one
    always gets through."""
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return _attempt(header_bytes(given.strip()), "trainer tokens")
    signed = session.get("trainer")
    if signed is None:
        return "missing"
    return "ok" if same_secret(signed, _session_mark(web().trainer_token)) else "wrong"


def _attempt(given, what: str) -> str:
    """Judge a trainer token GIVEN by this client: 'ok' for the right one, always; a wrong
    one counts against the address (LABAPP_RATE_SIGNINS) and goes through the back-off
    (Refused, 429, past either), then is 'wrong'."""
    if given and same_secret(given, web().trainer_token):
        return "ok"
    the_guard = guard()
    the_guard.hit("signins")  # every wrong token, even one the back-off refuses, counts
    throttle = the_guard.throttles["trainer"]
    address = client_address()
    throttle.check(address, given, what)
    throttle.failed(address, given)
    return "wrong"


def trainer_or_nobody() -> bool:
    """True for the trainer, False for anyone without trainer credentials; wrong ones are a
    403 (and count against the address, as everywhere)."""
    state = trainer_state()
    if state == "wrong":
        raise ApiError(403, _WRONG)
    return state == "ok"


def trainer_required(view):
    """The trainer only: an API route answers 401 (no credentials) or 403 (wrong ones); a
    page sends the browser to the sign-in page."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        state = trainer_state()
        if state == "ok":
            return view(*args, **kwargs)
        if not request.path.startswith("/api/"):
            return redirect(url_for("workshops.login_page"))
        if state == "missing":
            raise ApiError(401, "this needs the trainer's token: send 'Authorization: Bearer TOKEN' or sign in at "
                                "/trainer/login")
        raise ApiError(403, _WRONG)
    return wrapper


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(16)
    return session["csrf"]


def _form_ok() -> bool:
    return same_secret(request.form.get("csrf", ""), session.get("csrf"))


# --- the trainer's pages ------------------------------------------------------------------

@pages.get("/trainer/login")
def login_page():
    lang = language()
    return render_template("trainer_login.html", lang=lang, csrf=csrf_token(), problem=None)


@pages.post("/trainer/login")
def login():
    lang = language()
    status, retry = 403, None
    if not _form_ok():
        problem, status = msg(_EXPIRED), 400
    else:
        try:
            state = _attempt(request.form.get("token", "").strip(), "trainer tokens")
        except Refused as exc:
            state, problem, status, retry = "wait", said(exc), 429, exc.retry_after
        if state == "ok":
            session["trainer"] = _session_mark(web().trainer_token)
            return redirect(url_for("workshops.trainer_home"))
        if state == "wrong":
            problem = msg("that is not the trainer token (labapp serve prints it when it starts)")
    page = render_template("trainer_login.html", lang=lang, csrf=csrf_token(), problem=problem)
    return page, status, ({"Retry-After": str(retry)} if retry else {})


@pages.post("/trainer/logout")
def logout():
    """Sign out: a POST with the page's CSRF token (a link or another site cannot do it)."""
    if not _form_ok():
        return render_template("error.html", message=msg("the sign-out form expired; open /trainer and sign out "
                                                         "again"), lang=language()), 400
    session.pop("trainer", None)
    return redirect(url_for("views.index"))


@pages.get("/trainer")
@trainer_required
def trainer_home():
    return _home(language(), None, {})


def _home(lang, problem, form, status=200):
    capacity = services().capacity
    return render_template("trainer.html", lang=lang, csrf=csrf_token(), problem=problem,
                           workshops=workshops().all(), lessons=sorted(services().catalog.lessons), form=form,
                           capacity=capacity.explain() if capacity else msg("no limit set")), status


@pages.post("/trainer/workshops")
@trainer_required
def create_from_form():
    lang = language()
    if not _form_ok():
        return _home(lang, msg(_EXPIRED), request.form, 400)
    try:
        capacity = int(request.form.get("capacity", ""))
        minutes = int(request.form.get("minutes", "90"))
        delay = int(request.form.get("starts_in", "0") or 0)
    except ValueError:
        return _home(lang, msg("capacity, duration and start are whole numbers"), request.form, 400)
    if not 0 <= delay <= MAX_AHEAD // 60:
        return _home(lang, msg("the start is 0 to {most} minutes from now (a year)", most=MAX_AHEAD // 60),
                     request.form, 400)
    try:
        made = workshops().create(request.form.get("title"), request.form.getlist("lessons"), capacity,
                                  time.time() + delay * 60, minutes)
    except LabError as exc:
        return _home(lang, said(exc), request.form, explain(exc)[0])
    return redirect(url_for("workshops.dashboard", wid=made["id"]))


@pages.get("/trainer/workshops/<wid>")
@trainer_required
def dashboard(wid):
    lang = language()
    try:
        workshop = workshops().get(wid)
    except LabError:
        return render_template("error.html", message=msg("There is no workshop '{workshop}'.", workshop=wid),
                               lang=lang), 404
    link = url_for("workshops.join_page", code=workshop["code"], _external=True)
    lesson = get_lesson(workshop["lessons"][0], lang)
    return render_template("dashboard.html", lang=lang, workshop=workshop, link=link,
                           csrf=csrf_token(), steps=[(s.id, s.title) for s in lesson.steps],
                           qr=Markup(segno.make(link, error="m").svg_inline(scale=4, omitsize=False)))


# --- the learners' join -------------------------------------------------------------------

@pages.get("/join")
@pages.get("/w/<code>")
def join_page(code=""):
    lang = language()
    learner_id()
    return render_template("join.html", lang=lang, code=code, name="", problem=None,
                           csrf=csrf_token())


@pages.post("/join")
@rate_limited("learner_joins")
def join():
    lang = language()
    learner = learner_id()
    code, name = request.form.get("code", ""), request.form.get("name", "")
    headers = {}
    if not _form_ok():
        problem, status = msg(_EXPIRED), 400
    else:
        try:
            joined = _join(code, name, learner)
            session["workshop"] = joined["id"]
            return redirect(url_for("views.lesson_page", slug=joined["lesson"], lang=lang))
        except LabError as exc:
            status, problem = explain(exc)
            if isinstance(exc, Refused):
                headers = {"Retry-After": str(exc.retry_after)}
    return render_template("join.html", lang=lang, code=code[:16], name=name[:40], problem=problem,
                           csrf=csrf_token()), status, headers


def _join(code, name, learner) -> dict:
    """LEARNER joins by CODE. The right code of an open workshop always gets through (a room
    behind one address cannot be locked out by one of its members); a wrong one (or an
    ended workshop's) counts against the address (LABAPP_RATE_JOINS) and goes through the
    back-off (per address and per code): Refused (429) past either, else NotFound. Every
    join, right or wrong, has counted against the learner's own budget already
    (LABAPP_RATE_JOINS_PER_LEARNER, on the route)."""
    code = code.strip().upper() if isinstance(code, str) else ""
    well_formed = len(code) == CODE_LENGTH and code.isascii() and code.isalnum()
    try:
        workshop = workshops().by_code(code) if well_formed else None
    except NotFound:
        workshop = None
    if workshop is not None and workshop["ended"] is None:
        return workshops().join(code, name, learner)
    the_guard = guard()
    the_guard.hit("joins")  # every wrong code, even one the back-off refuses, counts
    throttle = the_guard.throttles["join"]
    address = client_address()
    throttle.check(address, code, "join codes")
    try:
        if not well_formed:
            raise NotFound(msg("that is not a join code (six letters and digits); check it with your trainer"))
        return workshops().join(code, name, learner)  # an ended workshop: Gone, with its title
    except NotFound as exc:
        wait = throttle.failed(address, code)
        if wait:
            raise NotFound(msg("{refusal} (wait {seconds} s before the next try)", refusal=said(exc), seconds=wait)) \
                from None
        raise


@wsapi.post("/join")
@rate_limited("learner_joins")
def api_join():
    data = json_body()
    joined = _join(data.get("code"), data.get("name"), learner_id())
    session["workshop"] = joined["id"]
    return jsonify({"workshop": joined["id"], "title": joined["title"], "lesson": joined["lesson"],
                    "name": joined["name"]})


# --- the workshop API ---------------------------------------------------------------------

@wsapi.get("/workshops")
@trainer_required
def api_list():
    return jsonify({"workshops": workshops().all()})


@wsapi.post("/workshops")
@trainer_required
def api_create():
    data = json_body()
    starts = data.get("starts")
    if isinstance(starts, (int, float)) and not isinstance(starts, bool) and starts > time.time() + MAX_AHEAD:
        raise ApiError(400, "the start time is seconds since the epoch, at most a year from now")
    made = workshops().create(data.get("title"), data.get("lessons"), data.get("capacity"),
                              data.get("starts"), data.get("minutes", 90))
    return jsonify({**made, "link": url_for("workshops.join_page", code=made["code"], _external=True)}), 201


@wsapi.get("/workshops/<wid>")
@trainer_required
def api_roster(wid):
    return jsonify(services().reports.roster(wid))


@wsapi.post("/workshops/<wid>/end")
@trainer_required
def api_end(wid):
    return jsonify(workshops().end(wid))


@wsapi.post("/workshops/<wid>/broadcast")
@trainer_required
def api_broadcast(wid):
    return jsonify({"sent_to": workshops().broadcast(wid, json_body().get("message"))})


@wsapi.delete("/workshops/<wid>/learners/<learner>")
@trainer_required
def api_remove(wid, learner):
    """Remove a learner: their seat and name are free, their sandbox goes, and that browser
    cannot join this workshop again."""
    return jsonify(workshops().remove(wid, learner))


@wsapi.post("/workshops/<wid>/learners/<learner>/reset")
@trainer_required
def api_reset(wid, learner):
    return jsonify(workshops().reset(wid, learner, json_body().get("step"))), 202


@wsapi.get("/workshops/<wid>/results.csv")
@trainer_required
def api_results_csv(wid):
    return Response(services().reports.results_csv(wid), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=workshop-{wid}.csv"})


@wsapi.get("/workshops/<wid>/results.json")
@trainer_required
def api_results_json(wid):
    reports = services().reports
    return Response(json.dumps({"workshop": workshops().get(wid), "results": reports.results(wid),
                                "room": reports.room(wid)}, ensure_ascii=False, indent=1),
                    mimetype="application/json")


@wsapi.get("/workshops/<wid>/room.csv")
@trainer_required
def api_room_csv(wid):
    """The room's figures, one row per step (docs/workshops.md, "The room")."""
    return Response(services().reports.room_csv(wid), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=workshop-{wid}-room.csv"})
