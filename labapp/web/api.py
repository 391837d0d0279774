"""The JSON REST API: lessons, the learner's sandbox, steps, checks and the console.

Trainers script workshops with it and the tests use it. The learner is the browser
session's (a cookie), as on the pages. State-changing requests must be JSON from this
origin (CSRF), and every error is a JSON body with a 4xx/5xx status, never a bare 500.
"""
from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

import docker.errors
from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import LabappError
from ..lab import LabFull, explain
from ..lesson.model import condition_holds
from .guard import Refused, in_flight, rate_limited

api = Blueprint("api", __name__, url_prefix="/api")
STATUS_SECONDS = 5.0  # /api/status asks the engine at most this often


def init_app(app) -> None:
    app.register_blueprint(api)
    app.register_error_handler(HTTPException, _http_anywhere)


def _http_anywhere(exc):
    """An HTTP error outside a blueprint's handlers (405 from routing, say): JSON under
    /api/ like every other API error; elsewhere the default page."""
    if not request.path.startswith("/api/") or exc.code is None:
        return exc
    message = exc.description or exc.name
    if exc.code == 413:
        message = f"the body is larger than {current_app.config['MAX_CONTENT_LENGTH'] // 1024} KiB"
    response = jsonify({"error": message})
    response.status_code = exc.code
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _lab():
    return current_app.extensions["labapp.lab"]


def _lesson(slug):
    from .views import get_lesson, language

    if slug not in current_app.extensions["labapp.catalog"].lessons:
        raise ApiError(404, f"there is no lesson '{slug}'")
    return get_lesson(slug, language())


def _learner():
    from .views import learner_id

    return learner_id()


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@api.errorhandler(ApiError)
def _api_error(exc):
    return jsonify({"error": str(exc)}), exc.status


@api.errorhandler(LabappError)
def _lab_error(exc):
    status, message = explain(exc)
    response = jsonify({"error": message})
    if isinstance(exc, LabFull):
        response.headers["Retry-After"] = str(exc.minutes * 60)
    if isinstance(exc, Refused):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response, status


@api.errorhandler(Exception)
def _unexpected(exc):
    from werkzeug.exceptions import HTTPException

    from ..engine import CONNECTION_ERRORS

    if isinstance(exc, HTTPException):
        return _http_anywhere(exc)
    if isinstance(exc, CONNECTION_ERRORS):
        return jsonify({"error": "the Docker engine does not answer; try again in a minute"}), 503
    if isinstance(exc, docker.errors.DockerException):  # the host's engine said no: not the caller's doing
        current_app.logger.warning("the Docker engine refused a request", exc_info=True)
        said = getattr(exc, "explanation", None) or str(exc)
        hint = "; the lab's images need building (labapp images build)" \
            if isinstance(exc, docker.errors.ImageNotFound) else ""
        return jsonify({"error": f"the Docker engine refused: {said}{hint}"}), 503
    current_app.logger.exception("API request failed")
    return jsonify({"error": "an internal error (logged on the server)"}), 500


@api.errorhandler(400)
@api.errorhandler(404)
@api.errorhandler(405)
def _http_error(exc):
    return jsonify({"error": exc.description if hasattr(exc, "description") else str(exc)}), exc.code


@api.before_request
def _csrf():
    """Refuse state-changing requests that are not JSON, or that come from another origin."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        return jsonify({"error": f"requests from {origin} are not accepted here"}), 403
    if request.method == "POST" and not request.is_json:
        return jsonify({"error": "send a JSON body (Content-Type: application/json)"}), 415
    return None


def _body() -> dict:
    """The request's JSON object; 400 for anything else (not JSON, not an object, nested
    past reason, text that is not Unicode such as a lone surrogate, NaN or Infinity)."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    if not _plain(data):
        raise ApiError(400, "the body holds text that is not valid Unicode (a lone surrogate) or a number "
                            "that is not finite")
    return data


def _plain(value, depth=0) -> bool:
    """Whether every string in VALUE (keys too) encodes to UTF-8 and every number is finite
    (Python's JSON reader takes NaN and Infinity, which JSON has not)."""
    if depth > 100:
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return True


