"""The Socket.IO namespaces: /lab for learners' pages and /trainer for the workshop
dashboard, thin handlers over the services (labapp/services.py).

The events and their data are listed in docs/web.md and docs/workshops.md. A handler that
fails raises; one error handler per namespace (Flask-SocketIO's on_error) answers with a
`failure` event that says why, in the page's language; nothing raises to the client.
"""
from __future__ import annotations

import threading

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, Namespace, SocketIO, emit, join_room

from ..errors import LabappError
from ..i18n import annotate_refusals, localized, msg, said
from ..lesson.model import DEFAULT_LANGUAGE, LANGUAGES
from . import services
from .errors import explain
from .credentials import Refused
from .guard import charge_command, charge_sandbox, command_event, note_address

socketio = SocketIO()
MAX_FIELD = 2000
ROSTER_DELAY = 0.3  # seconds a dashboard redraw waits to gather what else changes
INTERNAL = msg("that did not work (an internal error, logged on the server)")


def init_app(app, lab) -> None:
    """Bind Socket.IO to APP and the lab's outside world (LAB.events, the dashboards)."""
    # Same origin only (Flask-SocketIO's default), WebSocket first.
    # Several instances (labapp/cluster.py): every emit passes through Redis, so that it reaches
    # the pages another instance serves.
    settings = lab.settings
    queue = {"message_queue": settings.message_queue, "channel": f"{settings.cluster_name}:socketio"} \
        if settings.message_queue else {}
    socketio.init_app(app, async_mode="threading", max_http_buffer_size=64 * 1024, **queue)
    socketio.on_namespace(LabNamespace("/lab"))
    socketio.on_namespace(TrainerNamespace("/trainer"))
    socketio.on_error("/lab")(_failure)
    socketio.on_error("/trainer")(_failure)

    def notify(learner, event):
        # to each of the learner's pages in its own language: the page may be on another instance,
        # which alone knows the learner's seat
        for lang in LANGUAGES:
            socketio.emit(event["type"], localize(event, lang), to=_learner_pages(learner, lang), namespace="/lab")

    lab.events.notify = notify
    lab.events.activity = _redraws(app, lab)


def _redraws(app, lab):
    """The dashboards' redraw: ACTIVITY(learner) redraws their workshop's dashboards, at most
    every ROSTER_DELAY s: a room running steps at once costs one roster per beat."""
    reports = lab.reports
    due: set[str] = set()
    due_lock = threading.Lock()

    def changed(wid):
        with due_lock:
            if wid in due:
                return
            due.add(wid)

        def send():
            with due_lock:
                due.discard(wid)
            with app.app_context():
                try:
                    roster = reports.roster(wid)
                    for lang in LANGUAGES:  # each dashboard in its page's language
                        socketio.emit("roster", localized(roster, lang), to=_dashboards(wid, lang),
                                      namespace="/trainer")
                except Exception:  # a picture for the trainer; never fail the learner's request
                    app.logger.warning("roster update failed for %s", wid, exc_info=True)
        timer = threading.Timer(ROSTER_DELAY, send)
        timer.daemon = True
        timer.start()

    def activity(learner):
        workshop = lab.workshops.of_learner(learner)
        if workshop is not None:
            changed(workshop["id"])
    lab.workshops.on_change = changed
    return activity


def _failure(exc):
    """The one error path of both namespaces: a `failure` event that says why."""
    if isinstance(exc, LabappError):
        message = explain(exc)[1]
    else:  # a bug or the engine vanishing: say so, keep the page usable
        current_app.logger.exception("event %s failed", (getattr(request, "event", None) or {}).get("message"))
        message = INTERNAL
    emit("failure", localize({"message": message}, page_language()))
    if not isinstance(exc, LabappError) and request.namespace == "/lab":
        emit("done", {"step": None})


def page_language() -> str:
    """The language of the page this socket belongs to: the one views.language() chose and
    kept in the session (Socket.IO reads it there; it has no other way to choose)."""
    lang = session.get("lang")
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def localize(event: dict, lang: str) -> dict:
    """EVENT as a page in LANG reads it: every Message in it (reasons, messages, stages)
    said in LANG (labapp/i18n), and a command's output that carries a node engine's refusal
    ([labapp:ID]) followed by that refusal in LANG."""
    event = localized(event, lang)
    if event.get("type") == "output" and isinstance(event.get("text"), str):
        event["text"] = annotate_refusals(event["text"], lang)
    return event


def _learner_pages(learner: str, lang: str) -> str:
    """The room of LEARNER's pages that read LANG (each page is also in the room LEARNER)."""
    return f"{learner}:{lang}"


