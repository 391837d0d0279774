"""The web layer's limits (layer 1): a learner's commands in flight, rate limits per
learner and per client address, back-off after wrong credentials, and the client's address
itself.

- In flight: at most LABAPP_COMMANDS_IN_FLIGHT commands (console lines, runs, checks,
  terminal opens, a sandbox being made over REST) per learner at once; the next one is
  refused (429 on the API, a `failure` event on Socket.IO) while one is still running.
- Per learner (the cookie): every command and every workshop join counts against the
  learner's own budget, refused ones too.
- Per address: a learner is a cookie and a new cookie is free, so sandboxes made, commands
  that reach a node, wrong join codes and wrong trainer tokens are also counted per client
  address, which a new cookie does not change. A workshop room often shares one address
  (NAT), so nothing a member of the room can do for free uses up the room's budget: a
  refused console line or a command without a sandbox costs only its learner's budget, and
  the right trainer token or the right code of an open workshop is never refused by a
  per-address limit. The REST routes use Flask-Limiter; the Socket.IO handlers (and the
  routes that count only some requests) hit the same buckets through the `limits` library
  Flask-Limiter is built on, so that REST and Socket.IO count together.
- Back-off: wrong trainer tokens (sign-in form, Bearer on the API and on /trainer) and
  wrong join codes make the next wrong attempts from that address, and with that
  credential, wait longer and longer; the right credential is never held back.

Every limit lives in the storage Flask-Limiter was given (LABAPP_RATE_LIMIT_STORAGE,
in memory by default; a Redis URI shares the counts between instances).
"""
from __future__ import annotations

import functools
import ipaddress
import logging
import math
import threading
import time
from contextlib import contextmanager

from flask import current_app, request, session
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many

from ..config import ConfigError
from ..i18n import N_, msg, said
from ..lab import LabError
from . import services
from .credentials import Refused, Throttle, seconds_text as _seconds

# What each limit counts, in the sentence a refused client reads.
WHAT = {"sandboxes": N_("new sandboxes"), "commands": N_("commands"), "joins": N_("wrong join codes"),
        "signins": N_("wrong trainer tokens"), "learner_commands": N_("commands"),
        "learner_joins": N_("workshop joins")}
# The units of a rate limit (the `limits` library's granularities), for "N per M UNIT".
UNITS = {"second": N_("second"), "minute": N_("minute"), "hour": N_("hour"), "day": N_("day"),
         "month": N_("month"), "year": N_("year")}
RATE_SETTINGS = {"sandboxes": "LABAPP_RATE_SANDBOXES", "commands": "LABAPP_RATE_COMMANDS",
                 "joins": "LABAPP_RATE_JOINS", "signins": "LABAPP_RATE_SIGNINS",
                 "learner_commands": "LABAPP_RATE_COMMANDS_PER_LEARNER",
                 "learner_joins": "LABAPP_RATE_JOINS_PER_LEARNER"}
PER_LEARNER = {"learner_commands", "learner_joins"}  # counted per learner (cookie); the rest per address


def client_address() -> str:
    """The client's address, the key of every per-address limit: request.remote_addr, which
    ProxyFix sets from X-Forwarded-For only when LABAPP_TRUSTED_PROXIES says a proxy is in
    front. IPv6 clients are counted by their /64 (one host can hold a whole /64)."""
    address = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# --- commands in flight, per learner ------------------------------------------------------

class InFlight:
    """How many commands each learner has running; at most LIMIT at once."""

    def __init__(self, limit: int):
        self.limit = limit
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def running(self, learner: str) -> int:
        with self._lock:
            return self._running.get(learner, 0)

    @contextmanager
    def hold(self, learner: str):
        """Count one command of LEARNER while the block runs; Refused if LIMIT already run."""
        with self._lock:
            now = self._running.get(learner, 0)
            if self.limit and now >= self.limit:
                raise Refused(msg("a command is still running (at most {most} at once): wait for it to finish, "
                                  "then try again", most=self.limit), retry_after=2)
            self._running[learner] = now + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._running.get(learner, 1) - 1
                if left > 0:
                    self._running[learner] = left
                else:
                    self._running.pop(learner, None)


def rate_text(item) -> str:
    """A rate limit (a `limits` RateLimitItem) in words: '1500 per 1 minute'."""
    unit = item.GRANULARITY.name
    return msg("{amount} per {count} {unit}", amount=item.amount, count=item.multiples,
               unit=msg(UNITS[unit]) if unit in UNITS else unit)


# --- the app's guard ----------------------------------------------------------------------

log = logging.getLogger(__name__)


class Tolerant:
    """A limits storage whose failures are logged and read as 'nothing counted' (the
    throttles on the cluster's Redis, while it is away)."""

    def __init__(self, storage):
        self.storage = storage

    def __getattr__(self, name):
        call = getattr(self.storage, name)

        def tolerant(*args, **kwargs):
            try:
                return call(*args, **kwargs)
            except Exception:  # noqa: BLE001 - see the class
                log.warning("the throttles' storage did not answer (%s)", name, exc_info=True)
                return 0
        return tolerant


