"""The web layer: thin Flask blueprints and Socket.IO namespaces over the app's services
(labapp/services.py), registered by init_app from labapp.create_app.

- views.py: the pages a learner reads (catalogue, lesson), the learner's id and language;
- render.py: lesson Markdown and the Run widgets (Jinja macros in templates/_widgets.html);
- api.py: the JSON REST API and /metrics; openapi.py: its OpenAPI document;
- trainer.py: the trainer's sign-in, workshops (pages and API) and the learners' join;
- events.py: the Socket.IO namespaces /lab and /trainer;
- guard.py: the limits (in flight, per address, back-off); errors.py: HTTP statuses, JSON errors.

Everything a request needs is on one object, `app.extensions["labapp"]` (a Web): the services
and the web layer's own state (its guard, the trainer token, the status cache)."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app


@dataclass
class Web:
    services: object  # labapp.services.Services
    trainer_token: str
    guard: object = None  # labapp.web.guard.Guard, made once the routes exist
    status_cache: dict = field(default_factory=lambda: {"at": 0.0, "probe": None})


def web() -> Web:
    return current_app.extensions["labapp"]


def services():
    """The app's services (labapp.services.Services)."""
    return current_app.extensions["labapp"].services


def init_app(app, services, trainer_token: str) -> None:
    from . import api, errors, events, guard, trainer, views

    app.extensions["labapp"] = Web(services, trainer_token)
    _admission(services)
    errors.init_app(app)
    views.init_app(app)
    api.init_app(app)
    trainer.init_app(app)
    events.init_app(app, services)
    guard.init_app(app, services.settings)


def _admission(services) -> None:
    """The web layer's part of admission (labapp/lab/admission.py): the cap on the sandboxes
    one client address holds outside workshops (the web layer knows the addresses) and
    LABAPP_WORKSHOP_ONLY, under which no self-paced learner needs the standing pool."""
    settings = services.settings
    if settings.sandboxes_per_address < 0:
        from ..config import ConfigError

        raise ConfigError(f"LABAPP_SANDBOXES_PER_ADDRESS={settings.sandboxes_per_address}: write a whole number, "
                          "0 for no limit")
    services.admission.per_address = settings.sandboxes_per_address
    services.admission.workshop_only = settings.workshop_only
    if settings.workshop_only:
        services.pool.standing_size = 0
