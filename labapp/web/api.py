"""The JSON REST API: lessons, the learner's sandbox, steps, checks and the console.

Trainers script workshops with it and the tests use it. The learner is the browser
session's (a cookie), as on the pages. State-changing requests must be JSON from this
origin (CSRF), and every error is a JSON body with a 4xx/5xx status, never a bare 500.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request

from ..errors import LabappError
from ..lab import LabFull, explain
from ..lesson.model import condition_holds

api = Blueprint("api", __name__, url_prefix="/api")


def init_app(app) -> None:
    app.register_blueprint(api)


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
    return response, status


@api.errorhandler(Exception)
def _unexpected(exc):
    from werkzeug.exceptions import HTTPException

    from ..engine import CONNECTION_ERRORS

    if isinstance(exc, HTTPException):
        return jsonify({"error": exc.description}), exc.code
    if isinstance(exc, CONNECTION_ERRORS):
        return jsonify({"error": "the Docker engine does not answer; try again in a minute"}), 503
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
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


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
def check(slug, step):
    return jsonify(_lab().check(_learner(), _lesson(slug), step))


@api.post("/lessons/<slug>/console")
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
    """The lab host: engine, images, sandboxes."""
    from ..engine import connect
    from ..sandbox import SwarmSandbox
    from ..sandbox.images import missing_images
    from .views import app_settings

    try:
        client = connect(timeout=10)
    except LabappError as exc:
        return jsonify({"engine": None, "error": str(exc), "missing": [], "sandboxes": []})
    try:
        settings = app_settings(current_app)
        return jsonify({"engine": client.version().get("Version"), "error": None,
                        "missing": missing_images(client, settings), "sandboxes": SwarmSandbox.list(client)})
    finally:
        client.close()


@api.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)


def _op(summary, body=None, ok="OK", errors=(404, 409)):
    op = {"summary": summary, "responses": {"200": {"description": ok, "content": {
        "application/json": {"schema": {"type": "object"}}}}}}
    for code in errors:
        op["responses"][str(code)] = {"description": _ERRORS[code], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


_ERRORS = {400: "a malformed request", 401: "no trainer credentials", 403: "another origin or a wrong trainer token",
           410: "the workshop has ended", 404: "no such lesson, step or block",
           409: "the sandbox is not ready", 415: "not JSON", 422: "the console refused the line (with the reason)",
           429: "too many sandboxes asked for", 503: "the lab is full (Retry-After) or the engine is away"}
_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_STEP = {"name": "step", "in": "path", "required": True, "schema": {"type": "string"}}
_WID = {"name": "wid", "in": "path", "required": True, "schema": {"type": "string"}}
_LEARNER = {"name": "learner", "in": "path", "required": True, "schema": {"type": "string"}}
OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "labapp API", "version": "0.1.0",
             "description": "Lessons, the learner's sandbox, steps, checks and the console; workshops. The "
                            "learner is the session cookie; POST and DELETE need JSON from the same origin. "
                            "Workshop routes need the trainer: 'Authorization: Bearer TOKEN'."},
    "paths": {
        "/api/lessons": {"get": _op("List the lessons", errors=())},
        "/api/lessons/{slug}": {"parameters": [_SLUG], "get": _op("A lesson: its steps, blocks and checks for this host", errors=(404,))},
        "/api/lessons/{slug}/progress": {"parameters": [_SLUG], "get": _op("The learner's progress", errors=(404,))},
        "/api/sandbox": {"get": _op("The learner's sandbox", errors=()),
                          "delete": _op("Reset: destroy the learner's sandbox (progress is kept)", errors=(403,))},
        "/api/lessons/{slug}/sandbox": {"parameters": [_SLUG], "post": _op(
            "Make the learner's sandbox for the lesson (caught up to their progress)", body={"type": "object"},
            errors=(403, 404, 415, 429, 503))},
        "/api/lessons/{slug}/steps/{step}/run": {"parameters": [_SLUG, _STEP], "post": _op(
            "Run a command block of a step", body={"type": "object", "required": ["block"],
                                                  "properties": {"block": {"type": "integer"}}},
            errors=(400, 403, 404, 409, 415))},
        "/api/lessons/{slug}/steps/{step}/check": {"parameters": [_SLUG, _STEP], "post": _op(
            "Check a step: each check's verdict and reason", body={"type": "object"}, errors=(403, 404, 409, 415))},
        "/api/lessons/{slug}/console": {"parameters": [_SLUG], "post": _op(
            "Run a console line on a node (docker CLI piped into filters)",
            body={"type": "object", "required": ["node", "line"],
                  "properties": {"node": {"type": "string"}, "line": {"type": "string"}}},
            errors=(400, 403, 404, 409, 415, 422))},
        "/api/status": {"get": _op("The lab host: engine, images, sandboxes", errors=())},
        "/api/workshops": {
            "get": _op("The trainer's workshops", errors=(401, 403)),
            "post": _op("Create a workshop (trainer): refused with the host's numbers when it does not fit",
                        body={"type": "object", "required": ["title", "lessons", "capacity"], "properties": {
                            "title": {"type": "string"}, "lessons": {"type": "array", "items": {"type": "string"}},
                            "capacity": {"type": "integer"}, "minutes": {"type": "integer"},
                            "starts": {"type": "number", "description": "seconds since the epoch; now if left out"}}},
                        ok="Created: id, code, link", errors=(400, 401, 403, 409, 415))},
        "/api/workshops/{wid}": {"parameters": [_WID], "get": _op(
            "The live roster: each learner's step, verdicts, time on the step, stuck mark", errors=(401, 403, 404))},
        "/api/workshops/{wid}/end": {"parameters": [_WID], "post": _op(
            "End the workshop: every sandbox destroyed, results kept", errors=(401, 403, 404, 410))},
        "/api/workshops/{wid}/broadcast": {"parameters": [_WID], "post": _op(
            "Send a message to every learner's page", body={"type": "object", "required": ["message"],
                                                          "properties": {"message": {"type": "string"}}},
            errors=(400, 401, 403, 404, 410))},
        "/api/workshops/{wid}/learners/{learner}/reset": {"parameters": [_WID, _LEARNER], "post": _op(
            "Give a learner a fresh sandbox at their step (or at 'step', replaying those before)",
            body={"type": "object", "properties": {"step": {"type": "string"}}}, ok="Accepted",
            errors=(400, 401, 403, 404, 409, 410))},
        "/api/workshops/{wid}/results.csv": {"parameters": [_WID], "get": _op(
            "Results as CSV: one row per learner and step", errors=(401, 403, 404))},
        "/api/workshops/{wid}/results.json": {"parameters": [_WID], "get": _op(
            "Results as JSON", errors=(401, 403, 404))},
        "/api/join": {"post": _op("Join a workshop by its code with a display name (the learner is the cookie)",
                                  body={"type": "object", "required": ["code", "name"], "properties": {
                                      "code": {"type": "string"}, "name": {"type": "string"}}},
                                  errors=(400, 404, 409, 410, 415))},
        "/api/openapi.json": {"get": _op("This document", errors=())},
    },
    "components": {"schemas": {"Error": {"type": "object", "required": ["error"],
                                         "properties": {"error": {"type": "string"}}}}},
}