def rate_storage(settings) -> str:
    """Where the rates and throttles are counted: LABAPP_RATE_LIMIT_STORAGE; with several
    instances its default (memory://, one count per instance: a client would get each limit
    once per instance) becomes their Redis, so that they count together."""
    uri = settings.rate_limit_storage.strip()
    if settings.message_queue and uri == "memory://":
        return settings.message_queue
    return uri


class Guard:
    """The app's limits: in flight per learner, rates per learner and per address, the
    throttles."""

    def __init__(self, app, settings):
        self.rates = {}
        self.texts = {}
        for kind, setting in RATE_SETTINGS.items():
            text = getattr(settings, setting[len("LABAPP_"):].lower())
            try:
                self.rates[kind] = parse_many(text) if text.strip() else []
            except ValueError:
                raise ConfigError(f"{setting}={text!r} is not a rate limit; write it like '60/minute;300/hour' "
                                  "(or leave it empty for no limit)") from None
            self.texts[kind] = text
        self.prefix = f"labapp:{settings.cluster_name}" if settings.message_queue else "labapp"
        storage_uri = rate_storage(settings)
        shared = storage_uri != settings.rate_limit_storage.strip()
        # On the cluster's Redis, an outage of it lets requests through (logged) rather than
        # failing every one of them: the rates are a fairness measure, not a wall.
        self.limiter = Limiter(key_func=client_address, app=app, key_prefix=self.prefix,
                               storage_uri=storage_uri, strategy="sliding-window-counter",
                               headers_enabled=False, swallow_errors=shared)
        self.tolerant = shared
        self.in_flight = InFlight(settings.commands_in_flight)
        storage = Tolerant(self.limiter.storage) if shared else self.limiter.storage
        self.throttles = {
            "trainer": Throttle(storage, "trainer", settings.throttle_free, settings.throttle_max_seconds),
            "join": Throttle(storage, "join", settings.join_throttle_free, settings.join_throttle_max_seconds),
        }

    def _args(self, kind: str, learner: str | None = None) -> list[str]:
        """The identifiers of KIND's bucket for this client (the address; the learner's for a
        per-learner KIND), as Flask-Limiter builds them for a shared limit (key prefix, key,
        scope), so REST and Socket.IO count together."""
        return [self.prefix, _learner_key(learner) if kind in PER_LEARNER else client_address(), kind]

    def hit(self, kind: str, learner: str | None = None) -> None:
        """Count one KIND for this client's address (or for LEARNER, for a per-learner KIND);
        Refused past the limit."""
        args = self._args(kind, learner)
        for item in sorted(self.rates[kind]):
            try:
                allowed = self.limiter.limiter.hit(item, *args)
            except Exception:  # noqa: BLE001 - the shared storage is away (see __init__)
                if not self.tolerant:
                    raise
                log.warning("the rates' storage did not answer: %s let through", kind, exc_info=True)
                return
            if not allowed:
                reset, _ = self.limiter.limiter.get_window_stats(item, *args)
                retry = max(1, math.ceil(reset - time.time()))
                raise Refused(msg("{refusal}; try again in {wait}", refusal=_too_many(kind, item),
                                  wait=_seconds(retry)), retry)

    def bind_routes(self, app) -> None:
        """Put Flask-Limiter's shared limit on every view marked with @rate_limited."""
        for endpoint, view in list(app.view_functions.items()):
            kind = getattr(view, "labapp_rate", None)
            if kind is None or not self.texts[kind].strip():
                continue
            exempt = getattr(view, "labapp_exempt", None)
            key = (lambda: _learner_key(None)) if kind in PER_LEARNER else client_address
            app.view_functions[endpoint] = self.limiter.shared_limit(
                self.texts[kind], scope=kind, key_func=key, exempt_when=exempt)(view)


def _learner_key(learner: str | None) -> str:
    """The key of a per-learner bucket: LEARNER, or this request's learner (the cookie's)."""
    if learner is None:
        from .views import learner_id

        learner = learner_id()
    return f"learner:{learner}"


def _too_many(kind: str, item) -> str:
    if kind in PER_LEARNER:
        return msg("too many {what} from you (at most {limit})", what=msg(WHAT[kind]), limit=rate_text(item))
    return msg("too many {what} from your address (at most {limit}; everyone behind the same address counts "
               "together)", what=msg(WHAT[kind]), limit=rate_text(item))


def guard() -> Guard:
    return current_app.extensions["labapp"].guard


def init_app(app, settings) -> None:
    """Build the app's Guard and bind the route limits; call after the blueprints."""
    app.extensions["labapp"].guard = the_guard = Guard(app, settings)
    the_guard.bind_routes(app)
    app.register_error_handler(RateLimitExceeded, _rate_limited_answer)
    app.register_error_handler(Refused, _refused_page)


