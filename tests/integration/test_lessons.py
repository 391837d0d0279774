"""Every shipped lesson, in both languages, solves end to end on a real sandbox with
--both-ways: each state check fails before its step and every check passes after it."""
import json
import os
import subprocess
import sys

import pytest

from labapp.lesson.catalog import load_catalog

from .conftest import labelled_ids

CATALOG = load_catalog()
CASES = sorted((slug, lang) for slug, versions in CATALOG.lessons.items() for lang in versions)


_RUNS: dict = {}


def solve(slug, lang):
    """`labapp lessons run SLUG --solve --both-ways --json` (run once per lesson and language)."""
    if (slug, lang) not in _RUNS:
        _RUNS[slug, lang] = subprocess.run(
            [sys.executable, "-m", "labapp.cli", "lessons", "run", slug, "--solve", "--lang", lang,
             "--both-ways", "--json"], capture_output=True, text=True, timeout=900,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return _RUNS[slug, lang]


@pytest.mark.parametrize("slug,lang", CASES, ids=[f"{s}-{l}" for s, l in CASES])
def test_lesson_solves_both_ways(client, slug, lang):
    before = labelled_ids(client)
    proc = solve(slug, lang)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    failed = [(s["id"], s.get("error"), [c for c in s["checks"] if not c["passed"]],
               [c for c in s.get("before", []) if c["passed"]]) for s in report["steps"] if s["status"] != "passed"]
    assert proc.returncode == 0 and report["passed"], (failed, proc.stderr[-3000:])
    lesson = CATALOG.get(slug, lang)
    assert [s["id"] for s in report["steps"]] == [s.id for s in lesson.steps]
    for step in report["steps"]:
        assert step["checks"], f"step {step['id']} ran no check"
        assert all(c["passed"] for c in step["checks"])
        assert all(not c["passed"] for c in step.get("before", []))
        assert all(set(c) >= {"name", "passed", "reason"} for c in step["checks"])
    assert labelled_ids(client) == before  # the run's sandbox is gone


def test_a_failing_check_says_what_to_fix(client):
    """The before-checks of the article's last networking step are failures with reasons a
    learner can act on, read from the real swarm (reuses the en run above)."""
    report = json.loads(solve("overlay-attachable", "en").stdout)
    step = next(s for s in report["steps"] if s["id"] == "connect-ping")
    reasons = {c["name"]: c["reason"] for c in step["before"]}
    assert reasons["container alpine1"] == "alpine1 is attached to test-net only; it needs test-cluster-net"
    assert reasons["resolves my-nginx"].startswith("my-nginx does not resolve from alpine1")
