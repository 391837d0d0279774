"""Pages. For now: the home page with the lab host's status (lessons come with the lessons issue)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from ..config import Settings
from ..errors import LabappError

bp = Blueprint("views", __name__)


def _settings() -> Settings:
    return current_app.config.get("LABAPP_SETTINGS") or Settings.from_env()


def _status() -> dict:
    """Engine, images and sandboxes, as the home page shows them."""
    from ..engine import connect
    from ..sandbox import SwarmSandbox
    from ..sandbox.images import missing_images

    try:
        client = connect(timeout=10)
    except LabappError as exc:
        return {"engine": None, "error": str(exc), "missing": [], "sandboxes": []}
    try:
        return {"engine": client.version().get("Version"), "error": None,
                "missing": missing_images(client, _settings()),
                "sandboxes": SwarmSandbox.list(client)}
    finally:
        client.close()


@bp.get("/")
def index():
    return render_template("index.html", status=_status())


@bp.get("/api/status")
def api_status():
    return jsonify(_status())
