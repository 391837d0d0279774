"""No false verdicts under load: with the host's cores busy on purpose (CPU hogs, two per
core, beside a real sandbox), the article lesson's solutions up to the ping through the
overlay pass every check (a check waits for the swarm to converge, longer as the load grows,
and says when it waited); and the converse, a wrong state under the same load still fails,
on evidence and at once, never "uncertain". Marked slow: the steps run under load."""
import os
import subprocess
import sys

import pytest

from labapp.lesson.catalog import load_catalog
from labapp.runner import Runner
from labapp.sandbox import SwarmSandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CORES = os.cpu_count() or 1
HOGS = 2 * CORES


@pytest.fixture
def busy_host():
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(HOGS)]
    try:
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def test_under_load_right_answers_pass_and_wrong_ones_still_fail(client, settings, kernel, busy_host):
    lesson = load_catalog().get("overlay-attachable", "en")
    ids = [s.id for s in lesson.steps]
    steps = lesson.steps[:ids.index("connect-ping") + 1]
    sandbox = SwarmSandbox.create(client, settings, nodes=lesson.nodes, managers=lesson.managers)
    try:
        runner = Runner(sandbox, lesson, kernel.as_dict())
        results = []
        for step in steps:
            results.append(runner.solve_step(step))
            assert results[-1].error is None, (step.id, results[-1].error)
        loaded = os.getloadavg()[0] / CORES
        assert all(hog.poll() is None for hog in busy_host)
        assert loaded >= 1.0, f"the hogs did not load the host (load {loaded:.2f} per core)"
        false = [(r.step, c.name, c.reason) for r in results for c in r.checks if not c.passed]
        assert not false, f"false verdicts under a load of {loaded:.1f} per core: {false}"
        assert all(r.status == "passed" for r in results)

        # The converse: alpine1 taken off the overlay again. Under the same load each check
        # fails on evidence (no shared network serves my-nginx), at once and not "uncertain".
        gone = sandbox.exec("manager1", "docker network disconnect test-cluster-net alpine1", timeout=60)
        assert gone.exit_code == 0, gone.output
        wrong = {c.name: c for c in runner.check(lesson.step("connect-ping"), [])}
        for name in ("container alpine1", "resolves my-nginx", "reaches my-nginx"):
            assert not wrong[name].passed and not wrong[name].uncertain, wrong[name]
            assert wrong[name].waited == 0, wrong[name]  # no waiting for what will not come
        assert wrong["container alpine1"].reason == "alpine1 is attached to test-net only; it needs test-cluster-net"
        assert "no network they share serves that name" in wrong["resolves my-nginx"].reason
    finally:
        sandbox.destroy()