def _nothing_to_make() -> bool:
    """A sandbox request that will make nothing: the learner's sandbox for this lesson is
    ready (or starting, which is refused): it does not count against the address."""
    from .views import learner_id

    state = _lab().status(learner_id())
    slug = (request.view_args or {}).get("slug")
    return state["state"] == "starting" or (state["state"] == "ready" and state["lesson"] == slug)


@api.get("/lessons")
def lessons():
    rows = []
    for slug, versions in sorted(current_app.extensions["labapp.catalog"].lessons.items()):
        first = versions.get("en") or next(iter(versions.values()))
        rows.append({"slug": slug, "languages": sorted(versions), "kind": first.kind, "level": first.level,
                     "minutes": first.minutes, "steps": [s.id for s in first.steps],
                     "titles": {lang: l.title for lang, l in versions.items()}})
    return jsonify({"lessons": rows})


@api.get("/lessons/<slug>")
def lesson(slug):
    lesson = _lesson(slug)
    kernel = _lab().kernel()
    return jsonify({"slug": lesson.slug, "language": lesson.language, "title": lesson.title,
                    "nodes": lesson.node_names, "steps": [{
                        "id": s.id, "title": s.title,
                        "blocks": [{"index": i, "node": b.node, "commands": [c.text for c in b.commands],
                                    "expect_fail": b.expect_fail, "applies": condition_holds(b.when, kernel)}
                                   for i, b in enumerate(s.blocks)],
                        "checks": [c.kind for c in s.checks if condition_holds(c.when, kernel)]}
                        for s in lesson.steps]})


@api.get("/lessons/<slug>/progress")
def progress(slug):
    _lesson(slug)
    return jsonify({"lesson": slug, "steps": _lab().store.progress(_learner(), slug)})


@api.get("/sandbox")
def sandbox_status():
    return jsonify(_lab().status(_learner()))


@api.post("/lessons/<slug>/sandbox")
@rate_limited("sandboxes", exempt_when=_nothing_to_make)
@in_flight
def sandbox_start(slug):
    """Make (or keep) the learner's sandbox for this lesson; answers when it is ready."""
    lesson = _lesson(slug)
    stages = []
    _lab().ensure_sandbox(_learner(), lesson, stages.append)
    return jsonify({**_lab().status(_learner()), "stages": stages})


@api.delete("/sandbox")
def sandbox_reset():
    _lab().release(_learner())
    return jsonify(_lab().status(_learner()))


@api.post("/lessons/<slug>/steps/<step>/run")
@rate_limited("commands")
@in_flight
def run(slug, step):
    data = _body()
    block = data.get("block")
    if not isinstance(block, int) or isinstance(block, bool):
        raise ApiError(400, "give the command block to run: {\"block\": 0}")
    events = []
    runs = _lab().run_block(_learner(), _lesson(slug), step, block, events.append)
    return jsonify({"step": step, "block": block, "runs": [
        {"node": r.node, "command": r.command, "exit_code": r.result.exit_code, "timed_out": r.result.timed_out,
         "stdout": r.result.stdout, "stderr": r.result.stderr} for r in runs]})


@api.post("/lessons/<slug>/steps/<step>/check")
@rate_limited("commands")
@in_flight
def check(slug, step):
    return jsonify(_lab().check(_learner(), _lesson(slug), step))


@api.post("/lessons/<slug>/console")
@rate_limited("commands")
@in_flight
def console(slug):
    data = _body()
    node, line = data.get("node"), data.get("line")
    if not isinstance(node, str) or not isinstance(line, str):
        raise ApiError(400, "give the node and the line: {\"node\": \"manager1\", \"line\": \"docker node ls\"}")
    events = []
    answer = _lab().console(_learner(), _lesson(slug), node, line, events.append)
    if not answer["allowed"]:
        return jsonify({"error": answer["reason"], "refused": True}), 422
    out = [e for e in events if e["type"] == "output"]
    return jsonify({"exit_code": answer["exit_code"],
                    "stdout": "".join(e["text"] for e in out if e["stream"] == "stdout"),
                    "stderr": "".join(e["text"] for e in out if e["stream"] == "stderr")})


