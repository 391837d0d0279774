"""labapp: hands-on Docker swarm networking labs on a real, disposable swarm."""
from __future__ import annotations

import os

__version__ = "0.1.0"

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(config: dict | None = None):
    """The Flask app: config, then the blueprints."""
    from flask import Flask

    from .web.views import bp

    app = Flask(__name__, template_folder=os.path.join(_ROOT, "templates"),
                static_folder=os.path.join(_ROOT, "static"))
    app.config.from_mapping(LABAPP_SETTINGS=None)
    if config:
        app.config.update(config)
    app.register_blueprint(bp)
    return app
