"""The Socket.IO namespaces: /lab for learners' pages and /trainer for the workshop
dashboard, thin handlers over the Lab (labapp/lab.py) and the workshops (labapp/workshop.py).

The events and their data are listed in docs/web.md and docs/workshops.md. Every handler
answers a bad message or a refused request with a `failure` event that says why; nothing
raises to the client.
"""
from __future__ import annotations

import threading

from flask import current_app, session
from flask_socketio import ConnectionRefusedError, Namespace, SocketIO, emit, join_room

from ..errors import LabappError
from ..i18n import translate
from ..lab import explain
from .guard import Refused, command_event, guard

socketio = SocketIO()
MAX_FIELD = 2000
ROSTER_DELAY = 0.3  # seconds a dashboard redraw waits to gather what else changes


def init_app(app) -> None:
    # Same origin only (Flask-SocketIO's default), WebSocket first.
    socketio.init_app(app, async_mode="threading", max_http_buffer_size=64 * 1024)
    socketio.on_namespace(LabNamespace("/lab"))
    socketio.on_namespace(TrainerNamespace("/trainer"))
    lab = app.extensions["labapp.lab"]
    shops = app.extensions["labapp.workshops"]

    def notify(learner, event):
        socketio.emit(event["type"], localize(event, lab.seat(learner).lang), to=learner, namespace="/lab")

    due: set[str] = set()
    due_lock = threading.Lock()

    def changed(wid):
        """Redraw the workshop's dashboards, at most every ROSTER_DELAY s: a room of learners
        running steps at once costs one roster per beat, not one per learner's action."""
        with due_lock:
            if wid in due:
                return
            due.add(wid)

        def send():
            with due_lock:
                due.discard(wid)
            with app.app_context():
                try:
                    socketio.emit("roster", shops.roster(wid), to=f"workshop:{wid}", namespace="/trainer")
                except Exception:  # a picture for the trainer; never fail the learner's request
                    app.logger.warning("roster update failed for %s", wid, exc_info=True)
        timer = threading.Timer(ROSTER_DELAY, send)
        timer.daemon = True
        timer.start()

    def activity(learner):
        workshop = shops.of_learner(learner)
        if workshop is not None:
            changed(workshop["id"])
    lab.notify = notify
    lab.on_activity = activity
    shops.on_change = changed


def localize(event: dict, lang: str) -> dict:
    """EVENT with the sentences a learner reads in LANG (labapp/i18n.py)."""
    if lang != "ko":
        return event
    event = dict(event)
    for key in ("message", "reason"):
        if isinstance(event.get(key), str):
            event[key] = translate(event[key], lang)
    if isinstance(event.get("checks"), list):
        event["checks"] = [{**c, "reason": translate(c.get("reason", ""), lang)} for c in event["checks"]]
    return event


def _lang(data) -> str:
    return data.get("lang") if isinstance(data, dict) and data.get("lang") in ("ko", "en") else "en"


def _field(data, name, kind=str):
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, kind) or (isinstance(value, str) and not (0 < len(value) <= MAX_FIELD
                                                                        and _unicode(value))):
        raise LabappError(f"the message needs '{name}' ({kind.__name__})")
    return value