@api.get("/status")
def status():
    """Whether the lab can serve now (anyone): engine up, images present, room left. The
    trainer also gets the engine's version, the missing images and every sandbox on it."""
    from .workshops import need_trainer_or_nobody

    trainer = need_trainer_or_nobody()
    lab = _lab()
    probe = _engine_probe()
    capacity = lab.max_sandboxes or None
    free = max(0, capacity - lab.live()) if capacity else None
    if not probe["up"]:
        reason = "the Docker engine does not answer"
    elif not probe["checked"]:
        reason = "the lab's images could not be checked (the trainer's status says why)"
    elif probe["missing"]:
        reason = "the lab's images are not built yet (labapp images build)"
    elif free == 0:
        reason = "the lab is full"
    else:
        reason = None
    answer = {"serving": reason is None, "engine": "up" if probe["up"] else "down",
              "images": "unknown" if not probe["checked"] else ("missing" if probe["missing"] else "present"),
              "capacity": capacity, "free": free, "reason": reason}
    if trainer:
        answer.update(_engine_details())
    return jsonify(answer)


def _engine_probe() -> dict:
    """{up, missing, checked}: asked of the engine at most every STATUS_SECONDS (anyone may ask)."""
    cache = current_app.extensions.setdefault("labapp.status", {"at": 0.0, "probe": None})
    if cache["probe"] is None or time.monotonic() - cache["at"] > STATUS_SECONDS:
        details = _engine_details(sandboxes=False)
        cache["probe"] = {"up": details["version"] is not None, "missing": details["missing"],
                          "checked": details["version"] is not None and details["error"] is None}
        cache["at"] = time.monotonic()
    return cache["probe"]


def _engine_details(sandboxes: bool = True) -> dict:
    """The trainer's view of the engine: version, error, missing images, every sandbox."""
    from ..engine import connect
    from ..sandbox import SwarmSandbox
    from ..sandbox.images import missing_images
    from .views import app_settings

    answer = {"version": None, "error": None, "missing": []}
    if sandboxes:
        answer["sandboxes"] = []
    try:
        client = connect(timeout=10)
    except LabappError as exc:
        return {**answer, "error": str(exc)}
    try:
        answer["version"] = client.version().get("Version")
        answer["missing"] = missing_images(client, app_settings(current_app))
        if sandboxes:
            answer["sandboxes"] = SwarmSandbox.list(client)
    except Exception as exc:  # noqa: BLE001 - said in the answer: the engine went away, or a part failed
        current_app.logger.warning("the status of the engine is incomplete", exc_info=True)
        answer["error"] = f"the status is incomplete: {type(exc).__name__}: {exc}"
    finally:
        client.close()
    return answer


@api.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(current_app))


# --- the OpenAPI document: every route, every status it answers, schemas to fuzz by -------

_ERRORS = {
    400: "a malformed request: the body or a field is not what the operation takes",
    401: "no trainer credentials",
    403: "a request from another origin, or a wrong trainer token",
    404: "no such lesson, step, block, workshop or learner; a wrong join code",
    409: "the sandbox is not ready (or is starting), a node died, or the request conflicts with the state",
    410: "the workshop has ended",
    413: "the body is larger than 64 KiB",
    415: "a POST that is not JSON (Content-Type: application/json)",
    422: "the console refused the line (with the reason)",
    429: "a limit: commands in flight for this learner, a rate per client address, or the back-off after "
         "wrong trainer tokens or join codes (Retry-After says when to try again)",
    503: "the lab is full (Retry-After) or the Docker engine is away",
}
_RETRY = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
_JSON = "application/json"


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _op(summary, ok=None, errors=(), body=None, status=200, ok_text="OK", security=None, content=_JSON,
        params=()):
    """One operation: its 2xx answer (schema OK), the error statuses it really answers (each a
    JSON Error), its JSON body, and who may call it."""
    responses = {str(status): {"description": ok_text, "content": {content: {
        "schema": ok if ok is not None else {"type": "object"}}}}}
    for code in errors:
        responses[str(code)] = {"description": _ERRORS[code], "content": {_JSON: {"schema": _ref("Error")}}}
        if code in (429, 503):
            responses[str(code)]["headers"] = _RETRY
    op = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = list(params)
    if body is not None:
        op["requestBody"] = {"required": True, "content": {_JSON: {"schema": body}}}
    if security is not None:
        op["security"] = security
    return op


def _nullable(schema):
    return {**schema, "nullable": True}


