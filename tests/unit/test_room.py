"""The room's figures per step (labapp/workshop/room.py): learners passed / working / stuck /
not reached, the most common failing checks with their learners, time on a step (median,
slowest, those still on it), and the same in the export (results.json, room.csv)."""
import csv
import io
from types import SimpleNamespace

import pytest

from labapp.workshop.reports import _csv_safe
from labapp.workshop.room import ROOM_CSV_FIELDS, room_csv, room_figures

from .helpers import LESSON, TOKEN, make_app

LESSONS = [SimpleNamespace(slug="overlay", title="Overlay", steps=[
    SimpleNamespace(id="swarm", title="Look at the swarm"),
    SimpleNamespace(id="net", title="Create a network"),
    SimpleNamespace(id="svc", title="Run a service")])]
T0 = 1_000_000.0  # the workshop's start


def person(learner, name, joined=T0, left=None):
    return {"learner": learner, "name": name, "joined": joined, "left": left}


def attempt(learner, step, at, failed=(), lesson="overlay"):
    return {"learner": learner, "lesson": lesson, "step": step, "passed": not failed,
            "failed_checks": "\n".join(failed), "at": at}


def passed(learner, *steps):
    return [{"learner": learner, "lesson": "overlay", "step": s, "status": "passed", "updated": 0} for s in steps]


def row(learner, step, stuck=None, lesson="overlay"):
    return {"learner": learner, "lesson": lesson, "step": step, "stuck": stuck}


def figures(people, rows, attempts=(), progress=(), verdicts=None, now=T0 + 2000, ended=None, **kw):
    workshop = {"starts": T0, "ended": ended}
    return room_figures(workshop, LESSONS, people, rows, list(attempts), list(progress), verdicts or {}, now, **kw)


def by_step(room):
    return {s["step"]: s for s in room["steps"]}


def test_each_step_counts_the_learners_passed_working_stuck_and_not_reached():
    people = [person("ann", "Ann"), person("bo", "Bo"), person("cy", "Cy"), person("dee", "Dee", left=T0 + 50),
              person("eve", "Eve")]
    rows = [row("ann", "svc"), row("bo", "swarm", stuck="failed 3 times"), row("cy", "swarm"),
            row("dee", "net"), row("eve", None)]  # Eve finished the lesson
    progress = passed("ann", "swarm", "net") + passed("dee", "swarm") + passed("eve", "swarm", "net", "svc")
    room = figures(people, rows, progress=progress)
    steps = by_step(room)
    assert room["learners"] == 4  # Dee left: not in the room
    assert [s["step"] for s in room["steps"]] == ["swarm", "net", "svc"]
    assert [s["number"] for s in room["steps"]] == [1, 2, 3]
    counts = {k: (s["passed"], s["working"], s["stuck"], s["not_reached"]) for k, s in steps.items()}
    assert counts == {"swarm": (2, 1, 1, 0), "net": (2, 0, 0, 2), "svc": (1, 1, 0, 2)}


def test_the_most_common_failing_checks_count_distinct_learners():
    people = [person("ann", "Ann"), person("bo", "Bo"), person("cy", "Cy"), person("dee", "Dee", joined=T0 + 500)]
    attempts = [
        attempt("bo", "swarm", T0 + 10, ["container alpine1", "network test-net"]),
        attempt("bo", "swarm", T0 + 20, ["container alpine1"]),
        attempt("bo", "swarm", T0 + 30, ["container alpine1"]),
        attempt("cy", "swarm", T0 + 40, ["container alpine1"]),
        attempt("ann", "swarm", T0 + 50, ["output_contains :2377"]),
        attempt("ann", "swarm", T0 + 60),
        attempt("dee", "swarm", T0 + 100, ["exit 0"]),  # before Dee joined this workshop: not counted
        attempt("ann", "net", T0 + 70, ["network test-net"]),
    ]
    rows = [row("ann", "net"), row("bo", "swarm"), row("cy", "swarm"), row("dee", "swarm")]
    steps = by_step(figures(people, rows, attempts, passed("ann", "swarm")))
    assert [(r["check"], r["learners"], r["attempts"]) for r in steps["swarm"]["reasons"]] == [
        ("container alpine1", 2, 4), ("network test-net", 1, 1), ("output_contains :2377", 1, 1)]
    assert [(r["check"], r["learners"]) for r in steps["net"]["reasons"]] == [("network test-net", 1)]
    assert steps["svc"]["reasons"] == []
    top = by_step(figures(people, rows, attempts, passed("ann", "swarm"), top=1))
    assert [r["check"] for r in top["swarm"]["reasons"]] == ["container alpine1"]
    # the store keeps an attempt made again and again the same as one, with its repeats; one
    # first made before Dee joined and made again after counts
    attempts[1:3] = [dict(attempts[1], repeats=2)]
    attempts[5] = dict(attempts[5], last_at=T0 + 600, repeats=2)  # Dee's exit 0, again after joining
    steps = by_step(figures(people, rows, attempts, passed("ann", "swarm")))
    assert [(r["check"], r["learners"], r["attempts"]) for r in steps["swarm"]["reasons"]] == [
        ("container alpine1", 2, 4), ("exit 0", 1, 2), ("network test-net", 1, 1)]  # the top 3


