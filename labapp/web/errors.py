"""How the web layer answers what went wrong: the HTTP status of each kind of refusal, JSON
error bodies for the API blueprints, the API's request rules (JSON from this origin), and
the one sentence a learner reads for an error. Nothing here decides what is wrong: the lab,
the workshops and the guard raise; this maps."""
from __future__ import annotations

import math
from urllib.parse import urlsplit

import docker.errors
from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..engine import CONNECTION_ERRORS
from ..errors import LabappError, NodeDead
from ..i18n import msg, said
from ..lab import LabError, LabFull, NotFound, TooMany, WorkshopOnly
from ..workshop import DoesNotFit, Gone, WorkshopError


class ApiError(LabError):
    """A malformed API request, with its status (400, 401, 403...)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# The first class in this list that an error is an instance of gives its status.
_STATUSES = ((ApiError, None), (NotFound, 404), (LabFull, 503), (TooMany, 429), (WorkshopOnly, 403), (Gone, 410),
             (DoesNotFit, 409), (WorkshopError, 400), (NodeDead, 409), (LabError, 409))


def explain(exc: LabappError) -> tuple[int, str]:
    """The HTTP status and the sentence a learner sees for EXC (a Message when the error was
    made from one: English in the API's JSON, the page's language on a page or an event)."""
    from .credentials import Refused

    if isinstance(exc, NodeDead):
        return 409, msg("{problem}: press Reset sandbox for a fresh swarm (your progress is kept)",
                        problem=exc.args[0])
    if isinstance(exc, Refused):
        return 429, said(exc)
    for kind, status in _STATUSES:
        if isinstance(exc, kind):
            return (status or exc.status), said(exc)
    return 503, said(exc)  # the engine or a sandbox failed: not the caller's doing


def lab_error(exc: LabappError):
    """A JSON answer for a refusal, with Retry-After where waiting helps."""
    from .credentials import Refused

    status, message = explain(exc)
    response = jsonify({"error": message})
    if isinstance(exc, LabFull):
        response.headers["Retry-After"] = str(exc.minutes * 60)
    if isinstance(exc, Refused):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response, status


def http_error(exc: HTTPException):
    """An HTTP error (404, 405, 413...) as JSON, keeping its headers (Allow)."""
    message = exc.description or exc.name
    if exc.code == 413:
        message = f"the body is larger than {current_app.config['MAX_CONTENT_LENGTH'] // 1024} KiB"
    response = jsonify({"error": message})
    response.status_code = exc.code
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def unexpected(exc: Exception):
    """Anything else, never a bare 500 page: the engine away is a 503; a bug is logged."""
    if isinstance(exc, HTTPException):
        return http_error(exc)
    if isinstance(exc, LabappError):
        return lab_error(exc)
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


def api_blueprint_errors(blueprint) -> None:
    """Make BLUEPRINT answer like the API: JSON from this origin in, JSON errors out."""
    blueprint.before_request(same_origin_json)
    blueprint.register_error_handler(Exception, unexpected)


def init_app(app) -> None:
    @app.errorhandler(HTTPException)
    def _anywhere(exc):
        """An HTTP error outside a blueprint's handlers (405 from routing, say): JSON under
        /api/ like every other API error; elsewhere the default page."""
        if not request.path.startswith("/api/") or exc.code is None:
            return exc
        return http_error(exc)


def same_origin_json():
    """Refuse state-changing requests that are not JSON, or that come from another origin."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        return jsonify({"error": f"requests from {origin} are not accepted here"}), 403
    if request.method == "POST" and not request.is_json:
        return jsonify({"error": "send a JSON body (Content-Type: application/json)"}), 415
    return None


def json_body() -> dict:
    """The request's JSON object; 400 for anything else (not JSON, not an object, nested
    past reason, text that is not Unicode such as a lone surrogate, NaN or Infinity)."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    if not plain(data):
        raise ApiError(400, "the body holds text that is not valid Unicode (a lone surrogate) or a number "
                            "that is not finite")
    return data


def plain(value, depth=0) -> bool:
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
        return all(plain(k, depth + 1) and plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v, depth + 1) for v in value)
    return True