_STR = {"type": "string"}
_TRAINER = [{"trainer": []}, {"trainerSession": []}]
_WRITE = (403, 415)  # every POST: another origin, not JSON
_BODY = (400, 413)  # every POST whose body is read
_SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string", "minLength": 1}, "refused": {"type": "boolean"}}},
    "LessonList": {"type": "object", "required": ["lessons"], "properties": {"lessons": {"type": "array", "items": {
        "type": "object", "required": ["slug", "languages", "steps", "titles"], "properties": {
            "slug": _STR, "languages": {"type": "array", "items": _STR}, "kind": _nullable(_STR),
            "level": _nullable(_STR), "minutes": _nullable({"type": "integer"}),
            "steps": {"type": "array", "items": _STR}, "titles": {"type": "object", "additionalProperties": _STR}}}}}},
    "Lesson": {"type": "object", "required": ["slug", "language", "title", "nodes", "steps"], "properties": {
        "slug": _STR, "language": {"type": "string", "enum": ["ko", "en"]}, "title": _STR,
        "nodes": {"type": "array", "items": _STR},
        "steps": {"type": "array", "items": {"type": "object", "required": ["id", "title", "blocks", "checks"],
                                             "properties": {"id": _STR, "title": _STR, "checks": {
                                                 "type": "array", "items": _STR}, "blocks": {
                                                 "type": "array", "items": {"type": "object", "required": [
                                                     "index", "node", "commands", "expect_fail", "applies"],
                                                     "properties": {"index": {"type": "integer"}, "node": _STR,
                                                                    "commands": {"type": "array", "items": _STR},
                                                                    "expect_fail": {"type": "boolean"},
                                                                    "applies": {"type": "boolean"}}}}}}}}},
    "Progress": {"type": "object", "required": ["lesson", "steps"], "properties": {
        "lesson": _STR, "steps": {"type": "object", "additionalProperties": {
            "type": "string", "enum": ["passed", "failed"]}}}},
    "Sandbox": {"type": "object", "required": ["state", "lesson", "nodes", "id"], "properties": {
        "state": {"type": "string", "enum": ["none", "starting", "ready"]}, "lesson": _nullable(_STR),
        "nodes": {"type": "array", "items": {"type": "object", "required": ["name", "role"], "properties": {
            "name": _STR, "role": {"type": "string", "enum": ["manager", "worker"]}}}},
        "id": _nullable(_STR), "stages": {"type": "array", "items": _STR}}},
    "Runs": {"type": "object", "required": ["step", "block", "runs"], "properties": {
        "step": _STR, "block": {"type": "integer"}, "runs": {"type": "array", "items": {
            "type": "object", "required": ["node", "command", "exit_code", "timed_out", "stdout", "stderr"],
            "properties": {"node": _STR, "command": _STR, "exit_code": _nullable({"type": "integer"}),
                           "timed_out": {"type": "boolean"}, "stdout": _STR, "stderr": _STR}}}}},
    "Verdict": {"type": "object", "required": ["step", "passed", "checks"], "properties": {
        "step": _STR, "passed": {"type": "boolean"}, "checks": {"type": "array", "items": {
            "type": "object", "required": ["name", "passed", "reason"], "properties": {
                "name": _STR, "kind": _STR, "passed": {"type": "boolean"}, "reason": _STR}}}}},
    "ConsoleResult": {"type": "object", "required": ["exit_code", "stdout", "stderr"], "properties": {
        "exit_code": _nullable({"type": "integer"}), "stdout": _STR, "stderr": _STR}},
    "Status": {"type": "object", "required": ["serving", "engine", "images", "capacity", "free", "reason"],
               "description": "anyone: whether the lab can serve; the trainer also gets version, error, "
                              "missing and sandboxes (every sandbox on the engine)",
               "properties": {
                   "serving": {"type": "boolean"}, "engine": {"type": "string", "enum": ["up", "down"]},
                   "images": {"type": "string", "enum": ["present", "missing", "unknown"]},
                   "capacity": _nullable({"type": "integer"}), "free": _nullable({"type": "integer"}),
                   "reason": _nullable(_STR), "version": _nullable(_STR), "error": _nullable(_STR),
                   "missing": {"type": "array", "items": _STR},
                   "sandboxes": {"type": "array", "items": {"type": "object"}}}},
    "Workshop": {"type": "object", "required": ["id", "code", "title", "lessons", "capacity", "starts", "minutes",
                                                "ends"], "properties": {
        "id": _STR, "code": _STR, "title": _STR, "lessons": {"type": "array", "items": _STR},
        "capacity": {"type": "integer"}, "starts": {"type": "number"}, "minutes": {"type": "integer"},
        "ends": {"type": "number"}, "ended": _nullable({"type": "number"}), "created": {"type": "number"},
        "link": _STR}},
    "Workshops": {"type": "object", "required": ["workshops"], "properties": {
        "workshops": {"type": "array", "items": _ref("Workshop")}}},
    "Roster": {"type": "object", "required": ["workshop", "learners"], "properties": {
        "workshop": {"type": "object"}, "learners": {"type": "array", "items": {"type": "object"}},
        "now": {"type": "number"}}},
    "Results": {"type": "object", "required": ["workshop", "results"], "properties": {
        "workshop": _ref("Workshop"), "results": {"type": "array", "items": {"type": "object"}}}},
    "Joined": {"type": "object", "required": ["workshop", "title", "lesson", "name"], "properties": {
        "workshop": _STR, "title": _STR, "lesson": _STR, "name": _STR}},
}