def _refused_page(exc: Refused):
    """A refusal outside the API (whose own handler answers in JSON): a page, 429, Retry-After."""
    from flask import render_template

    from .views import language

    response = current_app.make_response(render_template("error.html", message=said(exc), lang=language()))
    response.status_code = 429
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _rate_limited_answer(exc: RateLimitExceeded):
    """Flask-Limiter's refusal, in words, with Retry-After: JSON on the API, a page elsewhere."""
    from flask import jsonify, render_template

    from .views import language

    current = guard().limiter.current_limit
    retry = max(1, math.ceil(current.reset_at - time.time())) if current is not None else 60
    kind = exc.limit.scope if exc.limit.scope in RATE_SETTINGS else None
    message = msg("{refusal}; try again in {wait}", wait=_seconds(retry),
                  refusal=_too_many(kind, exc.limit.limit) if kind else msg("too many requests from your address"))
    if request.path.startswith("/api/"):
        response = jsonify({"error": message})
    else:
        response = current_app.make_response(
            render_template("error.html", message=message, lang=language()))
    response.status_code = 429
    response.headers["Retry-After"] = str(retry)
    return response


# --- decorators ---------------------------------------------------------------------------

def rate_limited(kind: str, exempt_when=None):
    """Mark a view for KIND's limit, per address or per learner (bound to the app's limiter
    at start); EXEMPT_WHEN (no arguments, in the request) skips the count, e.g. nothing will
    be made."""
    if kind not in RATE_SETTINGS:
        raise ValueError(kind)

    def mark(view):
        view.labapp_rate = kind
        view.labapp_exempt = exempt_when
        return view
    return mark


def in_flight(view):
    """A REST view that runs a command: counted in the learner's commands in flight."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        from .views import learner_id

        with guard().in_flight.hold(learner_id()):
            return view(*args, **kwargs)
    return wrapper


def command_event(handler):
    """A Socket.IO handler that runs a command: counted against the learner's own budget
    (LABAPP_RATE_COMMANDS_PER_LEARNER, through the `limits` library) and held in the
    learner's commands in flight. The handler charges the address itself (charge_command),
    once it knows whether the command reaches a node. A refusal raises Refused, which the
    namespace's error handler turns into a `failure` event."""
    @functools.wraps(handler)
    def wrapper(self, data=None, *rest):
        the_guard = guard()
        learner = session.get("learner") or "-"
        the_guard.hit("learner_commands", learner)
        with the_guard.in_flight.hold(learner):
            return handler(self, data, *rest)
    return wrapper


def note_address(learner: str) -> None:
    """Remember the client address LEARNER asks for a sandbox from: admission caps the
    sandboxes one address holds at once outside workshops (LABAPP_SANDBOXES_PER_ADDRESS).
    A seat that holds a sandbox (or is making one) keeps the address it was admitted from:
    else asking again from a second address, which makes nothing, would move the sandbox
    there unchecked and free a place at the first, again and again."""
    seat = services().seats.get(learner)
    with seat.lock:
        if seat.sandbox is None and not seat.starting:
            seat.address = client_address()


def charge_sandbox(learner: str) -> None:
    """Count a new sandbox of LEARNER against the client address (LABAPP_RATE_SANDBOXES);
    Refused past the limit. One that admission refuses now (the address holds as many as it
    may, the lab is full or for workshops only, the learner made too many) makes nothing and
    costs the address nothing: a member of a room with fresh cookies cannot use up the
    room's budget with requests that are refused anyway. The learner's seat must have its
    address already (admission's cap per address reads it)."""
    lab = services()
    try:
        lab.admission.check(learner, replacing=lab.seats.get(learner).sandbox is not None)
    except LabError:
        return  # admission says so again when the sandbox is asked for
    guard().hit("sandboxes")


def charge_command(learner: str, lesson, *, step: str | None = None, block: int | None = None,
                   node: str | None = None, line: str | None = None, terminal: bool = False) -> None:
    """Count a command against the client address's budget (LABAPP_RATE_COMMANDS) if it will
    reach a node; Refused past the limit. One that will not (a line the console refuses, no
    sandbox for this lesson, no such step, block or node) costs only the learner's own
    budget, which the caller has counted: a member of a room cannot use up the room's
    budget with commands that cost the host nothing."""
    if reaches_node(learner, lesson, step=step, block=block, node=node, line=line, terminal=terminal):
        guard().hit("commands")


def reaches_node(learner: str, lesson, *, step: str | None = None, block: int | None = None,
                 node: str | None = None, line: str | None = None, terminal: bool = False) -> bool:
    """Whether a command of LEARNER in LESSON (a step's block, a step's check, or a console
    LINE on NODE, with a TERMINAL to show an interactive one in) will run on a node: the
    learner's sandbox for this lesson is there and the console policy allows the line. The
    lab decides again when it runs it; this only says whom the command costs."""
    from ..console import judge

    seat = services().seats.get(learner)
    sandbox = seat.sandbox
    if sandbox is None or seat.lesson != lesson.slug:
        return False
    if step is not None:
        try:
            found = lesson.step(step)
        except KeyError:
            return False
        if block is not None and not 0 <= block < len(found.blocks):
            return False
    if line is not None:
        if node not in {n.name for n in sandbox.nodes}:
            return False
        verdict = judge(line)
        if not verdict.allowed or (verdict.interactive and not terminal):
            return False
    return True
