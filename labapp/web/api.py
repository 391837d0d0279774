"""The JSON REST API: lessons, the learner's sandbox, steps, checks and the console; the
lab's status; /metrics (Prometheus). Trainers script workshops with it (labapp/web/trainer.py)
and the tests use it. The learner is the browser session's (a cookie), as on the pages.
State-changing requests must be JSON from this origin, and every error is a JSON body with
a 4xx/5xx status, never a bare 500 (labapp/web/errors.py)."""
from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, jsonify, request

from ..errors import LabappError
from ..lab import LabError
from ..lesson.model import condition_holds
from . import services, web
from .errors import ApiError, api_blueprint_errors, json_body
from .guard import charge_command, in_flight, note_address, rate_limited
from .openapi import openapi_document
from .trainer import trainer_or_nobody
from .views import get_lesson, language, learner_id

api = Blueprint("api", __name__, url_prefix="/api")
meta = Blueprint("meta", __name__)
api_blueprint_errors(api)
STATUS_SECONDS = 5.0  # /api/status asks the engine at most this often


def init_app(app) -> None:
    app.register_blueprint(api)
    app.register_blueprint(meta)


def _lesson(slug):
    if slug not in services().catalog.lessons:
        raise ApiError(404, f"there is no lesson '{slug}'")
    return get_lesson(slug, language())


def _nothing_to_make() -> bool:
    """A sandbox request that will make nothing: the learner's sandbox for this lesson is
    ready (or starting, which is refused), or admission refuses a new one now (guard.py's
    charge_sandbox says why): it does not count against the address."""
    learner = learner_id()
    state = services().lifecycle.status(learner)
    slug = (request.view_args or {}).get("slug")
    if state["state"] == "starting" or (state["state"] == "ready" and state["lesson"] == slug):
        return True
    note_address(learner)
    try:
        services().admission.check(learner, replacing=state["state"] == "ready")
    except LabError:
        return True  # the view hears the refusal from admission itself
    return False


@api.get("/lessons")
def lessons():
    catalog = services().catalog
    rows = []
    for slug, versions in sorted(catalog.lessons.items()):
        first = catalog.version(slug)
        rows.append({"slug": slug, "languages": sorted(versions), "kind": first.kind, "level": first.level,
                     "minutes": first.minutes, "steps": [s.id for s in first.steps],
                     "titles": {lang: l.title for lang, l in versions.items()}})
    return jsonify({"lessons": rows})


@api.get("/lessons/<slug>")
def lesson(slug):
    lesson = _lesson(slug)
    kernel = services().kernel()
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
    return jsonify({"lesson": slug, "steps": services().store.progress(learner_id(), slug)})


@api.get("/sandbox")
def sandbox_status():
    return jsonify(services().lifecycle.status(learner_id()))


@api.post("/lessons/<slug>/sandbox")
@rate_limited("sandboxes", exempt_when=_nothing_to_make)
@in_flight
def sandbox_start(slug):
    """Make (or keep) the learner's sandbox for this lesson; answers when it is ready."""
    lesson, lifecycle = _lesson(slug), services().lifecycle
    note_address(learner_id())
    stages = []
    lifecycle.ensure(learner_id(), lesson, stages.append)
    return jsonify({**lifecycle.status(learner_id()), "stages": stages})


@api.delete("/sandbox")
def sandbox_reset():
    lifecycle = services().lifecycle
    lifecycle.release(learner_id())
    return jsonify(lifecycle.status(learner_id()))


@api.post("/lessons/<slug>/steps/<step>/run")
@rate_limited("learner_commands")
@in_flight
def run(slug, step):
    block = json_body().get("block")
    if not isinstance(block, int) or isinstance(block, bool):
        raise ApiError(400, "give the command block to run: {\"block\": 0}")
    lesson = _lesson(slug)
    charge_command(learner_id(), lesson, step=step, block=block)
    runs = services().commands.run_block(learner_id(), lesson, step, block, lambda event: None)
    return jsonify({"step": step, "block": block, "runs": [
        {"node": r.node, "command": r.command, "exit_code": r.result.exit_code, "timed_out": r.result.timed_out,
         "stdout": r.result.stdout, "stderr": r.result.stderr} for r in runs]})


@api.post("/lessons/<slug>/steps/<step>/check")
@rate_limited("learner_commands")
@in_flight
def check(slug, step):
    lesson = _lesson(slug)
    charge_command(learner_id(), lesson, step=step)
    return jsonify(services().commands.check(learner_id(), lesson, step))


@api.post("/lessons/<slug>/console")
@rate_limited("learner_commands")
@in_flight
def console(slug):
    data = json_body()
    node, line = data.get("node"), data.get("line")
    if not isinstance(node, str) or not isinstance(line, str):
        raise ApiError(400, "give the node and the line: {\"node\": \"manager1\", \"line\": \"docker node ls\"}")
    lesson = _lesson(slug)
    charge_command(learner_id(), lesson, node=node, line=line)
    events = []
    answer = services().commands.console(learner_id(), lesson, node, line, events.append)
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
    trainer = trainer_or_nobody()
    lab = services()
    probe = _engine_probe()
    capacity = lab.admission.max_sandboxes or None
    free = max(0, capacity - lab.seats.live()) if capacity else None
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
        if lab.lifecycle.queue is not None:
            answer["queue"] = lab.lifecycle.queue.status()  # sandboxes being made, learners waiting their turn
        answer["instance"] = lab.backend.owner  # which instance answered (several behind one proxy)
        if lab.cluster is not None:
            try:
                answer["instances"] = sorted(lab.cluster.alive())
            except Exception as exc:  # noqa: BLE001 - Redis away: the status says so
                answer["instances"], answer["cluster_error"] = None, f"the cluster's Redis did not answer: {exc}"
    return jsonify(answer)


def _engine_probe() -> dict:
    """{up, missing, checked}: asked of the engine at most every STATUS_SECONDS (anyone may ask)."""
    cache = web().status_cache
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

    answer = {"version": None, "error": None, "missing": []}
    if sandboxes:
        answer["sandboxes"] = []
    try:
        client = connect(timeout=10)
    except LabappError as exc:
        return {**answer, "error": str(exc)}
    try:
        answer["version"] = client.version().get("Version")
        answer["missing"] = missing_images(client, services().settings)
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


@meta.get("/metrics")
def metrics():
    """The lab's figures in Prometheus' text format (labapp/lab/metrics.py)."""
    lab = services()
    lab.update_gauges()
    return Response(lab.metrics.render(), mimetype="text/plain; version=0.0.4")
