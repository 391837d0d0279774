"""Where the room is: the workshop's figures per step, for the dashboard's chart and the
export (Reports.room, results.json's "room", room.csv).

For each step of the workshop's lessons, in order:

- how many learners in the room (present: joined and not left) have passed it, are on it
  working, are on it stuck (the roster's stuck mark), and have not reached it;
- the reasons checks failed most on it: each failed check with the reason its learners were
  told (the store keeps both), and the number of distinct learners whose attempts on the
  step failed it so ("7 learners: alpine1 is attached to test-net only"); for attempts
  recorded before reasons were kept, the reason of a learner's last verdict, if any;
- the time spent on it: from the learner's start (joining, or the workshop's start if they
  joined before it) or their last pass of an earlier step, to their first pass of this one;
  learners on the step now count with their time so far (marked as such). The median of
  those times, and the slowest (whose, and whether they are still on it).

Pure: figures from rows already read (Reports gathers them), so the unit tests feed it
plain dicts."""
from __future__ import annotations

import csv
import io
import statistics
from typing import Iterable

TOP_REASONS = 3  # failing checks shown per step

ROOM_CSV_FIELDS = ["lesson", "step_number", "step", "title", "learners", "passed", "working", "stuck",
                   "not_reached", "median_seconds", "slowest_seconds", "slowest_name", "slowest_still_on_step",
                   "timed_passed", "timed_still_on_step"]
for _n in range(1, TOP_REASONS + 1):
    ROOM_CSV_FIELDS += [f"failing_check_{_n}", f"failing_check_{_n}_reason", f"failing_check_{_n}_learners"]


def room_figures(workshop: dict, lessons: list, people: list[dict], rows: list[dict], attempts: Iterable[dict],
                 progress: Iterable[dict], verdicts: dict[str, dict], now: float, top: int = TOP_REASONS) -> dict:
    """The room's figures.

    WORKSHOP: the workshop (its starts, ended); LESSONS: its Lesson objects, in order;
    PEOPLE: its participants (learner, name, joined, left); ROWS: the roster's rows (the
    learner's lesson and step now, and the stuck mark); ATTEMPTS: the participants' check
    attempts, oldest first (learner, lesson, step, passed, failed_checks, at, and repeats: the
    times it was made the same); PROGRESS: their
    progress rows (learner, lesson, step, status); VERDICTS: learner -> their last verdict
    ({step, passed, checks: [{name, passed, reason}]}), for example reasons; NOW: the clock."""
    until = workshop["ended"] if workshop.get("ended") is not None else now
    present = [p for p in people if p["left"] is None]
    here = {p["learner"] for p in present}
    names = {p["learner"]: p["name"] for p in people}
    status = {(r["learner"], r["lesson"], r["step"]): r["status"] for r in progress}
    on = {r["learner"]: (r["lesson"], r["step"], bool(r["stuck"])) for r in rows if r["step"] is not None}
    joined = {p["learner"]: p["joined"] for p in people}
    first_pass: dict[tuple, float] = {}
    # (lesson, step) -> (check, the reason the learner was told, in English) -> learners, and
    # failed attempts; the reason itself (a Message, said in the trainer's language)
    failed: dict[tuple, dict[tuple, set]] = {}
    tries: dict[tuple, dict[tuple, int]] = {}
    told: dict[tuple, dict[str, list]] = {}
    for a in attempts:
        if a["learner"] not in names:
            continue
        key = (a["lesson"], a["step"])
        if a["passed"]:
            first_pass.setdefault((a["learner"],) + key, a["at"])
        elif a.get("last_at", a["at"]) >= joined[a["learner"]]:  # what tripped them in this workshop (a
            # repeated attempt counts when it was made again after they joined)
            for check in filter(None, (a["failed_checks"] or "").splitlines()):
                reason = (a.get("reasons") or {}).get(check)
                # one row per check and kind of reason (its message id): "cannot reach my-nginx:80
                # (nc: timed out)" and "(... refused)" are one mistake; the example shown is the
                # reason most of its attempts were told
                why = (check, getattr(reason, "msgid", str(reason)) if reason is not None else "")
                times = a.get("repeats", 1)  # the same attempt made again and again: one entry
                told.setdefault(why, {}).setdefault(str(reason), [reason, 0])[1] += times
                failed.setdefault(key, {}).setdefault(why, set()).add(a["learner"])
                tries.setdefault(key, {}).setdefault(why, 0)
                tries[key][why] += times
    said = _reasons(verdicts, on)  # for attempts recorded without their reasons
    sequence = [(lesson, number, step) for lesson in lessons for number, step in enumerate(lesson.steps, start=1)]
    times = _times(people, sequence, first_pass, on, workshop["starts"], until)
    steps = []
    for lesson, number, step in sequence:
        key = (lesson.slug, step.id)
        passed = sum(1 for learner in here if status.get((learner,) + key) == "passed")
        working = sum(1 for learner in here if on.get(learner, (None, None))[:2] == key and not on[learner][2])
        stuck = sum(1 for learner in here if on.get(learner, (None, None))[:2] == key and on[learner][2])
        reasons = sorted(failed.get(key, {}).items(), key=lambda item: (-len(item[1]), item[0]))[:top]
        steps.append({
            "lesson": lesson.slug, "lesson_title": lesson.title, "step": step.id, "number": number,
            "title": step.title, "passed": passed, "working": working, "stuck": stuck,
            "not_reached": len(here) - passed - working - stuck,
            "reasons": [{"check": why[0], "learners": len(who), "attempts": tries[key][why],
                         "reason": _most_told(told[why]) or said.get(key + (why[0],))}
                        for why, who in reasons],
            "time": _summary(times.get(key, []), names),
        })
    return {"learners": len(here), "now": now, "steps": steps}