def _dashboards(wid: str, lang: str) -> str:
    """The room of the trainer dashboards of workshop WID that read LANG."""
    return f"workshop:{wid}:{lang}"


def _field(data, name, kind=str):
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool) or (
            isinstance(value, str) and not (0 < len(value) <= MAX_FIELD and _unicode(value))):
        raise LabappError(msg("the message needs '{field}' ({kind})", field=name, kind=kind.__name__))
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
        join_room(_learner_pages(learner, page_language()))
        services().seats.arrive(learner)

    def on_disconnect(self, reason=None):
        learner = session.get("learner")
        if learner:
            services().seats.leave(learner)

    def _lesson(self, data):
        """(the learner, the lesson the message names, in the page's language)."""
        slug = _field(data, "lesson")
        lesson = services().catalog.version(slug, page_language())
        if lesson is None:
            raise LabappError(msg("there is no lesson '{lesson}'", lesson=slug))
        return session["learner"], lesson

    def _forward(self, learner, tty=False):
        """Events of a command, sent to every page of LEARNER; with TTY, the end of a
        terminal session also redraws the map."""
        app = current_app._get_current_object()
        lab = services()

        def send(event):
            with app.app_context():
                # to the learner's pages on this instance, where the command runs (the proxy keeps
                # a browser on one): the output of every command need not pass through Redis
                socketio.emit(event["type"], localize(event, lab.seats.get(learner).lang), to=learner,
                              namespace="/lab", ignore_queue=True)
                if tty and event["type"] == "tty_exit":
                    _send_map(learner)
        return send

    def on_join(self, data=None):
        self._join(data)

    def _join(self, data, counted=False, fresh=False):
        """Join the lesson: make (or reuse) the learner's sandbox in the background. Making
        one counts against the address's sandbox limit unless the caller COUNTED it; FRESH
        replaces the one the learner has (Reset)."""
        learner, lesson = self._lesson(data)
        lab = services()
        lab.seats.get(learner).lang = lesson.language
        lab.terminals.close(learner)  # a terminal left by an earlier page of this learner
        send = self._forward(learner)
        app = current_app._get_current_object()
        emit("progress", {"lesson": lesson.slug, "steps": lab.store.progress(learner, lesson.slug)})
        workshop = lab.workshops.of_learner(learner)
        if workshop is not None:
            emit("workshop", {"title": workshop["title"], "ends": workshop["ends"]})
        state = lab.lifecycle.status(learner)
        if state["state"] == "starting":
            emit("sandbox", {"type": "sandbox", "stage": "starting"})
            return  # the start under way reports to this page too (same learner room)
        note_address(learner)  # admission's per-address cap reads it
        if not counted and not (state["state"] == "ready" and state["lesson"] == lesson.slug):
            charge_sandbox(learner)

        def start():
            with app.app_context():
                try:
                    sandbox = lab.lifecycle.ensure(learner, lesson, lambda stage: stage != "ready" and send(
                        {"type": "sandbox", "stage": stage}), fresh=fresh)
                    send({"type": "sandbox", "stage": "ready",
                          "nodes": [{"name": n.name, "role": n.role} for n in sandbox.nodes]})
                    _send_map(learner)
                except LabappError as exc:
                    send({"type": "failure", "message": msg("the sandbox could not start: {why}", why=said(exc))})
                except Exception:  # never leave the page waiting on a sandbox that will not come
                    app.logger.exception("sandbox start failed for %s", learner)
                    send({"type": "failure", "message": msg("the sandbox could not start (an internal error, "
                                                            "logged on the server); press Reset sandbox to try again")})
        socketio.start_background_task(start)

    @command_event
    def on_run(self, data=None):
        learner, lesson = self._lesson(data)
        step, block = _field(data, "step"), _field(data, "block", int)
        charge_command(learner, lesson, step=step, block=block)
        runs = services().commands.run_block(learner, lesson, step, block, self._forward(learner))
        _send_map(learner)
        emit("done", {"step": step, "block": block, "commands": len(runs)}, to=learner)

    @command_event
    def on_check(self, data=None):
        learner, lesson = self._lesson(data)
        step = _field(data, "step")
        charge_command(learner, lesson, step=step)
        verdict = services().commands.check(
            learner, lesson, step, on_event=lambda event: emit(event["type"], localize(event, lesson.language),
                                                               to=learner))
        emit("verdict", localize(verdict, lesson.language), to=learner)
        _send_map(learner)

    @command_event
    def on_console(self, data=None):
        learner, lesson = self._lesson(data)
        terminal = (data.get("cols", 80), data.get("rows", 24))
        node, line = _field(data, "node"), _field(data, "line")
        charge_command(learner, lesson, node=node, line=line, terminal=True)
        answer = services().commands.console(learner, lesson, node, line, self._forward(learner, tty=True),
                                             terminal=terminal)
        if not answer["allowed"]:
            emit("refused", localize({"reason": answer["reason"], "line": data.get("line")}, lesson.language))
        elif not answer.get("interactive"):
            _send_map(learner)
            emit("done", {"step": None, "console": True}, to=learner)

    def on_tty_input(self, data=None):
        data = data if isinstance(data, dict) else {}
        services().terminals.input(session["learner"], data.get("data"), data.get("seq"))

    def on_tty_resize(self, data=None):
        data = data if isinstance(data, dict) else {}
        services().terminals.resize(session["learner"], data.get("cols"), data.get("rows"))

    def on_tty_close(self, data=None):
        services().terminals.close(session["learner"])

    def on_reset(self, data=None):
        learner, _ = self._lesson(data)
        if services().lifecycle.status(learner)["state"] == "starting":
            # one is being made (or waits its turn): a reset now would make nothing, so it
            # costs the address nothing (repeated, it drained the room's sandbox budget)
            emit("sandbox", {"type": "sandbox", "stage": "starting"})
            return
        note_address(learner)
        charge_sandbox(learner)  # a reset makes a fresh sandbox (if admission lets it: else nothing)
        emit("sandbox", {"type": "sandbox", "stage": "reset"}, to=learner)
        # The fresh one replaces the old (ensure with FRESH): admitted as a replacement, so
        # a full lab keeps the learner's sandbox rather than taking it and refusing a new one.
        self._join(data, counted=True, fresh=True)


