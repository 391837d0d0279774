"""Seats: each learner's place in the lab (their sandbox, what they ran, when they were
last active), in one registry every part of the lab shares."""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field

from ..runner import CommandRun, OnEvent
from ..sandbox.base import Sandbox

OUTPUT_KEPT = 256 * 1024  # characters of output kept per learner for the trainer's read-only view
RUN_KEPT = 32 * 1024  # characters of a run's stdout (and of its stderr) kept from each end for Check


@dataclass
class Seat:
    """One learner's place in the lab."""

    learner: str
    sandbox: Sandbox | None = None
    lesson: str | None = None  # the slug the sandbox is for
    starting: bool = False
    unwanted: bool = False  # released while starting: a sandbox still waiting its turn is not made
    runs: dict[str, dict[int, list[CommandRun]]] = field(default_factory=dict)  # step -> block -> its last run
    prepared: set[str] = field(default_factory=set)  # steps whose setup has run on this sandbox
    born: float = field(default_factory=time.monotonic)  # when its sandbox became ready
    active: float = field(default_factory=time.monotonic)
    warned: str | None = None  # the expiry the learner was last warned of
    last_verdict: dict | None = None
    # (lesson, step) -> checks in a row that could not be judged (uncertain: never recorded as
    # attempts, so the roster's stuck mark counts them here)
    unjudged: dict[tuple[str, str], int] = field(default_factory=dict)
    reserved_from: str | None = None  # the workshop whose pool reservation gave this learner a sandbox
    lang: str = "en"  # the language of the learner's page, for what the lab tells it
    address: str = ""  # the client address the learner last asked for a sandbox from (the web layer's)
    output: list[str] = field(default_factory=list)  # the end of what ran, for the trainer
    output_size: int = 0  # characters in output
    lock: threading.Lock = field(default_factory=threading.Lock)

    def touch(self) -> None:
        self.active = time.monotonic()

    def keep_runs(self, step: str, block: int, runs: list[CommandRun]) -> None:
        """Keep the last run of each block of STEP for its Check, within RUN_KEPT a stream:
        a learner may Run a block again and again, and what a program prints is theirs."""
        self.runs.setdefault(step, {})[block] = [_trimmed(run) for run in runs]

    def runs_of(self, step: str) -> list[CommandRun]:
        """What the learner last ran of each block of STEP, in the blocks' order."""
        return [run for _, runs in sorted(self.runs.get(step, {}).items()) for run in runs]

    def keep_output(self, text: str) -> None:
        """Add TEXT to the end of the output the trainer may look at (OUTPUT_KEPT at most)."""
        self.output.append(text)
        self.output_size += len(text)
        while self.output_size > OUTPUT_KEPT:
            cut = min(len(self.output[0]), self.output_size - OUTPUT_KEPT)
            self.output_size -= cut
            if cut == len(self.output[0]):
                del self.output[0]
            else:
                self.output[0] = self.output[0][cut:]


def _trimmed(run: CommandRun) -> CommandRun:
    def ends(text: str) -> str:
        if len(text) <= 2 * RUN_KEPT:
            return text
        return text[:RUN_KEPT] + "\n...\n" + text[-RUN_KEPT:]
    result = dataclasses.replace(run.result, stdout=ends(run.result.stdout), stderr=ends(run.result.stderr))
    return dataclasses.replace(run, result=result)


class Seats:
    """Every learner's seat, made on first use. `settled` is notified when a start ends."""

    def __init__(self):
        self._seats: dict[str, Seat] = {}
        self._present: dict[str, int] = {}  # learner -> their pages connected to this instance
        self.lock = threading.Lock()
        self.settled = threading.Condition(self.lock)

    def get(self, learner: str) -> Seat:
        with self.lock:
            return self._seats.setdefault(learner, Seat(learner))

    def peek(self, learner: str) -> Seat | None:
        """LEARNER's seat if this instance has one (none is made)."""
        with self.lock:
            return self._seats.get(learner)

    def arrive(self, learner: str) -> None:
        """A page of LEARNER connected to this instance (no seat is made for it)."""
        with self.lock:
            self._present[learner] = self._present.get(learner, 0) + 1

    def leave(self, learner: str) -> None:
        with self.lock:
            left = self._present.get(learner, 0) - 1
            if left > 0:
                self._present[learner] = left
            else:
                self._present.pop(learner, None)

    def here(self, learner: str) -> bool:
        """Whether LEARNER is this instance's: a sandbox held or starting here, or a page of
        theirs connected here (several instances: docs/scale.md)."""
        with self.lock:
            seat, present = self._seats.get(learner), self._present.get(learner, 0)
        return present > 0 or (seat is not None and (seat.sandbox is not None or seat.starting))

    def all(self) -> list[Seat]:
        with self.lock:
            return list(self._seats.values())

    def live(self) -> int:
        """Sandboxes held by learners or starting for them."""
        with self.lock:
            return sum(1 for s in self._seats.values() if s.sandbox is not None or s.starting)

    def starting(self) -> bool:
        with self.lock:
            return any(s.starting for s in self._seats.values())

    def wait_settled(self, timeout: float) -> bool:
        """Wait (up to TIMEOUT s) until no sandbox is starting; False if one still is."""
        with self.settled:
            return self.settled.wait_for(lambda: not any(s.starting for s in self._seats.values()),
                                         timeout=timeout)

    def wait_seat_settled(self, learner: str, timeout: float) -> bool:
        """Wait (up to TIMEOUT s) until LEARNER's sandbox is no longer starting; False if it
        still is."""
        seat = self.get(learner)
        with self.settled:
            return self.settled.wait_for(lambda: not seat.starting, timeout=timeout)

    def longest_idle(self, now: float) -> float:
        with self.lock:
            return max((now - s.active for s in self._seats.values() if s.sandbox is not None), default=0)


def keeping_output(seat: Seat, on_event: OnEvent) -> OnEvent:
    """ON_EVENT, also keeping the end of the output in SEAT (the trainer may look at it)."""
    def tee(event: dict) -> None:
        if event["type"] == "command":
            seat.keep_output(f"\n[{event['node']}] $ {event['command']}\n")
        elif event["type"] == "output":
            seat.keep_output(event["text"])
        elif event["type"] == "exit":
            seat.keep_output(f"(exit {event['exit_code']})\n")
        on_event(event)
    return tee