def test_a_reason_the_learners_were_told_goes_with_its_check():
    people = [person("bo", "Bo"), person("cy", "Cy"), person("ann", "Ann")]
    attempts = [attempt(who, "swarm", T0 + 10, ["container alpine1"]) for who in ("bo", "cy", "ann")]
    rows = [row("bo", "swarm"), row("cy", "swarm"), row("ann", "swarm")]

    def told(reason):
        return {"step": "swarm", "passed": False,
                "checks": [{"name": "container alpine1", "passed": False, "reason": reason},
                           {"name": "network test-net", "passed": True, "reason": "fine"}]}
    verdicts = {"bo": told("alpine1 is attached to test-net only"), "cy": told("alpine1 is attached to test-net only"),
                "ann": told("there is no container alpine1 on worker1"), "gone": told("not in the workshop")}
    [reason] = by_step(figures(people, rows, attempts, verdicts=verdicts))["swarm"]["reasons"]
    assert reason == {"check": "container alpine1", "learners": 3, "attempts": 3,
                      "reason": "alpine1 is attached to test-net only"}  # the one most of them were told


def test_time_on_a_step_median_slowest_and_those_still_on_it():
    now = T0 + 2000
    people = [person("ann", "Ann"), person("bo", "Bo"), person("cy", "Cy", joined=T0 + 1100),
              person("dee", "Dee", left=T0 + 900)]
    attempts = [
        attempt("ann", "swarm", T0 + 100), attempt("ann", "net", T0 + 400),  # 100 s, then 300 s; on svc 1600 s
        attempt("bo", "swarm", T0 + 500, ["container alpine1"]),  # Bo: on swarm for 2000 s so far
        attempt("dee", "swarm", T0 + 200),  # Dee: 200 s, then left while on net (not timed there)
    ]
    rows = [row("ann", "svc"), row("bo", "swarm"), row("cy", "swarm"), row("dee", "net")]
    progress = passed("ann", "swarm", "net") + passed("dee", "swarm")
    steps = by_step(figures(people, rows, attempts, progress, now=now))
    swarm = steps["swarm"]["time"]
    # 100 (Ann), 200 (Dee), 900 (Cy so far: joined at +1100), 2000 (Bo so far)
    assert swarm["median"] == 550 and swarm["slowest"] == 2000
    assert swarm["slowest_name"] == "Bo" and swarm["slowest_ongoing"] is True
    assert (swarm["passed"], swarm["ongoing"]) == (2, 2)
    assert steps["net"]["time"] == {"median": 300, "slowest": 300, "slowest_name": "Ann", "slowest_ongoing": False,
                                    "passed": 1, "ongoing": 0}
    assert steps["svc"]["time"]["median"] == 1600 and steps["svc"]["time"]["slowest_ongoing"] is True


