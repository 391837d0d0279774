"""Admission: whether a learner may have a (new) sandbox now: the host's capacity, shared
with the warm pool and with the places kept for workshops, a per-learner limit on
sandboxes made in an hour, and a cap on the sandboxes one client address holds at once.

Learners in a workshop that has begun count against their workshop's capacity (the trainer
chose it, and the workshop was admitted with it for its time), never against the
per-address cap: a room of 50 behind one NAT address is the normal case. Everyone else
(self-paced learners, and those who joined a workshop that has not begun) shares what the
workshops do not keep, at most PER_ADDRESS sandboxes per client address."""
from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from ..i18n import msg, nmsg
from .errors import KeptForWorkshops, LabFull, Overloaded, TooMany, WorkshopOnly
from .seats import Seats

HOUR = 3600.0


@dataclass
class Seating:
    """Who is in a workshop now and what the workshops keep (labapp/workshop gives it).

    MEMBERS: learner -> the id of the open workshop they joined, once it has begun; KEPT:
    workshop id -> its capacity, for the workshops whose places are kept from self-paced
    learners now; EARLY: learner -> seconds until the workshop they joined begins (until
    then they are self-paced)."""

    members: dict[str, str] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    early: dict[str, float] = field(default_factory=dict)


class Admission:
    def __init__(self, seats: Seats, max_sandboxes: int = 0, creates_per_hour: int = 20,
                 idle_seconds: float = 1800, pooled: Callable[[], int] = lambda: 0, per_address: int = 0,
                 workshop_only: bool = False, seating: Callable[[], Seating] = Seating, overload: float = 0,
                 load_per_core: Callable[[], float] = lambda: 0.0):
        """MAX_SANDBOXES: the host's capacity (0: no limit); POOLED(): sandboxes the warm pool
        holds or is making (they share the capacity); PER_ADDRESS: sandboxes a client address
        may hold at once outside workshops (0: no limit; a seat's address is the web layer's);
        WORKSHOP_ONLY: sandboxes for workshop learners only; SEATING(): the workshops' side
        (labapp/workshop sets it); OVERLOAD: the host's load per core (LOAD_PER_CORE()) at which
        learners outside a begun workshop get no new sandbox (0: never), before the load slows
        the checks of those working past their patience (a workshop's places were admitted
        with it, and its joins are paced by the creation queue)."""
        self.seats = seats
        self.max_sandboxes = max_sandboxes
        self.creates_per_hour = creates_per_hour
        self.idle_seconds = idle_seconds
        self.pooled = pooled
        self.per_address = per_address
        self.workshop_only = workshop_only
        self.seating = seating
        self.overload = overload
        self.load_per_core = load_per_core
        self._creates: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def room(self) -> int:
        """How many more sandboxes (learners' or pooled) the host may hold now."""
        if not self.max_sandboxes:
            return 1_000_000
        return self.max_sandboxes - self.seats.live() - self.pooled()

    def admit(self, learner: str, replacing: bool) -> None:
        """Refuse a new sandbox when the lab is for workshops only and the learner is in none
        (WorkshopOnly), when the learner asks too often or their address already holds as many
        as it may (TooMany), or when the host is full (LabFull, with the minutes until the
        longest-idle sandbox expires; KeptForWorkshops when what is left is kept for
        workshops). REPLACING (the learner's own sandbox is swapped for a fresh one) takes no
        new place. An admitted learner's seat is marked starting at once, under the lock, so
        that two learners admitted at the same moment both count."""
        seating, now = self.seating(), time.monotonic()
        with self._lock:
            recent = self._judge(learner, replacing, seating, now)
            self._creates[learner] = recent + [now]
            self.seats.get(learner).starting = True

    def check(self, learner: str, replacing: bool) -> None:
        """Raise now what admit would raise, recording nothing. The web layer asks it before
        counting a sandbox against the client's address: a request admission refuses makes
        nothing, so it must not use up the budget of the room behind that address."""
        seating, now = self.seating(), time.monotonic()
        with self._lock:
            self._judge(learner, replacing, seating, now)

    def _judge(self, learner: str, replacing: bool, seating: Seating, now: float) -> list[float]:
        """Admission's rules (under the lock): raise a refusal, or give the learner's recent
        creations."""
        own = seating.members.get(learner)  # the learner's workshop, if it has begun
        if own is None and self.workshop_only and learner in seating.early:
            raise WorkshopOnly(nmsg(
                "the workshop you joined has not begun yet: its learners get sandboxes in {n} minute, shortly "
                "before it starts",
                "the workshop you joined has not begun yet: its learners get sandboxes in {n} minutes, shortly "
                "before it starts", max(1, math.ceil(seating.early[learner] / 60))))
        if own is None and self.workshop_only:
            raise WorkshopOnly(msg("this lab gives sandboxes only to the learners of a workshop: join yours with "
                                   "the code your trainer gives you (at /join), then open the lesson again"))
        recent = [t for t in self._creates.get(learner, []) if now - t < HOUR]
        if self.creates_per_hour and len(recent) >= self.creates_per_hour:
            wait = int((HOUR - (now - recent[0])) // 60) + 1
            raise TooMany(msg("you made {made} sandboxes in the last hour, the most allowed; "
                              "try again in {minutes} minutes", made=len(recent), minutes=wait))
        seat = self.seats.get(learner)
        if not replacing:
            live = [s for s in self.seats.all() if (s.sandbox is not None or s.starting) and s.learner != learner]
            if own is None and self.per_address and seat.address:
                same = [s for s in live if s.address == seat.address and s.learner not in seating.members]
                if len(same) >= self.per_address:
                    raise TooMany(nmsg(
                        "your address already holds the most sandboxes one address may hold at once outside a "
                        "workshop ({held}): if you are in a workshop, join it first with your trainer's code; "
                        "otherwise try again in {n} minute, when an unused one is removed",
                        "your address already holds the most sandboxes one address may hold at once outside a "
                        "workshop ({held}): if you are in a workshop, join it first with your trainer's code; "
                        "otherwise try again in {n} minutes, when an unused one is removed",
                        self._minutes(same, now), held=len(same)))
            if own is None and self.overload:
                load = self.load_per_core()
                if load >= self.overload:
                    raise Overloaded(load)
            if self.max_sandboxes:
                held = Counter(seating.members[s.learner] for s in live if s.learner in seating.members)
                kept = sum(max(0, places - held[wid]) for wid, places in seating.kept.items() if wid != own)
                if len(live) + kept >= self.max_sandboxes:
                    minutes = self._minutes(live, now)
                    raise KeptForWorkshops(minutes) if kept and len(live) < self.max_sandboxes \
                        else LabFull(minutes)
        return recent

    def _minutes(self, seats, now: float) -> int:
        """Minutes until the longest-idle sandbox of SEATS is removed for being idle."""
        idle_for = max((now - s.active for s in seats if s.sandbox is not None), default=0)
        return max(1, int((self.idle_seconds - idle_for) // 60) + 1)
