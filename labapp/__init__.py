"""labapp: hands-on Docker swarm networking labs on a real, disposable swarm."""
from __future__ import annotations

import re
import secrets

__version__ = "0.1.0"
ROUTE_COOKIE = "labapp_route"  # several instances: what the proxy's sticky hash reads (random, not a secret)
ROUTE_DAYS = 30
ROUTE_VALUE = re.compile(r"[0-9a-f]{16}")  # what the app sets; anything else is set again


def create_app(settings=None, *, services=None, backend=None, kernel=None, capacity=True, testing=False):
    """The Flask app: the services (labapp/services.py, built from SETTINGS, default: the
    environment's) behind the pages, the API and the Socket.IO namespaces. Tests give a fake
    BACKEND, the probe's answer as KERNEL and CAPACITY=None (no limit), or SERVICES whole."""
    from flask import Flask

    from . import web
    from .config import ROOT, Settings
    from .services import build_services
    from .web.trainer import trainer_token

    settings = settings or (services.settings if services is not None else Settings.from_env())
    services = services or build_services(settings, backend=backend, kernel=kernel, capacity=capacity)
    app = Flask(__name__, template_folder=f"{ROOT}/templates", static_folder=f"{ROOT}/static")
    app.config.update(
        TESTING=testing,
        SECRET_KEY=settings.secret_key or _instance_secret(settings.data_dir),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024,  # request bodies (the console line is at most 2000 characters)
    )
    _cookies(app, settings)
    web.init_app(app, services, trainer_token(settings))
    if settings.trusted_proxies > 0:
        # Outside Socket.IO's middleware, so that its handlers see the client's address too.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    return app


def _cookies(app, settings) -> None:
    """LABAPP_SECURE_COOKIES: 'on' marks the session cookie Secure, 'off' never, 'auto' when
    the request came over HTTPS (through ProxyFix only with LABAPP_TRUSTED_PROXIES); HSTS
    goes on HTTPS responses unless it is 'off'."""
    from flask import request
    from flask.sessions import SecureCookieSessionInterface

    from .config import ConfigError

    mode = settings.secure_cookies.strip().lower()
    if mode not in ("on", "off", "auto"):
        raise ConfigError(f"LABAPP_SECURE_COOKIES={settings.secure_cookies!r}: write on, off or auto")
    app.config["SESSION_COOKIE_SECURE"] = mode == "on"

    class Session(SecureCookieSessionInterface):
        def get_cookie_secure(self, app):
            return mode == "on" or (mode == "auto" and request.is_secure)
    app.session_interface = Session()

    @app.after_request
    def hsts(response):
        if mode != "off" and settings.hsts_seconds > 0 and request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", f"max-age={settings.hsts_seconds}")
        if settings.message_queue and not ROUTE_VALUE.fullmatch(request.cookies.get(ROUTE_COOKIE, "")):
            # Several instances: the proxy keeps a browser on one by this cookie (docs/scale.md).
            # The session cookie changes whenever the session does, so it cannot be the key.
            response.set_cookie(ROUTE_COOKIE, secrets.token_hex(8), max_age=ROUTE_DAYS * 86400, httponly=True,
                                samesite="Lax", secure=mode == "on" or (mode == "auto" and request.is_secure))
        return response


def _instance_secret(data_dir: str) -> str:
    """A random secret kept in the data directory, so sessions survive a restart."""
    from .datadir import kept

    return kept(data_dir, "secret_key", lambda: secrets.token_hex(32))