def test_time_after_the_end_stops_at_the_end_and_earlier_passes_are_not_timed():
    people = [person("ann", "Ann", joined=T0 - 5000), person("bo", "Bo")]
    attempts = [attempt("ann", "swarm", T0 - 3000),  # self-paced, before the workshop: passed, not timed
                attempt("ann", "net", T0 + 60)]  # timed from the workshop's start, not her early join
    rows = [row("ann", "svc"), row("bo", "swarm")]
    steps = by_step(figures(people, rows, attempts, passed("ann", "swarm", "net"), now=T0 + 9000, ended=T0 + 600))
    assert steps["swarm"]["passed"] == 1
    assert steps["swarm"]["time"]["median"] == 600 and steps["swarm"]["time"]["slowest_name"] == "Bo"
    assert steps["net"]["time"]["median"] == 60
    assert steps["svc"]["time"]["slowest"] == 540  # Ann, from her pass of net to the end


def test_a_hostile_name_and_reason_stay_text_in_the_figures_and_the_csv():
    name, reason = "=HYPERLINK(\"http://x\")&\"<b>\"", "<img src=x onerror=alert(1)> is attached"
    people = [person("m", name)]
    attempts = [attempt("m", "swarm", T0 + 10, ["container <svg onload=alert(2)>"])]
    verdicts = {"m": {"step": "swarm", "checks": [
        {"name": "container <svg onload=alert(2)>", "passed": False, "reason": reason}]}}
    room = figures(people, [row("m", "swarm")], attempts, verdicts=verdicts)
    swarm = by_step(room)["swarm"]
    assert swarm["time"]["slowest_name"] == name  # as given: escaping is the page's (textContent)
    assert swarm["reasons"][0]["reason"] == reason and swarm["reasons"][0]["check"].startswith("container <svg")
    rows = list(csv.DictReader(io.StringIO(room_csv(room, _csv_safe))))
    assert list(rows[0]) == ROOM_CSV_FIELDS
    assert rows[0]["slowest_name"] == "'" + name  # not a formula in a spreadsheet
    assert rows[0]["failing_check_1"] == "container <svg onload=alert(2)>"
    assert (rows[0]["stuck"], rows[0]["working"], rows[0]["failing_check_1_learners"]) == ("0", "1", "1")


# --- through the app (fake sandboxes): the roster carries the room, and the export ---------

@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def trainer(app):
    http = app.test_client()
    http.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return http


