"""labapp: hands-on Docker swarm networking labs on a real, disposable swarm."""
from __future__ import annotations

import os
import secrets

__version__ = "0.1.0"

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(config: dict | None = None):
    """The Flask app: config, the lab (sandboxes, store), pages and the Socket.IO namespace."""
    from flask import Flask

    from .web import api, events, views, workshops

    app = Flask(__name__, template_folder=os.path.join(_ROOT, "templates"),
                static_folder=os.path.join(_ROOT, "static"))
    data_dir = os.environ.get("LABAPP_DATA_DIR") or os.path.join(_ROOT, ".labapp")
    app.config.from_mapping(
        LABAPP_SETTINGS=None,
        LABAPP_DATA_DIR=data_dir,
        # a SQLAlchemy URL or a file path (SQLite); see labapp/store.py
        LABAPP_DB=os.environ.get("LABAPP_DATABASE_URL") or os.path.join(data_dir, "labapp.db"),
        LABAPP_SANDBOX_FACTORY=None,  # tests give a fake; the app makes real swarms
        LABAPP_KERNEL=None,  # tests give the probe's answer; the app asks the probe
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # limits, from the environment where set (see docs/web.md)
        LABAPP_IDLE_MINUTES=float(os.environ.get("LABAPP_IDLE_MINUTES") or 30),
        LABAPP_MAX_SANDBOXES=int(os.environ.get("LABAPP_MAX_SANDBOXES") or 0),
        LABAPP_CREATES_PER_HOUR=int(os.environ.get("LABAPP_CREATES_PER_HOUR") or 20),
        LABAPP_MAX_MINUTES=float(os.environ.get("LABAPP_MAX_MINUTES") or 180),  # a sandbox's longest life
        LABAPP_WARN_MINUTES=float(os.environ.get("LABAPP_WARN_MINUTES") or 5),  # warn this long before
        LABAPP_POOL_SIZE=int(os.environ.get("LABAPP_POOL_SIZE") or 1),  # standing warm pool, per shape
        LABAPP_TRAINER_TOKEN=os.environ.get("LABAPP_TRAINER_TOKEN") or None,
        LABAPP_STUCK_MINUTES=float(os.environ.get("LABAPP_STUCK_MINUTES") or 10),  # dashboard's stuck mark
        LABAPP_STUCK_FAILURES=int(os.environ.get("LABAPP_STUCK_FAILURES") or 3),
    )
    if config:
        app.config.update(config)
    app.secret_key = app.config.get("SECRET_KEY") or os.environ.get("LABAPP_SECRET_KEY") \
        or _instance_secret(data_dir)
    views.init_app(app)
    api.init_app(app)
    workshops.init_app(app)
    events.init_app(app)
    return app


def _instance_secret(data_dir: str) -> str:
    """A random secret kept in the data directory, so sessions survive a restart."""
    from .datadir import kept

    return kept(data_dir, "secret_key", lambda: secrets.token_hex(32))
