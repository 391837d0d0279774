"""Workshops on the web: the trainer's sign-in, workshop list and live dashboard, the
learners' join page, the workshop API under /api/workshops, and /metrics."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import time

import segno
from flask import (Blueprint, Response, current_app, jsonify, redirect, render_template, request, session,
                   url_for)
from markupsafe import Markup

from ..datadir import kept
from ..errors import LabappError
from ..lab import LabError, NotFound
from ..workshop import Workshops
from .api import ApiError, _api_error, _body, _csrf, _lab_error, _unexpected
from .guard import Refused, client_address, guard, header_bytes, rate_limited, same_secret
from .views import get_lesson, language, learner_id, ui

pages = Blueprint("workshops", __name__)
wsapi = Blueprint("wsapi", __name__, url_prefix="/api")
CODE_LENGTH = 6  # a join code's letters and digits
MAX_AHEAD = 366 * 86400  # a workshop starts at most this far ahead (dates past 9999 break the clock)


def init_app(app) -> None:
    lab = app.extensions["labapp.lab"]
    catalog = app.extensions["labapp.catalog"]

    def lesson(slug):
        versions = catalog.lessons.get(slug) if isinstance(slug, str) else None
        return (versions.get("en") or next(iter(versions.values()))) if versions else None
    app.extensions["labapp.workshops"] = Workshops(
        lab.store, lab, lesson, app.extensions["labapp.capacity"],
        stuck_minutes=float(app.config.get("LABAPP_STUCK_MINUTES", 10)),
        stuck_failures=int(app.config.get("LABAPP_STUCK_FAILURES", 3)))
    app.config["LABAPP_TRAINER_TOKEN"] = app.config.get("LABAPP_TRAINER_TOKEN") or _stored_token(
        app.config["LABAPP_DATA_DIR"])
    app.register_blueprint(pages)
    app.register_blueprint(wsapi)


def workshops() -> Workshops:
    return current_app.extensions["labapp.workshops"]


# --- the trainer's credentials ----------------------------------------------------------

def _stored_token(data_dir: str) -> str:
    """The trainer token when LABAPP_TRAINER_TOKEN is not set: random, made once per data
    directory (mode 0600) and printed by `labapp serve`; there is no default token."""
    return kept(data_dir, "trainer_token", lambda: secrets.token_urlsafe(18))


def trainer_token_note(app) -> str:
    if os.environ.get("LABAPP_TRAINER_TOKEN"):
        return "from LABAPP_TRAINER_TOKEN"
    path = os.path.join(app.config["LABAPP_DATA_DIR"], "trainer_token")
    return f"{app.config['LABAPP_TRAINER_TOKEN']} (kept in {path}; set LABAPP_TRAINER_TOKEN to choose one)"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def trainer_state() -> str:
    """'ok', 'missing' (no credentials: 401) or 'wrong' (bad credentials: 403).

    A Bearer token is the credential when the request has one (other Authorization schemes,
    such as a proxy's Basic, are not ours and are ignored); else the signed-in session. A
    Bearer token is throttled: while this address (or this token) must wait after wrong
    ones, Refused (429) is raised before the token is even compared."""
    token = current_app.config["LABAPP_TRAINER_TOKEN"]
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return _attempt(header_bytes(given.strip()), token, "trainer tokens")
    signed = session.get("trainer")
    if signed is None:
        return "missing"
    return "ok" if same_secret(signed, _digest(token)) else "wrong"


def _attempt(given, token: str, what: str) -> str:
    """Judge a trainer token GIVEN by this client, through the back-off: 'ok' or 'wrong'."""
    throttle = guard().throttles["trainer"]
    address = client_address()
    throttle.check(address, given, what)
    if given and same_secret(given, token):
        throttle.succeeded(address, given)
        return "ok"
    throttle.failed(address, given)
    return "wrong"


def need_trainer_or_nobody() -> bool:
    """True for the trainer, False for anyone without trainer credentials; wrong ones are a
    403 (and count against the address, as everywhere)."""
    state = trainer_state()
    if state == "wrong":
        raise _Denied(_WRONG, status_code=403)
    return state == "ok"


_WRONG = "the trainer token is not right (labapp serve prints it; LABAPP_TRAINER_TOKEN sets it)"


class _Denied(LabError):
    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status = status_code


def _need_trainer() -> None:
    state = trainer_state()
    if state == "missing":
        raise _Denied("this needs the trainer's token: send 'Authorization: Bearer TOKEN' or sign in at "
                      "/trainer/login", status_code=401)
    if state == "wrong":
        raise _Denied(_WRONG, status_code=403)


# The workshop API answers as the rest of the API does: the same CSRF rule, the same errors.
wsapi.before_request(_csrf)
wsapi.register_error_handler(ApiError, _api_error)
wsapi.register_error_handler(LabappError, _lab_error)
wsapi.register_error_handler(Exception, _unexpected)


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(16)
    return session["csrf"]


def _form_ok() -> bool:
    return same_secret(request.form.get("csrf", ""), session.get("csrf"))


# --- pages ------------------------------------------------------------------------------

@pages.get("/trainer/login")
def login_page():
    lang = language()
    return render_template("trainer_login.html", lang=lang, ui=ui(lang), csrf=_csrf_token(), problem=None)


@pages.post("/trainer/login")
@rate_limited("signins")
def login():
    lang = language()
    token = current_app.config["LABAPP_TRAINER_TOKEN"]
    status, retry = 403, None
    if not _form_ok():
        problem, status = "the form expired; try again", 400
    else:
        try:
            state = _attempt(request.form.get("token", "").strip(), token, "trainer tokens")
        except Refused as exc:
            state, problem, status, retry = "wait", str(exc), 429, exc.retry_after
        if state == "ok":
            session["trainer"] = _digest(token)
            return redirect(url_for("workshops.trainer_home"))
        if state == "wrong":
            problem = "that is not the trainer token (labapp serve prints it when it starts)"
    page = render_template("trainer_login.html", lang=lang, ui=ui(lang), csrf=_csrf_token(), problem=problem)
    return page, status, ({"Retry-After": str(retry)} if retry else {})


@pages.post("/trainer/logout")
def logout():
    """Sign out: a POST with the page's CSRF token (a link or another site cannot do it)."""
    if not _form_ok():
        lang = language()
        return render_template("error.html", message="the sign-out form expired; open /trainer and sign out "
                               "again", lang=lang), 400
    session.pop("trainer", None)
    return redirect(url_for("views.index"))


@pages.get("/trainer")
def trainer_home():
    if trainer_state() != "ok":
        return redirect(url_for("workshops.login_page"))
    lang = language()
    return _home(lang, None, {})


def _home(lang, problem, form, status=200):
    lessons = sorted(current_app.extensions["labapp.catalog"].lessons)
    capacity = current_app.extensions["labapp.capacity"]
    return render_template("trainer.html", lang=lang, ui=ui(lang), csrf=_csrf_token(), problem=problem,
                           workshops=workshops().all(), lessons=lessons, form=form,
                           capacity=capacity.explain() if capacity else "no limit set"), status


@pages.post("/trainer/workshops")
def create_from_form():
    if trainer_state() != "ok":
        return redirect(url_for("workshops.login_page"))
    lang = language()
    if not _form_ok():
        return _home(lang, "the form expired; try again", request.form, 400)
    try:
        capacity = int(request.form.get("capacity", ""))
        minutes = int(request.form.get("minutes", "90"))
        delay = int(request.form.get("starts_in", "0") or 0)
    except ValueError:
        return _home(lang, "capacity, duration and start are whole numbers", request.form, 400)
    if not 0 <= delay <= MAX_AHEAD // 60:
        return _home(lang, "the start is 0 to 527040 minutes from now (a year)", request.form, 400)
    try:
        made = workshops().create(request.form.get("title"), request.form.getlist("lessons"), capacity,
                                  time.time() + delay * 60, minutes)
    except LabError as exc:
        return _home(lang, str(exc), request.form, exc.status)
    return redirect(url_for("workshops.dashboard", wid=made["id"]))


@pages.get("/trainer/workshops/<wid>")
def dashboard(wid):
    if trainer_state() != "ok":
        return redirect(url_for("workshops.login_page"))
    lang = language()
    try:
        workshop = workshops().get(wid)
    except LabError:
        return render_template("error.html", message=f"There is no workshop '{wid}'.", lang=lang), 404
    link = url_for("workshops.join_page", code=workshop["code"], _external=True)
    lesson = get_lesson(workshop["lessons"][0], lang)
    return render_template("dashboard.html", lang=lang, ui=ui(lang), workshop=workshop, link=link,
                           csrf=_csrf_token(), steps=[(s.id, s.title) for s in lesson.steps],
                           qr=Markup(segno.make(link, error="m").svg_inline(scale=4, omitsize=False)))


@pages.get("/join")
@pages.get("/w/<code>")
def join_page(code=""):
    lang = language()
    learner_id()
    return render_template("join.html", lang=lang, ui=ui(lang), code=code, name="", problem=None,
                           csrf=_csrf_token())


@pages.post("/join")
@rate_limited("joins")
def join():
    lang = language()
    learner = learner_id()
    code, name = request.form.get("code", ""), request.form.get("name", "")
    headers = {}
    if not _form_ok():
        problem, status = "the form expired; try again", 400
    else:
        try:
            joined = _join(code, name, learner)
            session["workshop"] = joined["id"]
            return redirect(url_for("views.lesson_page", slug=joined["lesson"], lang=lang))
        except Refused as exc:
            problem, status, headers = str(exc), 429, {"Retry-After": str(exc.retry_after)}
        except LabError as exc:
            problem, status = str(exc), exc.status
    return render_template("join.html", lang=lang, ui=ui(lang), code=code[:16], name=name[:40], problem=problem,
                           csrf=_csrf_token()), status, headers


def _join(code, name, learner) -> dict:
    """LEARNER joins by CODE, through the back-off on wrong codes (per address and code)."""
    code = code.strip().upper() if isinstance(code, str) else ""
    throttle = guard().throttles["join"]
    address = client_address()
    throttle.check(address, code, "join codes")
    try:
        if len(code) != CODE_LENGTH or not code.isascii() or not code.isalnum():
            raise NotFound("that is not a join code (six letters and digits); check it with your trainer")
        joined = workshops().join(code, name, learner)
    except NotFound as exc:
        wait = throttle.failed(address, code)
        if wait:
            raise NotFound(f"{exc} (wait {wait} s before the next try)") from None
        raise
    throttle.succeeded(address, code)
    return joined


@pages.get("/metrics")
def metrics():
    return Response(render_metrics(current_app), mimetype="text/plain; version=0.0.4")


def render_metrics(app) -> str:
    lab = app.extensions["labapp.lab"]
    m = lab.metrics
    pooled = lab.pool.count() if lab.pool is not None else 0
    open_workshops = [w for w in app.extensions["labapp.workshops"].all() if w["ended"] is None]
    with m.lock:
        ready = list(m.ready_seconds)
        lines = [
            "# HELP labapp_sandboxes_running Sandboxes held by learners (or starting for them).",
            "# TYPE labapp_sandboxes_running gauge", f"labapp_sandboxes_running {lab.live()}",
            "# HELP labapp_sandboxes_pooled Sandboxes ready (or being made) in the warm pool.",
            "# TYPE labapp_sandboxes_pooled gauge", f"labapp_sandboxes_pooled {pooled}",
            "# HELP labapp_sandbox_capacity The most sandboxes this host holds at once (0: no limit).",
            "# TYPE labapp_sandbox_capacity gauge", f"labapp_sandbox_capacity {lab.max_sandboxes}",
            "# HELP labapp_time_to_ready_seconds From asking for a sandbox to having it ready.",
            "# TYPE labapp_time_to_ready_seconds summary",
            f"labapp_time_to_ready_seconds_sum {sum(ready):.3f}", f"labapp_time_to_ready_seconds_count {len(ready)}",
            "# HELP labapp_pool_hits_total Sandboxes given out ready from the warm pool.",
            "# TYPE labapp_pool_hits_total counter", f"labapp_pool_hits_total {m.pool_hits}",
            "# HELP labapp_steps_run_total Command blocks run by learners.",
            "# TYPE labapp_steps_run_total counter", f"labapp_steps_run_total {m.steps_run}",
            "# HELP labapp_checks_total Step checks, by result.", "# TYPE labapp_checks_total counter",
            *(f'labapp_checks_total{{result="{k}"}} {v}' for k, v in sorted(m.checks.items())),
            "# HELP labapp_console_refusals_total Console lines the policy refused.",
            "# TYPE labapp_console_refusals_total counter", f"labapp_console_refusals_total {m.console_refusals}",
            "# HELP labapp_sandboxes_reaped_total Sandboxes removed by the lab, by reason.",
            "# TYPE labapp_sandboxes_reaped_total counter",
            *(f'labapp_sandboxes_reaped_total{{reason="{k}"}} {v}' for k, v in sorted(m.reaped.items())),
            "# HELP labapp_workshops_open Workshops not yet ended.",
            "# TYPE labapp_workshops_open gauge", f"labapp_workshops_open {len(open_workshops)}",
        ]
    return "\n".join(lines) + "\n"


# --- the API ----------------------------------------------------------------------------

@wsapi.get("/workshops")
def api_list():
    _need_trainer()
    return jsonify({"workshops": workshops().all()})


@wsapi.post("/workshops")
def api_create():
    _need_trainer()
    data = _body()
    starts = data.get("starts")
    if isinstance(starts, (int, float)) and not isinstance(starts, bool) and starts > time.time() + MAX_AHEAD:
        raise ApiError(400, "the start time is seconds since the epoch, at most a year from now")
    made = workshops().create(data.get("title"), data.get("lessons"), data.get("capacity"),
                              data.get("starts"), data.get("minutes", 90))
    return jsonify({**made, "link": url_for("workshops.join_page", code=made["code"], _external=True)}), 201


@wsapi.get("/workshops/<wid>")
def api_roster(wid):
    _need_trainer()
    return jsonify(workshops().roster(wid))


@wsapi.post("/workshops/<wid>/end")
def api_end(wid):
    _need_trainer()
    return jsonify(workshops().end(wid))


@wsapi.post("/workshops/<wid>/broadcast")
def api_broadcast(wid):
    _need_trainer()
    return jsonify({"sent_to": workshops().broadcast(wid, _body().get("message"))})


@wsapi.post("/workshops/<wid>/learners/<learner>/reset")
def api_reset(wid, learner):
    _need_trainer()
    return jsonify(workshops().reset(wid, learner, _body().get("step"))), 202


@wsapi.get("/workshops/<wid>/results.csv")
def api_results_csv(wid):
    _need_trainer()
    return Response(workshops().results_csv(wid), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=workshop-{wid}.csv"})


@wsapi.get("/workshops/<wid>/results.json")
def api_results_json(wid):
    _need_trainer()
    return Response(json.dumps({"workshop": workshops().get(wid), "results": workshops().results(wid)},
                               ensure_ascii=False, indent=1), mimetype="application/json")


@wsapi.post("/join")
@rate_limited("joins")
def api_join():
    data = _body()
    joined = _join(data.get("code"), data.get("name"), learner_id())
    session["workshop"] = joined["id"]
    return jsonify({"workshop": joined["id"], "title": joined["title"], "lesson": joined["lesson"],
                    "name": joined["name"]})