def _most_told(seen: dict[str, list]):
    """The reason (a Message, kept) told most often among SEEN {text: [reason, times]}."""
    reason, _ = max(seen.values(), key=lambda pair: pair[1])
    return reason


def _reasons(verdicts: dict[str, dict], on: dict) -> dict[tuple, str]:
    """(lesson, step, check) -> a reason it failed for, from the learners' last verdicts (the
    store keeps only the names of failed checks): the one most learners got, then the first."""
    seen: dict[tuple, dict[str, int]] = {}
    for learner, verdict in verdicts.items():
        if not verdict or learner not in on:
            continue
        lesson = on[learner][0]
        for check in verdict.get("checks") or ():
            if not check.get("passed") and check.get("reason"):
                counted = seen.setdefault((lesson, verdict.get("step"), check.get("name")), {})
                counted[check["reason"]] = counted.get(check["reason"], 0) + 1
    picked = {}
    for key, counted in seen.items():
        best = max(counted.values())
        picked[key] = next(reason for reason, n in counted.items() if n == best)  # said: a Message, kept
    return picked


def _times(people, sequence, first_pass, on, starts, until) -> dict[tuple, list[tuple]]:
    """(lesson, step) -> [(seconds, learner, still on it)]."""
    times: dict[tuple, list[tuple]] = {}
    for person in people:
        learner = person["learner"]
        origin = max(person["joined"], starts)
        passes = [first_pass.get((learner, lesson.slug, step.id)) for lesson, _, step in sequence]
        for index, (lesson, _, step) in enumerate(sequence):
            key = (lesson.slug, step.id)
            end = passes[index]
            if end is not None:
                if end < origin:
                    continue  # passed before this workshop (the learner's own progress)
                begun = max([origin] + [p for p in passes[:index] if p is not None and p <= end])
                times.setdefault(key, []).append((end - begun, learner, False))
            elif person["left"] is None and on.get(learner, (None, None))[:2] == key:
                begun = max([origin] + [p for p in passes[:index] if p is not None])
                times.setdefault(key, []).append((max(0.0, until - begun), learner, True))
    return times


def _summary(times: list[tuple], names: dict[str, str]) -> dict:
    if not times:
        return {"median": None, "slowest": None, "slowest_name": None, "slowest_ongoing": False,
                "passed": 0, "ongoing": 0}
    slowest = max(times, key=lambda t: t[0])
    return {"median": statistics.median(t[0] for t in times), "slowest": slowest[0],
            "slowest_name": names.get(slowest[1]), "slowest_ongoing": slowest[2],
            "passed": sum(1 for t in times if not t[2]), "ongoing": sum(1 for t in times if t[2])}


def room_csv(room: dict, safe=lambda v: v) -> str:
    """One row per step (ROOM_CSV_FIELDS); SAFE keeps a cell from being read as a formula."""
    out = io.StringIO()
    writer = csv.DictWriter(out, ROOM_CSV_FIELDS)
    writer.writeheader()
    for s in room["steps"]:
        t = s["time"]
        row = {"lesson": s["lesson"], "step_number": s["number"], "step": s["step"], "title": s["title"],
               "learners": room["learners"], "passed": s["passed"], "working": s["working"], "stuck": s["stuck"],
               "not_reached": s["not_reached"], "median_seconds": _seconds(t["median"]),
               "slowest_seconds": _seconds(t["slowest"]), "slowest_name": t["slowest_name"] or "",
               "slowest_still_on_step": ("yes" if t["slowest_ongoing"] else "no") if t["slowest"] is not None else "",
               "timed_passed": t["passed"], "timed_still_on_step": t["ongoing"]}
        for n, reason in enumerate(s["reasons"], start=1):
            row[f"failing_check_{n}"] = reason["check"]
            row[f"failing_check_{n}_reason"] = str(reason["reason"] or "")  # in English, as the export's words
            row[f"failing_check_{n}_learners"] = reason["learners"]
        writer.writerow({k: safe(str(v)) if isinstance(v, str) else v for k, v in row.items()})
    return out.getvalue()


def _seconds(value):
    return "" if value is None else round(value)
