"""Every shipped lesson, in both languages, solves end to end on a real sandbox with
--both-ways: each state check fails before its step (each rule holds there) and every check
passes after it.

The runs are `labapp lessons run SLUG --solve --both-ways --json`, two at a time (the
machines this runs on have two cores; a lesson run is mostly waiting on the swarm), each in
its own sandbox, started when the first test asks and reused by the test of each lesson
and language. The whole suite takes a few minutes: it is marked slow."""
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from labapp.lesson.catalog import load_catalog

from .conftest import labelled_ids

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CATALOG = load_catalog()
CASES = sorted((slug, lang) for slug, versions in CATALOG.lessons.items() for lang in versions)
AT_ONCE = int(os.environ.get("LABAPP_LESSON_RUNS_AT_ONCE", "2"))

_POOL = ThreadPoolExecutor(max_workers=AT_ONCE, thread_name_prefix="lesson-run")
_RUNS: dict = {}
_LOCK = threading.Lock()


def _run(slug, lang):
    return subprocess.run(
        [sys.executable, "-c", "import sys; from labapp.cli import main; sys.exit(main())",
         "lessons", "run", slug, "--solve", "--lang", lang,
         "--both-ways", "--json"], capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


def solve(slug, lang):
    """The finished run of SLUG in LANG; the first call starts every run, AT_ONCE at a time,
    in the order of the tests."""
    with _LOCK:
        if not _RUNS:
            for case in CASES:
                _RUNS[case] = _POOL.submit(_run, *case)
    return _RUNS[slug, lang].result()


@pytest.mark.parametrize("slug,lang", CASES, ids=[f"{s}-{l}" for s, l in CASES])
def test_lesson_solves_both_ways(client, slug, lang):
    proc = solve(slug, lang)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    failed = [(s["id"], s.get("error"), [c for c in s["checks"] if not c["passed"]],
               [c for c in s.get("before", []) if c["passed"] != bool(c.get("rule"))])
              for s in report["steps"] if s["status"] != "passed"]
    assert proc.returncode == 0 and report["passed"], (failed, proc.stderr[-3000:])
    lesson = CATALOG.get(slug, lang)
    assert [s["id"] for s in report["steps"]] == [s.id for s in lesson.steps]
    for step in report["steps"]:
        assert step["checks"], f"step {step['id']} ran no check"
        assert all(c["passed"] for c in step["checks"])
        assert all(c["passed"] == bool(c.get("rule")) for c in step.get("before", []))
        assert all(set(c) >= {"name", "passed", "reason"} for c in step["checks"])
    assert report["sandbox"] not in labelled_ids(client)  # the run's own sandbox is gone


def test_a_failing_check_says_what_to_fix(client):
    """The before-checks of the article's last networking step are failures with reasons a
    learner can act on, read from the real swarm (reuses the en run above)."""
    report = json.loads(solve("overlay-attachable", "en").stdout)
    step = next(s for s in report["steps"] if s["id"] == "connect-ping")
    reasons = {c["name"]: c["reason"] for c in step["before"]}
    assert reasons["container alpine1"] == "alpine1 is attached to test-net only; it needs test-cluster-net"
    assert reasons["resolves my-nginx"].startswith("my-nginx does not resolve from alpine1")
    assert reasons["reaches my-nginx"].startswith("alpine1 cannot reach my-nginx:80")


def test_the_challenges_rules_hold_before_and_after(client):
    """Each challenge's rules are checked both ways: they hold when the step begins, and the
    solution keeps them (reuses the runs above)."""
    for slug in ("challenge-connect", "challenge-two-services"):
        report = json.loads(solve(slug, "en").stdout)
        for step in report["steps"]:
            rules = [c for c in step["before"] if c.get("rule")]
            assert rules and all(c["passed"] for c in rules), rules
            assert all(c["passed"] for c in step["checks"] if c.get("rule"))
            assert any("the step began with" in c["reason"] for c in step["checks"] if c.get("rule"))
