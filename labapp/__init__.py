"""labapp: hands-on Docker swarm networking labs on a real, disposable swarm."""
from __future__ import annotations

import os
import secrets

__version__ = "0.1.0"

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(config: dict | None = None):
    """The Flask app: config, the lab (sandboxes, store), pages and the Socket.IO namespace."""
    from flask import Flask

    from .web import api, events, guard, views, workshops

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
        # the web layer's limits (labapp/web/guard.py, docs/web.md): per learner, per address
        LABAPP_COMMANDS_IN_FLIGHT=int(os.environ.get("LABAPP_COMMANDS_IN_FLIGHT") or 2),
        LABAPP_RATE_SANDBOXES=_env("LABAPP_RATE_SANDBOXES", "60/minute;300/hour"),
        LABAPP_RATE_COMMANDS=_env("LABAPP_RATE_COMMANDS", "1500/minute"),
        LABAPP_RATE_JOINS=_env("LABAPP_RATE_JOINS", "60/minute;300/hour"),
        LABAPP_RATE_SIGNINS=_env("LABAPP_RATE_SIGNINS", "20/minute;100/hour"),
        LABAPP_RATE_LIMIT_STORAGE=os.environ.get("LABAPP_RATE_LIMIT_STORAGE") or "memory://",
        LABAPP_THROTTLE_FREE=int(_env("LABAPP_THROTTLE_FREE", "5")),  # wrong trainer tokens before waiting
        LABAPP_THROTTLE_MAX_SECONDS=float(_env("LABAPP_THROTTLE_MAX_SECONDS", "300")),
        LABAPP_JOIN_THROTTLE_FREE=int(_env("LABAPP_JOIN_THROTTLE_FREE", "20")),  # wrong join codes
        LABAPP_JOIN_THROTTLE_MAX_SECONDS=float(_env("LABAPP_JOIN_THROTTLE_MAX_SECONDS", "60")),
        LABAPP_TRUSTED_PROXIES=int(os.environ.get("LABAPP_TRUSTED_PROXIES") or 0),
        LABAPP_SECURE_COOKIES=(os.environ.get("LABAPP_SECURE_COOKIES") or "auto").strip().lower(),
        LABAPP_HSTS_SECONDS=int(_env("LABAPP_HSTS_SECONDS", "31536000")),
        MAX_CONTENT_LENGTH=64 * 1024,  # request bodies (the console line is at most 2000 characters)
    )
    if config:
        app.config.update(config)
    app.secret_key = app.config.get("SECRET_KEY") or os.environ.get("LABAPP_SECRET_KEY") \
        or _instance_secret(data_dir)
    _cookies(app)
    views.init_app(app)
    api.init_app(app)
    workshops.init_app(app)
    events.init_app(app)
    guard.init_app(app)
    proxies = int(app.config["LABAPP_TRUSTED_PROXIES"])
    if proxies > 0:
        # Outside Socket.IO's middleware, so that its handlers see the client's address too.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    return app


def _env(name: str, default: str) -> str:
    """The environment's NAME where set (an empty value too: it can switch a limit off)."""
    value = os.environ.get(name)
    return default if value is None else value


def _cookies(app) -> None:
    """LABAPP_SECURE_COOKIES: 'on' marks the session cookie Secure, 'off' never, 'auto' when
    the request came over HTTPS (through ProxyFix only with LABAPP_TRUSTED_PROXIES); HSTS
    goes on HTTPS responses unless it is 'off'."""
    from flask import request
    from flask.sessions import SecureCookieSessionInterface

    from .config import ConfigError

    mode = app.config["LABAPP_SECURE_COOKIES"]
    if mode not in ("on", "off", "auto"):
        raise ConfigError(f"LABAPP_SECURE_COOKIES={mode!r}: write on, off or auto")
    app.config["SESSION_COOKIE_SECURE"] = mode == "on"

    class Session(SecureCookieSessionInterface):
        def get_cookie_secure(self, app):
            return mode == "on" or (mode == "auto" and request.is_secure)
    app.session_interface = Session()

    @app.after_request
    def hsts(response):
        seconds = int(app.config["LABAPP_HSTS_SECONDS"])
        if mode != "off" and seconds > 0 and request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", f"max-age={seconds}")
        return response


def _instance_secret(data_dir: str) -> str:
    """A random secret kept in the data directory, so sessions survive a restart."""
    from .datadir import kept

    return kept(data_dir, "secret_key", lambda: secrets.token_hex(32))