def test_the_roster_the_json_and_room_csv_carry_the_room(app, trainer):
    made = trainer.post("/api/workshops", json={"title": "Onboarding", "lessons": [LESSON], "capacity": 5})
    wid, code = made.get_json()["id"], made.get_json()["code"]
    learners = {}
    for name in ("Ann", "Bo", "Cy"):
        http = app.test_client()
        http.get("/")
        assert http.post("/api/join", json={"code": code, "name": name}).status_code == 200
        learners[name] = http
    ann = learners["Ann"]
    ann.post(f"/api/lessons/{LESSON}/sandbox", json={})
    for _ in range(3):  # without running the step: its output check fails
        assert not ann.post(f"/api/lessons/{LESSON}/steps/swarm/check", json={}).get_json()["passed"]
    room = trainer.get(f"/api/workshops/{wid}").get_json()["room"]
    swarm = room["steps"][0]
    assert room["learners"] == 3 and [s["step"] for s in room["steps"]] == ["swarm", "overlay", "service",
                                                                           "bridge-ping"]
    assert (swarm["passed"], swarm["working"], swarm["stuck"], swarm["not_reached"]) == (0, 2, 1, 0)
    [reason] = swarm["reasons"]
    assert (reason["check"], reason["learners"], reason["attempts"]) == ("output_matches manager1 .*Ready", 1, 3)
    assert reason["reason"] == "nothing has run yet: run the step's commands first"  # what Ann was told
    assert swarm["time"]["ongoing"] == 3 and swarm["time"]["slowest_ongoing"] is True
    exported = trainer.get(f"/api/workshops/{wid}/results.json").get_json()
    assert exported["room"]["steps"][0]["reasons"][0]["learners"] == 1
    answer = trainer.get(f"/api/workshops/{wid}/room.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert f"workshop-{wid}-room.csv" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [r["step"] for r in rows] == ["swarm", "overlay", "service", "bridge-ping"]
    assert (rows[0]["learners"], rows[0]["working"], rows[0]["stuck"], rows[0]["failing_check_1_learners"]) == \
        ("3", "2", "1", "1")
    assert rows[0]["slowest_still_on_step"] == "yes" and rows[1]["median_seconds"] == ""
    assert app.test_client().get(f"/api/workshops/{wid}/room.csv").status_code == 401


def test_the_dashboard_page_has_the_room_and_its_tables(app):
    from .test_workshops import _csrf

    page = app.test_client()
    page.post("/trainer/login", data={"token": TOKEN, "csrf": _csrf(page, "/trainer/login")})
    page.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    wid = page.post("/api/workshops", json={"title": "T", "lessons": [LESSON], "capacity": 2}).get_json()["id"]
    html = page.get(f"/trainer/workshops/{wid}").get_data(as_text=True)
    for part in ('id="room"', 'id="room-table"', "<caption>Learners per step</caption>",
                 ">Time and failing checks per step</caption>", "room.css", "room.js",
                 f"/api/workshops/{wid}/room.csv"):
        assert part in html, part


def test_failing_checks_are_grouped_by_the_reason_their_learners_were_told():
    from labapp.i18n import msg

    people = [person(who, who.title()) for who in ("ann", "bo", "cy", "dee")]
    only = msg("{container} is attached to {networks} only; it needs {wanted}", container="alpine1",
               networks="test-net", wanted="test-cluster-net")
    none = msg("there is no container {container} on {node}", container="alpine1", node="manager1")
    attempts = [dict(attempt(who, "swarm", T0 + 10 + i, ["container alpine1"]), reasons={"container alpine1": why})
                for i, (who, why) in enumerate([("ann", only), ("bo", only), ("bo", only), ("cy", only),
                                                ("dee", none)])]
    rows = [row(who, "swarm") for who in ("ann", "bo", "cy", "dee")]
    reasons = by_step(figures(people, rows, attempts))["swarm"]["reasons"]
    assert [(r["check"], str(r["reason"]), r["learners"], r["attempts"]) for r in reasons] == [
        ("container alpine1", "alpine1 is attached to test-net only; it needs test-cluster-net", 3, 4),
        ("container alpine1", "there is no container alpine1 on manager1", 1, 1)]
    assert reasons[0]["reason"].render("ko") != str(reasons[0]["reason"])  # said in the trainer's language


def test_the_store_keeps_the_reasons_a_learner_was_told(tmp_path):
    from labapp.i18n import msg
    from labapp.store import Store

    store = Store(str(tmp_path / "lab.db"))
    told = msg("{container} is attached to {networks} only; it needs {wanted}", container="alpine1",
               networks="test-net", wanted="test-cluster-net")
    store.record("ann", "overlay-attachable", "connect-ping", "failed", ["container alpine1"],
                 {"container alpine1": told})
    store.record("ann", "overlay-attachable", "connect-ping", "passed")
    first, second = store.attempts(["ann"])
    kept = first["reasons"]["container alpine1"]
    assert str(kept) == str(told) and kept.render("ko") == told.render("ko")
    assert second["reasons"] == {}


def test_reasons_that_differ_only_in_their_details_are_one_row():
    from labapp.i18n import msg

    people = [person(who, who.title()) for who in ("ann", "bo", "cy")]

    def cannot(detail):
        return msg("{container} cannot reach {target} ({detail})", container="alpine1", target="my-nginx:80",
                   detail=detail)
    said = [("ann", cannot("nc: timed out")), ("bo", cannot("nc: timed out")), ("cy", cannot("Connection refused"))]
    attempts = [dict(attempt(who, "swarm", T0 + 10 + i, ["reaches my-nginx"]), reasons={"reaches my-nginx": why})
                for i, (who, why) in enumerate(said)]
    reasons = by_step(figures(people, [row(w, "swarm") for w in ("ann", "bo", "cy")], attempts))["swarm"]["reasons"]
    assert [(r["check"], r["learners"], r["attempts"]) for r in reasons] == [("reaches my-nginx", 3, 3)]
    assert str(reasons[0]["reason"]) == "alpine1 cannot reach my-nginx:80 (nc: timed out)"  # the most told
