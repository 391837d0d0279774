"""Workshops: a trainer runs a lab for a room of learners. Flask-free: the web app and the
API call it; the store keeps workshops and participants; the lab holds the sandboxes;
reports.py makes the dashboard's roster and the results export."""
from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from typing import Callable

from ..capacity import Capacity
from ..errors import LabappError
from ..cluster import text_field
from ..i18n import from_data, msg, said, to_data
from ..lab import LabError, LabEvents, LabMetrics, Lifecycle, NotFound, Seating
from ..lesson.model import Lesson
from ..pool import WarmPool
from ..store import Store
from .names import BadName, clash, display_name

log = logging.getLogger(__name__)

MOVED = msg("you opened this lesson again on another page, which has your sandbox now; this page's was removed "
            "(reload it to go on here)")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud in a room
POOL_LEAD = 15 * 60  # the pool fills for a workshop from this long before it starts
SETTLE_SECONDS = 900  # how long a removal (or the end) waits for a sandbox being made, to remove it too


class WorkshopError(LabError):
    """A workshop request with something to fix."""


class Gone(LabError):
    """The workshop has ended."""


class DoesNotFit(WorkshopError):
    """A workshop bigger than the room left on the host at its time."""


class Workshops:
    """A workshop's whole life: made, joined, reset, a learner removed, ended, and the clock
    (tick: the pool's reservations; seating: who admission counts as in a begun workshop).

    Over the ~250 lines of a class here because these share one lock and one rule: a
    learner's seat, sandbox and place in the room change together (removing a learner
    frees all three, a sandbox being made included). What only reads a workshop, the
    roster and the export, is Reports (reports.py); its queries are the store's."""

    def __init__(self, store: Store, lifecycle: Lifecycle, pool: WarmPool | None, events: LabEvents,
                 metrics: LabMetrics, lessons: Callable[[str], Lesson | None], capacity: Capacity | None):
        self.store = store
        self.lifecycle = lifecycle
        self.pool = pool
        self.events = events
        self.metrics = metrics
        self.lesson = lessons  # slug -> Lesson (English or first version) or None
        self.capacity = capacity
        self.on_change: Callable[[str], None] = lambda workshop_id: None  # the dashboard redraws
        self.cluster = None  # several instances (labapp/cluster.py): see join_cluster
        self._instances = 1  # how many were alive at the last tick
        self._lock = threading.Lock()
        lifecycle.admission.seating = self.seating  # workshop learners count against their workshop

    def join_cluster(self, cluster) -> None:
        """Several instances share the store (docs/scale.md): a trainer on one releases or
        resets a learner whose page or sandbox another serves. The command goes to every
        instance; those that have the learner act. A learner who took a sandbox on one
        instance has the one another held for them released there ("moved")."""
        self.cluster = cluster
        cluster.on("release", self._on_release)
        cluster.on("reset", self._on_reset)
        cluster.on("moved", self._on_moved)

        def moved(learner, sandbox_id):
            try:
                cluster.publish("moved", learner=learner, sandbox=sandbox_id)
            except Exception:  # noqa: BLE001 - Redis away: the other's sandbox goes when it idles out
                log.warning("could not tell the other instances that %s moved here", learner, exc_info=True)
        self.lifecycle.on_hold = moved

    def _on_release(self, command: dict) -> None:
        learner = text_field(command, "learner", limit=64)
        reason = command.get("reason")
        if not isinstance(reason, (dict, str, type(None))):
            raise ValueError("cluster command 'release': 'reason' is not a message")
        if self.lifecycle.seats.peek(learner) is not None:
            _background(self._release_here, learner, from_data(reason), name="labapp-release")

    def _on_reset(self, command: dict) -> None:
        wid, learner = text_field(command, "workshop", limit=32), text_field(command, "learner", limit=64)
        lesson = self.lesson(text_field(command, "lesson", limit=128))
        step = text_field(command, "step", optional=True, limit=128)
        nonce = text_field(command, "nonce", limit=64)
        # one instance acts, if several have the learner (a page on each)
        if lesson is not None and self.lifecycle.seats.here(learner) and self.cluster.claim(f"reset:{nonce}"):
            self._reset_here(wid, learner, lesson, step)

    def _on_moved(self, command: dict) -> None:
        learner, kept = text_field(command, "learner", limit=64), text_field(command, "sandbox", limit=32)
        seat = self.lifecycle.seats.peek(learner)
        if seat is not None and seat.sandbox is not None and seat.sandbox.id != kept:
            _background(self.lifecycle.release, learner, MOVED, name="labapp-release")

    # --- the trainer's side ------------------------------------------------------------

    def create(self, title, lessons, capacity, starts=None, minutes=90) -> dict:
        """A new workshop, or WorkshopError saying what to fix (a capacity that does not fit
        names the host's numbers)."""
        title = (title or "").strip() if isinstance(title, str) else ""
        if not 1 <= len(title) <= 200:
            raise WorkshopError(msg("a workshop needs a title of 1 to 200 characters"))
        if isinstance(lessons, str):
            lessons = [lessons]
        if not isinstance(lessons, list) or not lessons or not all(isinstance(s, str) for s in lessons):
            raise WorkshopError(msg("a workshop needs at least one lesson (a list of lesson slugs)"))
        unknown = [s for s in lessons if self.lesson(s) is None]
        if unknown:
            raise WorkshopError(msg("there is no lesson '{lesson}'", lesson=unknown[0]))
        if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= 500:
            raise WorkshopError(msg("capacity is the number of learners, a whole number from 1 to 500"))
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 10 <= minutes <= 24 * 60:
            raise WorkshopError(msg("duration is in whole minutes, from 10 to 1440"))
        now = time.time()
        starts = now if starts in (None, "") else starts
        if not isinstance(starts, (int, float)) or isinstance(starts, bool):
            raise WorkshopError(msg("the start time is seconds since the epoch (or leave it out for now)"))
        if starts + minutes * 60 <= now:
            raise WorkshopError(msg("that workshop would be over already; give a start time in the future"))
        with self._lock:
            self._admit(capacity, starts, starts + minutes * 60)
            wid = uuid.uuid4().hex[:12]
            self.store.add_workshop(id=wid, code=self._new_code(), title=title, lessons="\n".join(lessons),
                                    capacity=capacity, starts=float(starts), minutes=minutes, created=now,
                                    ended=None)
        self.tick()
        return self.get(wid)

    def _admit(self, capacity: int, starts: float, ends: float) -> None:
        if not self.capacity:
            return
        overlapping = [w for w in self.all() if w["ended"] is None
                       and w["starts"] < ends and starts < w["starts"] + w["minutes"] * 60]
        promised = sum(w["capacity"] for w in overlapping)
        pool = self.pool.standing_size if self.pool is not None else 0
        free = self.capacity.sandboxes - promised - pool
        if capacity > free:
            host = self.capacity.explain()
            if overlapping:
                host = msg("{host}; {promised} places are already promised to {workshops} at that time", host=host,
                           promised=promised, workshops=", ".join(f"'{w['title']}'" for w in overlapping))
            if pool:
                host = msg("{host}, and {pool} stay in the self-paced pool", host=host, pool=pool)
            raise DoesNotFit(msg("a workshop of {capacity} learners does not fit: {host}; at most {free} more fit "
                                 "(a bigger host, smaller LABAPP_NODE_MEMORY_PLAN or a later time)",
                                 capacity=capacity, host=host, free=max(0, free)))

    def _new_code(self) -> str:
        taken = {w["code"] for w in self.all()}
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
            if code not in taken:
                return code

    def all(self) -> list[dict]:
        return [_workshop(r) for r in self.store.workshops()]

    def get(self, wid: str) -> dict:
        row = self.store.workshop(wid=wid)
        if row is None:
            raise NotFound(msg("there is no workshop '{workshop}'", workshop=wid))
        return _workshop(row)

    def by_code(self, code: str) -> dict:
        code = (code or "").strip().upper() if isinstance(code, str) else ""
        row = self.store.workshop(code=code)
        if row is None:
            raise NotFound(msg("no workshop has the code '{code}'; check the code with your trainer", code=code))
        return _workshop(row)

    def end(self, wid: str) -> dict:
        """End a workshop: every learner's sandbox destroyed (they are told why), results kept."""
        workshop = self.get(wid)
        if workshop["ended"] is not None:
            raise Gone(msg("workshop '{title}' has already ended", title=workshop["title"]))
        self.store.end_workshop(wid, time.time())
        if self.pool is not None:
            self.pool.release(wid)
        for person in self.people(wid):
            self._release(person["learner"], msg("the workshop '{title}' has ended; your results are kept",
                                                 title=workshop["title"]))
            self.metrics.reaped.labels("ended").inc()
        self.on_change(wid)
        return self.get(wid)

    def broadcast(self, wid: str, message) -> int:
        workshop = self._open(wid)
        if not isinstance(message, str) or not 1 <= len(message.strip()) <= 500:
            raise WorkshopError(msg("a message is 1 to 500 characters of text"))
        people = [p for p in self.people(wid) if p["left"] is None]
        for person in people:
            self.events.notify(person["learner"], {"type": "broadcast", "message": message.strip(),
                                                   "workshop": workshop["title"]})
        return len(people)

    def remove(self, wid: str, learner: str) -> dict:
        """Take LEARNER off the workshop: their seat and their name are free again, their
        sandbox is destroyed (their page is told why), and that browser (the learner id)
        cannot join this workshop again. Their own progress is theirs and is kept; they leave
        the roster and the results."""
        workshop = self.get(wid)
        with self._lock:
            person = self.store.remove(wid, learner, time.time())
        if person is None:
            raise NotFound(msg("learner '{learner}' is not in this workshop", learner=learner))
        self._release(learner, msg("your trainer removed you from the workshop '{title}'", title=workshop["title"]))
        self.on_change(wid)
        return {"learner": learner, "name": person["name"], "removed": True}

    def _release(self, learner: str, reason) -> None:
        """Destroy LEARNER's sandbox, telling them REASON, here and on every other instance."""
        self._release_here(learner, reason)
        if self.cluster is not None:
            self.cluster.publish("release", learner=learner, reason=to_data(reason))

    def _release_here(self, learner: str, reason) -> None:
        """Destroy LEARNER's sandbox on this instance, telling them REASON; and one being made
        for them right now once it is made (else it would be theirs after all: a squatter who
        asked for a sandbox just before being removed would keep it)."""
        starting = self.lifecycle.seats.get(learner).starting  # looked at before: the start may end meanwhile
        self.lifecycle.release(learner, reason)
        if not (starting or self.lifecycle.seats.get(learner).starting):
            return

        def once_made():
            # The seat holds its sandbox before it stops starting (Lifecycle.ensure), so once
            # settled there is the sandbox to release, or none if the start failed.
            self.lifecycle.seats.wait_seat_settled(learner, timeout=SETTLE_SECONDS)
            self.lifecycle.release(learner, reason)
        threading.Thread(target=once_made, daemon=True, name="labapp-release").start()

    def reset(self, wid: str, learner: str, step: str | None = None) -> dict:
        """Give LEARNER a fresh sandbox at their step (or at STEP, replaying those before it),
        in the background; the learner's page and the dashboard see it happen (on_change
        when it is done)."""
        self._open(wid)
        person = self.person(wid, learner)
        if person["left"] is not None:
            raise LabError(msg("{name} left the workshop; there is nothing to reset", name=person["name"]))
        lesson = self.lesson(self.current_lesson(wid, learner))
        if step is not None:
            if not isinstance(step, str) or step not in {s.id for s in lesson.steps}:
                raise WorkshopError(msg("lesson '{lesson}' has no step '{step}'", lesson=lesson.slug, step=step))
        if self.cluster is not None and not self.lifecycle.seats.here(learner):
            # the learner's page or sandbox is on another instance (or on none: then nobody acts,
            # and the learner's next page gets a sandbox at their progress anyway)
            self.cluster.publish("reset", workshop=wid, learner=learner, lesson=lesson.slug, step=step,
                                 nonce=uuid.uuid4().hex)
        else:
            self._reset_here(wid, learner, lesson, step)
        return {"learner": learner, "name": person["name"], "lesson": lesson.slug, "step": step}

    def _reset_here(self, wid: str, learner: str, lesson: Lesson, step: str | None) -> None:
        def work():
            notify = self.events.notify
            try:
                notify(learner, {"type": "sandbox", "stage": msg("reset by your trainer")})
                sandbox = self.lifecycle.ensure(learner, lesson, lambda stage: notify(
                    learner, {"type": "sandbox", "stage": stage}), fresh=True, upto=step)
                notify(learner, {"type": "sandbox", "stage": "ready",
                                 "nodes": [{"name": n.name, "role": n.role} for n in sandbox.nodes]})
            except LabappError as exc:  # the lab's refusals, and a sandbox or engine that failed
                notify(learner, {"type": "failure", "message": msg("the reset did not work: {why}", why=said(exc))})
            finally:
                self.on_change(wid)
        _background(work, name="labapp-reset")

    # --- the learners' side --------------------------------------------------------------

    def join(self, code, name, learner: str) -> dict:
        """LEARNER joins the workshop with CODE as NAME; the same learner joining again is
        welcomed back (their progress is theirs)."""
        workshop = self.by_code(code)
        try:
            name = display_name(name)
        except BadName as exc:
            raise WorkshopError(exc.args[0]) from None
        if workshop["ended"] is not None:
            raise Gone(msg("the workshop '{title}' has ended", title=workshop["title"]))
        with self._lock:
            outcome = self.store.join(workshop["id"], learner, name, workshop["capacity"], clash=clash)
        if outcome == "removed":
            raise LabError(msg("your trainer removed you from the workshop '{title}'; this browser cannot join it "
                               "again", title=workshop["title"]))
        if outcome.startswith("name:"):
            raise LabError(msg("someone in this workshop is already called '{name}'; add an initial or a number to "
                               "yours", name=outcome[5:]))
        if outcome == "full":
            raise LabError(msg("the workshop '{title}' is full ({capacity} of {capacity} places taken); ask your "
                               "trainer", title=workshop["title"], capacity=workshop["capacity"]))
        self.on_change(workshop["id"])
        return {**workshop, "lesson": self.current_lesson(workshop["id"], learner), "name": name}

    def leave(self, wid: str, learner: str) -> None:
        person = self.person(wid, learner)
        self.store.leave(wid, learner, time.time())
        self.lifecycle.release(learner)
        self.on_change(wid)
        return person

    def of_learner(self, learner: str) -> dict | None:
        """The open workshop LEARNER is in, or None."""
        row = self.store.learners_workshop(learner)
        return _workshop(row) if row else None

    def people(self, wid: str) -> list[dict]:
        return self.store.participants(wid)

    def person(self, wid: str, learner: str) -> dict:
        found = next((p for p in self.people(wid) if p["learner"] == learner), None)
        if found is None:
            raise NotFound(msg("learner '{learner}' is not in this workshop", learner=learner))
        return found

    def current_lesson(self, wid: str, learner: str) -> str:
        """The first of the workshop's lessons the learner has not finished (else the last)."""
        return self.first_unfinished(self.get(wid), lambda slug: self.store.progress(learner, slug))

    def first_unfinished(self, workshop: dict, done: Callable[[str], dict[str, str]]) -> str:
        """current_lesson, with DONE(slug) giving {step: status} (read or already loaded)."""
        for slug in workshop["lessons"]:
            progress = done(slug)
            if any(progress.get(s.id) != "passed" for s in self.lesson(slug).steps):
                return slug
        return workshop["lessons"][-1]

    def seating(self) -> Seating:
        """For admission (labapp/lab/admission.py): who is in a workshop that has begun (from
        POOL_LEAD before its start until the trainer ends it), and which workshops keep their
        places now (from POOL_LEAD before their start until their scheduled end: the pool
        makes their sandboxes from then, and self-paced learners may not take them).

        A learner who joined a workshop that has not begun yet is self-paced until it does
        (EARLY: learner -> seconds until it begins): the host's capacity was admitted for
        the workshop's time, and a code given out ahead must not be a way around the cap on
        one address."""
        now = time.time()
        seating = Seating()
        for workshop in self.all():  # newest first: a learner in two counts in the newer one
            if workshop["ended"] is not None:
                continue
            begun = workshop["starts"] - POOL_LEAD <= now
            for person in self.people(workshop["id"]):
                if person["left"] is not None:
                    continue
                if begun:
                    seating.members.setdefault(person["learner"], workshop["id"])
                else:
                    wait = workshop["starts"] - POOL_LEAD - now
                    seating.early[person["learner"]] = min(wait, seating.early.get(person["learner"], wait))
            if begun and now < workshop["ends"]:
                seating.kept[workshop["id"]] = workshop["capacity"]
        return seating

    def _open(self, wid: str) -> dict:
        workshop = self.get(wid)
        if workshop["ended"] is not None:
            raise Gone(msg("the workshop '{title}' has ended", title=workshop["title"]))
        return workshop

    def tick(self) -> list[str]:
        """Keep the pool's reservations in step with the clock: a workshop's capacity is made
        ready from POOL_LEAD before its start, and released when it ends (then the workshop
        ends itself). Returns the ids of open workshops."""
        now = time.time()
        active = []
        # several instances: each keeps its share of a workshop's places ready
        if self.cluster is not None:
            try:
                self._instances = max(1, len(self.cluster.alive()))
            except Exception:  # noqa: BLE001 - Redis away: the count it last gave
                log.warning("could not count the instances alive", exc_info=True)
        instances = self._instances
        for workshop in self.all():
            if workshop["ended"] is not None:
                continue
            ends = workshop["starts"] + workshop["minutes"] * 60
            if now >= ends:
                try:
                    self.end(workshop["id"])
                except Gone:
                    pass  # another instance ended it at the same moment
                continue
            active.append(workshop["id"])
            if self.pool is not None and now >= workshop["starts"] - POOL_LEAD:
                lesson = self.lesson(workshop["lessons"][0])
                present = sum(1 for p in self.people(workshop["id"]) if p["left"] is None)
                self.pool.reserve(workshop["id"], lesson, -(-(workshop["capacity"] - present) // instances))
        if self.pool is not None:
            for key in self.pool.reservations():
                if key not in active:  # ended here or elsewhere (several instances)
                    self.pool.release(key)
        return active


def _workshop(row) -> dict:
    data = dict(row)
    data["lessons"] = data["lessons"].split("\n")
    data["ends"] = data["starts"] + data["minutes"] * 60
    return data


def _background(call, *args, name: str) -> None:
    def logged():
        try:
            call(*args)
        except Exception:  # noqa: BLE001 - a background release or reset: said in the log
            log.warning("%s failed", name, exc_info=True)
    threading.Thread(target=logged, daemon=True, name=name).start()