def _unicode(text: str) -> bool:
    """Whether TEXT is valid Unicode (JSON may carry a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class LabNamespace(Namespace):
    def on_connect(self, auth=None):
        learner = session.get("learner")
        if not learner:
            return False  # open a page first: it gives the browser its learner id
        join_room(learner)

    def _context(self, data):
        from .views import get_lesson

        lab = current_app.extensions["labapp.lab"]
        slug = _field(data, "lesson")
        lang = data.get("lang") if data.get("lang") in ("ko", "en") else "en"
        versions = current_app.extensions["labapp.catalog"].lessons
        if slug not in versions:
            raise LabappError(f"there is no lesson '{slug}'")
        return lab, session["learner"], get_lesson(slug, lang)

    def _forward(self, learner):
        app = current_app._get_current_object()

        lab = current_app.extensions["labapp.lab"]

        def send(event):
            with app.app_context():
                socketio.emit(event["type"], localize(event, lab.seat(learner).lang), to=learner, namespace="/lab")
        return send

    def _forward_tty(self, lab, learner):
        """Like _forward; the end of a terminal session also redraws the map."""
        send = self._forward(learner)
        app = current_app._get_current_object()

        def forward(event):
            send(event)
            if event["type"] == "tty_exit":
                with app.app_context():
                    self._send_map(lab, learner)
        return forward

    def _send_map(self, lab, learner):
        """The learner's network map, after anything that may have changed it."""
        try:
            socketio.emit("map", lab.network_map(learner), to=learner, namespace="/lab")
        except Exception:  # the map is a picture; a failure to draw it must not fail the step
            current_app.logger.warning("network map failed for %s", learner, exc_info=True)

    def _guard(self, handler, data):
        try:
            handler(data if isinstance(data, dict) else {})
        except LabappError as exc:
            emit("failure", localize({"message": explain(exc)[1]}, _lang(data)))
        except Exception:  # a bug or the engine vanishing: say so, keep the page usable
            current_app.logger.exception("event failed")
            emit("failure", localize({"message": "that did not work (an internal error, logged on the server)"},
                                     _lang(data)))
            emit("done", {"step": None})

    def on_join(self, data):
        self._guard(lambda data: self._join(data), data)

    def _join(self, data, counted=False):
        """Join the lesson: make (or reuse) the learner's sandbox in the background. Making
        one counts against the address's sandbox limit unless the caller COUNTED it."""
        lab, learner, lesson = self._context(data)
        lab.seat(learner).lang = lesson.language
        lab.tty_close(learner)  # a terminal left by an earlier page of this learner
        send = self._forward(learner)
        app = current_app._get_current_object()
        emit("progress", {"lesson": lesson.slug, "steps": lab.store.progress(learner, lesson.slug)})
        workshop = current_app.extensions["labapp.workshops"].of_learner(learner)
        if workshop is not None:
            emit("workshop", {"title": workshop["title"], "ends": workshop["ends"]})
        state = lab.status(learner)
        if state["state"] == "starting":
            emit("sandbox", {"type": "sandbox", "stage": "starting"})
            return  # the start under way reports to this page too (same learner room)
        if not counted and not (state["state"] == "ready" and state["lesson"] == lesson.slug):
            guard().hit("sandboxes")

        def start():
            with app.app_context():
                try:
                    sandbox = lab.ensure_sandbox(learner, lesson, lambda stage: stage != "ready" and send(
                        {"type": "sandbox", "stage": stage}))
                    send({"type": "sandbox", "stage": "ready",
                          "nodes": [{"name": n.name, "role": n.role} for n in sandbox.nodes]})
                    self._send_map(lab, learner)
                except LabappError as exc:
                    send({"type": "failure", "message": f"the sandbox could not start: {exc}"})
                except Exception:  # never leave the page waiting on a sandbox that will not come
                    app.logger.exception("sandbox start failed for %s", learner)
                    send({"type": "failure", "message": "the sandbox could not start (an internal error, "
                          "logged on the server); press Reset sandbox to try again"})
        socketio.start_background_task(start)

    @command_event("commands")
    def on_run(self, data):
        def handle(data):
            lab, learner, lesson = self._context(data)
            step, block = _field(data, "step"), _field(data, "block", int)
            runs = lab.run_block(learner, lesson, step, block, self._forward(learner))
            self._send_map(lab, learner)
            emit("done", {"step": step, "block": block, "commands": len(runs)}, to=learner)
        self._guard(handle, data)

    @command_event("commands")
    def on_check(self, data):
        def handle(data):
            lab, learner, lesson = self._context(data)
            emit("verdict", localize(lab.check(learner, lesson, _field(data, "step")), lesson.language), to=learner)
            self._send_map(lab, learner)
        self._guard(handle, data)

    @command_event("commands")
    def on_console(self, data):
        def handle(data):
            lab, learner, lesson = self._context(data)
            terminal = (data.get("cols", 80), data.get("rows", 24))
            answer = lab.console(learner, lesson, _field(data, "node"), _field(data, "line"),
                                 self._forward_tty(lab, learner), terminal=terminal)
            if not answer["allowed"]:
                emit("refused", localize({"reason": answer["reason"], "line": data.get("line")}, lesson.language))
            elif not answer.get("interactive"):
                self._send_map(lab, learner)
                emit("done", {"step": None, "console": True}, to=learner)
        self._guard(handle, data)

    def on_tty_input(self, data):
        def handle(data):
            lab = current_app.extensions["labapp.lab"]
            lab.tty_input(session["learner"], data.get("data"), data.get("seq"))
        self._guard(handle, data)

    def on_tty_resize(self, data):
        def handle(data):
            lab = current_app.extensions["labapp.lab"]
            lab.tty_resize(session["learner"], data.get("cols"), data.get("rows"))
        self._guard(handle, data)

    def on_tty_close(self, data):
        def handle(data):
            current_app.extensions["labapp.lab"].tty_close(session["learner"])
        self._guard(handle, data)

    def on_reset(self, data):
        def handle(data):
            lab, learner, lesson = self._context(data)
            guard().hit("sandboxes")  # a reset always makes a fresh sandbox
            lab.release(learner)
            emit("sandbox", {"type": "sandbox", "stage": "reset"}, to=learner)
            self._join(data, counted=True)
        self._guard(handle, data)


