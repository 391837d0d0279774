"""What a trainer reads of a workshop: the dashboard's roster (where each learner is, how
long they have been there, whether they look stuck), the room's figures per step (room.py:
the chart above the roster) and the results export (CSV and JSON, room.csv)."""
from __future__ import annotations

import csv
import io
import time

from ..i18n import msg
from . import Workshops
from .room import room_csv, room_figures


class Reports:
    def __init__(self, workshops: Workshops, stuck_minutes: float = 10, stuck_failures: int = 3):
        self.workshops = workshops
        self.stuck_seconds = stuck_minutes * 60
        self.stuck_failures = stuck_failures

    def roster(self, wid: str) -> dict:
        workshop = self.workshops.get(wid)
        people = self.workshops.people(wid)
        learners = [p["learner"] for p in people]
        attempts = self.workshops.store.attempts(learners)
        progress_rows = self.workshops.store.all_progress(learners)
        tries: dict[str, list[dict]] = {}
        for attempt in attempts:
            tries.setdefault(attempt["learner"], []).append(attempt)
        progress: dict[tuple[str, str], dict[str, dict]] = {}
        for row in progress_rows:
            progress.setdefault((row["learner"], row["lesson"]), {})[row["step"]] = row

        def statuses(learner):
            return lambda slug: {step: r["status"] for step, r in progress.get((learner, slug), {}).items()}
        now = time.time()
        seats = {seat.learner: seat for seat in self.workshops.lifecycle.seats.all()}
        # several instances: a sandbox another instance holds is known by the store's seats
        elsewhere = {h["learner"] for h in self.workshops.store.holdings().values()} \
            if self.workshops.lifecycle.shared else set()
        rows = []
        for person in people:
            learner = person["learner"]
            slug = self.workshops.first_unfinished(workshop, statuses(learner))
            lesson = self.workshops.lesson(slug)
            done = progress.get((learner, slug), {})
            passed = [s for s in lesson.steps if (done.get(s.id) or {}).get("status") == "passed"]
            current = next((s for s in lesson.steps if (done.get(s.id) or {}).get("status") != "passed"), None)
            since = max([person["joined"]] + [r["updated"] for r in done.values() if r["status"] == "passed"])
            on_step = [a for a in tries.get(learner, []) if current and a["lesson"] == slug and a["step"] == current.id]
            streak = 0
            for attempt in reversed(on_step):
                if attempt["passed"]:
                    break
                streak += attempt["repeats"]
            stuck = None
            if current is not None and person["left"] is None and workshop["ended"] is None:
                unjudged = seats[learner].unjudged.get((slug, current.id), 0) if learner in seats else 0
                if streak >= self.stuck_failures:
                    stuck = msg("failed the check of this step {times} times in a row", times=streak)
                elif unjudged >= self.stuck_failures:
                    # checks the lab could not judge (the swarm still converging): a slow lab,
                    # or an answer kept converging on purpose; either way the trainer should look
                    stuck = msg("the check of this step could not be judged {times} times in a row (the swarm "
                                "was still converging)", times=unjudged)
                elif now - since > self.stuck_seconds:
                    stuck = msg("on this step for {minutes} min", minutes=int((now - since) // 60))
            status = self.workshops.lifecycle.status(learner)
            if status["state"] == "none" and learner in elsewhere:
                status["state"] = "ready"
            rows.append({
                "learner": learner, "name": person["name"], "joined": person["joined"],
                "left": person["left"], "lesson": slug,
                "step": current.id if current else None,
                "step_title": current.title if current else msg("finished"),
                "step_number": lesson.steps.index(current) + 1 if current else len(lesson.steps),
                "steps": len(lesson.steps), "passed": len(passed), "since": since,
                "checks": {"passed": sum(a["repeats"] for a in on_step if a["passed"]),
                           "failed": sum(a["repeats"] for a in on_step if not a["passed"])},
                "last_failed": (on_step[-1]["failed_checks"].splitlines() if on_step and not on_step[-1]["passed"] else []),
                "stuck": stuck, "sandbox": status["state"],
            })
        verdicts = {learner: seats[learner].last_verdict for learner in learners if learner in seats}
        room = room_figures(workshop, [self.workshops.lesson(slug) for slug in workshop["lessons"]], people, rows,
                            attempts, progress_rows, verdicts, now)
        return {"workshop": workshop, "learners": rows, "now": now, "room": room}

    def room(self, wid: str) -> dict:
        """The room's figures per step (room.py), as the dashboard's chart shows them."""
        return self.roster(wid)["room"]

    def room_csv(self, wid: str) -> str:
        """The room's figures, one row per step (room.ROOM_CSV_FIELDS)."""
        return room_csv(self.room(wid), _csv_safe)

    def results(self, wid: str) -> list[dict]:
        """One row per learner, lesson and step: the export (CSV and JSON)."""
        workshop = self.workshops.get(wid)
        people = self.workshops.people(wid)
        tries: dict[tuple, list[dict]] = {}
        for attempt in self.workshops.store.attempts([p["learner"] for p in people]):
            tries.setdefault((attempt["learner"], attempt["lesson"], attempt["step"]), []).append(attempt)
        rows = []
        for person in people:
            for slug in workshop["lessons"]:
                lesson = self.workshops.lesson(slug)
                done = self.workshops.store.progress(person["learner"], slug)
                for number, step in enumerate(lesson.steps, start=1):
                    attempts = tries.get((person["learner"], slug, step.id), [])
                    first_pass = next((a["at"] for a in attempts if a["passed"]), None)
                    rows.append({"name": person["name"], "lesson": slug, "step_number": number, "step": step.id,
                                 "status": done.get(step.id, "not tried"),
                                 "checks": sum(a["repeats"] for a in attempts),
                                 "passed_at": _iso(first_pass) if first_pass else ""})
        return rows

    def results_csv(self, wid: str) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, ["name", "lesson", "step_number", "step", "status", "checks", "passed_at"])
        writer.writeheader()
        for row in self.results(wid):
            writer.writerow({k: _csv_safe(v) for k, v in row.items()})
        return out.getvalue()


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _csv_safe(value):
    """Keep a spreadsheet from running a display name as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
