"""The API's OpenAPI 3.0 document (/api/openapi.json): every route, every status it
answers, and schemas precise enough to fuzz by (tests/security/test_api_fuzz.py)."""
from __future__ import annotations

_ERRORS = {
    400: "a malformed request: the body or a field is not what the operation takes",
    401: "no trainer credentials",
    403: "a request from another origin, a wrong trainer token, or a sandbox for workshop learners only "
         "(LABAPP_WORKSHOP_ONLY)",
    404: "no such lesson, step, block, workshop or learner; a wrong join code",
    409: "the sandbox is not ready (or is starting), a node died, or the request conflicts with the state (a "
         "name taken, a full workshop, a learner the trainer removed)",
    410: "the workshop has ended",
    413: "the body is larger than 64 KiB",
    415: "a POST that is not JSON (Content-Type: application/json)",
    422: "the console refused the line (with the reason)",
    429: "a limit: commands in flight for this learner, a rate per learner or per client address, the "
         "sandboxes one address holds, or the back-off after wrong trainer tokens or join codes (Retry-After "
         "says when to try again)",
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
        "step": _STR, "passed": {"type": "boolean"},
        "uncertain": {"type": "boolean", "description": "No verdict: a check was still converging when the lab was "
                      "too slow to tell (not recorded as an attempt; check again later)"},
        "message": _STR, "checks": {"type": "array", "items": {
            "type": "object", "required": ["name", "passed", "reason"], "properties": {
                "name": _STR, "kind": _STR, "passed": {"type": "boolean"}, "reason": _STR,
                "waited": {"type": "number", "description": "Seconds the check waited for the swarm to converge"},
                "uncertain": {"type": "boolean"}}}}}},
    "ConsoleResult": {"type": "object", "required": ["exit_code", "stdout", "stderr"], "properties": {
        "exit_code": _nullable({"type": "integer"}), "stdout": _STR, "stderr": _STR}},
    "Status": {"type": "object", "required": ["serving", "engine", "images", "capacity", "free", "reason"],
               "description": "anyone: whether the lab can serve; the trainer also gets version, error, "
                              "missing, queue, sandboxes (every sandbox on the engine), instance (the id of "
                              "the instance that answered) and, with several, instances (those alive)",
               "properties": {
                   "serving": {"type": "boolean"}, "engine": {"type": "string", "enum": ["up", "down"]},
                   "images": {"type": "string", "enum": ["present", "missing", "unknown"]},
                   "capacity": _nullable({"type": "integer"}), "free": _nullable({"type": "integer"}),
                   "reason": _nullable(_STR), "version": _nullable(_STR), "error": _nullable(_STR),
                   "missing": {"type": "array", "items": _STR},
                   "instance": _STR, "instances": _nullable({"type": "array", "items": _STR}),
                   "cluster_error": _STR,
                   "queue": {"type": "object", "description": "sandboxes made at a time (slots), being made, "
                             "learners waiting their turn, and a typical making's seconds", "properties": {
                                 "slots": {"type": "integer"}, "making": {"type": "integer"},
                                 "waiting": {"type": "integer"}, "typical_seconds": {"type": "number"}}},
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
    lessons = app.extensions["labapp"].services.catalog.lessons
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
            "/api/workshops/{wid}/learners/{learner}": {"parameters": [wid, learner], "delete": _op(
                "Remove a learner: their place and name are free, their sandbox is destroyed, and their browser "
                "cannot join this workshop again",
                {"type": "object", "required": ["learner", "name", "removed"], "properties": {
                    "learner": _STR, "name": _STR, "removed": {"type": "boolean"}}},
                (401, 403, 404, 429), security=_TRAINER)},
            "/api/workshops/{wid}/learners/{learner}/reset": {"parameters": [wid, learner], "post": _op(
                "Give a learner a fresh sandbox at their step (or at 'step', replaying those before)",
                {"type": "object"}, (*_WRITE, *_BODY, 401, 404, 409, 410, 429), status=202, ok_text="Accepted",
                security=_TRAINER, body={"type": "object", "properties": {"step": {"type": "string"}}})},
            "/api/workshops/{wid}/results.csv": {"parameters": [wid], "get": _op(
                "Results as CSV: one row per learner and step", _STR, (401, 403, 404, 429), security=_TRAINER,
                content="text/csv")},
            "/api/workshops/{wid}/room.csv": {"parameters": [wid], "get": _op(
                "The room per step as CSV: learners passed, working, stuck and not reached, median and slowest "
                "time, the most common failing checks with their reasons (docs/workshops.md)", _STR,
                (401, 403, 404, 429), security=_TRAINER, content="text/csv")},
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