class TrainerNamespace(Namespace):
    """The trainer's dashboard: the roster live, a learner's map and output read-only,
    reset, broadcast and end. Only a signed-in trainer may connect."""

    def on_connect(self, auth=None):
        from .workshops import trainer_state

        try:
            state = trainer_state()
        except Refused as exc:  # wrong tokens from this address: the dashboard says when to retry
            raise ConnectionRefusedError(str(exc)) from None
        if state != "ok":
            return False

    def _guard(self, handler, data):
        try:
            handler(data if isinstance(data, dict) else {})
        except LabappError as exc:
            emit("failure", {"message": explain(exc)[1]})
        except Exception:  # nothing crashes the dashboard
            current_app.logger.exception("trainer event failed")
            emit("failure", {"message": "that did not work (an internal error, logged on the server)"})

    def _shops(self):
        return current_app.extensions["labapp.workshops"]

    def on_watch(self, data):
        def handle(data):
            wid = _field(data, "workshop")
            roster = self._shops().roster(wid)
            join_room(f"workshop:{wid}")
            emit("roster", roster)
        self._guard(handle, data)

    def on_learner(self, data):
        def handle(data):
            wid, learner = _field(data, "workshop"), _field(data, "learner")
            person = self._shops().person(wid, learner)
            lab = current_app.extensions["labapp.lab"]
            seat = lab.seat(learner)
            try:
                picture = lab.network_map(learner)
            except LabappError as exc:
                picture = {"error": str(exc)}
            emit("learner", {"learner": learner, "name": person["name"], "map": picture,
                             "output": "".join(seat.output), "verdict": seat.last_verdict})
        self._guard(handle, data)

    def on_reset(self, data):
        def handle(data):
            step = data.get("step") or None
            answer = self._shops().reset(_field(data, "workshop"), _field(data, "learner"), step)
            emit("notice", {"message": f"resetting {answer['name']}'s sandbox"
                            + (f" to step {step}" if step else " at their step")})
        self._guard(handle, data)

    def on_broadcast(self, data):
        def handle(data):
            sent = self._shops().broadcast(_field(data, "workshop"), _field(data, "message"))
            emit("notice", {"message": f"sent to {sent} learners"})
        self._guard(handle, data)

    def on_end(self, data):
        def handle(data):
            ended = self._shops().end(_field(data, "workshop"))
            emit("notice", {"message": f"the workshop '{ended['title']}' has ended; its sandboxes are removed"})
        self._guard(handle, data)