def openapi_document(app) -> dict:
    """The API as OpenAPI 3.0: lesson slugs and step ids are the catalogue's own, so that a
    fuzzer reaches the real code behind them (and tries other values too)."""
    lessons = app.extensions["labapp.catalog"].lessons
    slugs = sorted(lessons)
    steps = sorted({s.id for versions in lessons.values() for lesson in versions.values() for s in lesson.steps})
    slug = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string", "enum": slugs}}
    step = {"name": "step", "in": "path", "required": True, "schema": {"type": "string", "enum": steps}}
    wid = {"name": "wid", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"}}
    learner = {"name": "learner", "in": "path", "required": True,
               "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"}}
    lang = {"name": "lang", "in": "query", "required": False,
            "description": "the lesson's language (else the session's, else Accept-Language)",
            "schema": {"type": "string", "enum": ["ko", "en"]}}
    anything = {"description": "any JSON (not read)"}
    learner_cmd = (*_WRITE, 404, 409, 429, 503)
    return {
        "openapi": "3.0.3",
        "info": {"title": "labapp API", "version": "0.1.0", "description": (
            "Lessons, the learner's sandbox, steps, checks and the console; workshops. The learner is the "
            "session cookie; POST and DELETE need JSON from the same origin. Workshop routes need the trainer: "
            "'Authorization: Bearer TOKEN' or a signed-in session. Every error is {\"error\": \"...\"}; "
            "limits answer 429 with Retry-After (see docs/web.md).")},
        "paths": {
            "/api/lessons": {"get": _op("List the lessons", _ref("LessonList"))},
            "/api/lessons/{slug}": {"parameters": [slug], "get": _op(
                "A lesson: its steps, blocks and checks for this host", _ref("Lesson"), (404, 503),
                params=[lang])},
            "/api/lessons/{slug}/progress": {"parameters": [slug], "get": _op(
                "The learner's progress", _ref("Progress"), (404,))},
            "/api/sandbox": {
                "get": _op("The learner's sandbox", _ref("Sandbox")),
                "delete": _op("Reset: destroy the learner's sandbox (progress is kept)", _ref("Sandbox"),
                              (403, 503))},
            "/api/lessons/{slug}/sandbox": {"parameters": [slug], "post": _op(
                "Make the learner's sandbox for the lesson (caught up to their progress); answers when ready",
                _ref("Sandbox"), learner_cmd, body=anything, params=[lang])},
            "/api/lessons/{slug}/steps/{step}/run": {"parameters": [slug, step], "post": _op(
                "Run a command block of a step", _ref("Runs"), (*learner_cmd, *_BODY), params=[lang],
                body={"type": "object", "required": ["block"], "properties": {"block": {"type": "integer"}}})},
            "/api/lessons/{slug}/steps/{step}/check": {"parameters": [slug, step], "post": _op(
                "Check a step: each check's verdict and reason", _ref("Verdict"), learner_cmd, body=anything,
                params=[lang])},
            "/api/lessons/{slug}/console": {"parameters": [slug], "post": _op(
                "Run a console line on a node (the docker CLI, piped into filters)", _ref("ConsoleResult"),
                (*learner_cmd, *_BODY, 422), params=[lang], body={
                    "type": "object", "required": ["node", "line"], "properties": {
                        "node": {"type": "string", "example": "manager1"},
                        "line": {"type": "string", "maxLength": 2000, "example": "docker node ls"}}})},
            "/api/status": {"get": _op(
                "Whether the lab can serve; with trainer credentials also the engine and every sandbox",
                _ref("Status"), (403, 429), security=[{}, *_TRAINER])},
            "/api/workshops": {
                "get": _op("The trainer's workshops", _ref("Workshops"), (401, 403, 429), security=_TRAINER),
                "post": _op("Create a workshop: refused with the host's numbers when it does not fit",
                            _ref("Workshop"), (*_WRITE, *_BODY, 401, 409, 429), status=201,
                            ok_text="Created: with its code and join link", security=_TRAINER, body={
                                "type": "object", "required": ["title", "lessons", "capacity"], "properties": {
                                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                                    "lessons": {"type": "array", "minItems": 1, "items": {"type": "string",
                                                                                          "enum": slugs}},
                                    "capacity": {"type": "integer", "minimum": 1, "maximum": 500},
                                    "minutes": {"type": "integer", "minimum": 10, "maximum": 1440},
                                    "starts": {"type": "number", "description": "seconds since the epoch, at "
                                                                                 "most a year ahead; now if left out"}}})},
            "/api/workshops/{wid}": {"parameters": [wid], "get": _op(
                "The live roster: each learner's step, verdicts, time on the step, stuck mark", _ref("Roster"),
                (401, 403, 404, 429), security=_TRAINER)},
            "/api/workshops/{wid}/end": {"parameters": [wid], "post": _op(
                "End the workshop: every sandbox destroyed, results kept", _ref("Workshop"),
                (*_WRITE, 401, 404, 410, 429), security=_TRAINER, body=anything)},
            "/api/workshops/{wid}/broadcast": {"parameters": [wid], "post": _op(
                "Send a message to every learner's page",
                {"type": "object", "required": ["sent_to"], "properties": {"sent_to": {"type": "integer"}}},
                (*_WRITE, *_BODY, 401, 404, 410, 429), security=_TRAINER, body={
                    "type": "object", "required": ["message"], "properties": {
                        "message": {"type": "string", "minLength": 1, "maxLength": 500}}})},
            "/api/workshops/{wid}/learners/{learner}/reset": {"parameters": [wid, learner], "post": _op(
                "Give a learner a fresh sandbox at their step (or at 'step', replaying those before)",
                {"type": "object"}, (*_WRITE, *_BODY, 401, 404, 409, 410, 429), status=202, ok_text="Accepted",
                security=_TRAINER, body={"type": "object", "properties": {"step": {"type": "string"}}})},
            "/api/workshops/{wid}/results.csv": {"parameters": [wid], "get": _op(
                "Results as CSV: one row per learner and step", _STR, (401, 403, 404, 429), security=_TRAINER,
                content="text/csv")},
            "/api/workshops/{wid}/results.json": {"parameters": [wid], "get": _op(
                "Results as JSON", _ref("Results"), (401, 403, 404, 429), security=_TRAINER)},
            "/api/join": {"post": _op(
                "Join a workshop by its code with a display name (the learner is the cookie)", _ref("Joined"),
                (*_WRITE, *_BODY, 404, 409, 410, 429), body={
                    "type": "object", "required": ["code", "name"], "properties": {
                        "code": {"type": "string", "pattern": "^[A-Za-z0-9]{6}$"},
                        "name": {"type": "string", "minLength": 1, "maxLength": 40}}})},
            "/api/openapi.json": {"get": _op("This document", {"type": "object"})},
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "trainer": {"type": "http", "scheme": "bearer",
                            "description": "the trainer token (labapp serve prints it; LABAPP_TRAINER_TOKEN)"},
                "trainerSession": {"type": "apiKey", "in": "cookie", "name": "session",
                                   "description": "a session signed in at /trainer/login"}}},
    }