def _send_map(learner):
    """The learner's network map, after anything that may have changed it."""
    try:
        socketio.emit("map", services().lifecycle.network_map(learner), to=learner, namespace="/lab")
    except Exception:  # the map is a picture; a failure to draw it must not fail the step
        current_app.logger.warning("network map failed for %s", learner, exc_info=True)


class TrainerNamespace(Namespace):
    """The trainer's dashboard: the roster live, a learner's map and output read-only,
    reset, remove, broadcast and end. Only a signed-in trainer may connect."""

    def on_connect(self, auth=None):
        from .trainer import trainer_state

        try:
            state = trainer_state()
        except Refused as exc:  # wrong tokens from this address: the dashboard says when to retry
            raise ConnectionRefusedError(localized(said(exc), page_language())) from None
        if state != "ok":
            return False

    def on_watch(self, data=None):
        wid = _field(data, "workshop")
        roster = services().reports.roster(wid)
        join_room(_dashboards(wid, page_language()))
        emit("roster", localized(roster, page_language()))

    def on_learner(self, data=None):
        wid, learner = _field(data, "workshop"), _field(data, "learner")
        lab = services()
        person = lab.workshops.person(wid, learner)
        seat = lab.seats.get(learner)
        try:
            picture = lab.lifecycle.network_map(learner)
        except LabappError as exc:
            picture = {"error": said(exc)}
        emit("learner", localized({"learner": learner, "name": person["name"], "map": picture,
                                   "output": "".join(seat.output), "verdict": seat.last_verdict}, page_language()))

    def on_reset(self, data=None):
        step = data.get("step") if isinstance(data, dict) else None
        answer = services().workshops.reset(_field(data, "workshop"), _field(data, "learner"), step or None)
        notice = msg("resetting {name}'s sandbox to step {step}", name=answer["name"], step=step) if step \
            else msg("resetting {name}'s sandbox at their step", name=answer["name"])
        emit("notice", localized({"message": notice}, page_language()))

    def on_remove(self, data=None):
        answer = services().workshops.remove(_field(data, "workshop"), _field(data, "learner"))
        emit("notice", localized({"message": msg("{name} was removed from the workshop: their place and name are "
                                                 "free, and their browser cannot join it again",
                                                 name=answer["name"])}, page_language()))

    def on_broadcast(self, data=None):
        sent = services().workshops.broadcast(_field(data, "workshop"), _field(data, "message"))
        emit("notice", localized({"message": msg("sent to {learners} learners", learners=sent)}, page_language()))

    def on_end(self, data=None):
        ended = services().workshops.end(_field(data, "workshop"))
        emit("notice", localized({"message": msg("the workshop '{title}' has ended; its sandboxes are removed",
                                                 title=ended["title"])}, page_language()))
