"""Two app instances on one PostgreSQL and one Redis (docs/scale.md, "More than one app
instance"): a trainer's dashboard on instance A follows, broadcasts to and resets a learner
whose page and sandbox instance B serves; B is killed with SIGKILL and its learner goes on at
A with their progress kept (replayed onto a new sandbox); A reaps B's sandboxes; nothing of
either is left on the engine after A stops."""
import os
import signal
import subprocess
import time
import uuid

import pytest
from playwright.sync_api import expect

from labapp.sandbox import SwarmSandbox
from labapp.sandbox.base import LABEL_OWNER

from .conftest import TRAINER_TOKEN, Server
from .test_workshop import _context, _owned, create_workshop

LESSON = "overlay-attachable"


@pytest.fixture
def database(postgres_url):
    """A database of this test's own on the session's PostgreSQL."""
    import psycopg

    name = f"instances_{uuid.uuid4().hex[:8]}"
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    yield plain.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    with psycopg.connect(plain, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _kill_hard(server):
    """SIGKILL the server's Gunicorn worker and arbiter at once, as when a host loses power."""
    children = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True).stdout.split()
    for pid in children:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.stop(kill=True)


def _sandbox(page, url):
    return page.request.get(url + "/api/sandbox").json()


def _wait(what, condition, timeout=120):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return found


def test_a_trainer_on_one_instance_runs_a_workshop_with_learners_on_two(tmp_path, client, browser, request,
                                                                        redis_url, database):
    shared = {"LABAPP_DATABASE_URL": database, "LABAPP_MESSAGE_QUEUE": redis_url,
              "LABAPP_CLUSTER_NAME": f"e2e-{uuid.uuid4().hex[:8]}", "LABAPP_SECRET_KEY": "e2e-" + "k" * 40,
              "LABAPP_CLUSTER_DEAD_SECONDS": "10"}  # 60 by default: a test need not wait a minute
    a = Server(tmp_path / "a", **shared).start()
    b = Server(tmp_path / "b", **shared).start()
    contexts, instances = [], [a.instance, b.instance]
    try:
        ctx, trainer = _context(browser, request, "trainer-on-A")
        contexts.append(ctx)
        trainer.goto(a.url + "/trainer")
        trainer.fill("#token", TRAINER_TOKEN)
        trainer.click("form button[type=submit]")
        code = create_workshop(trainer, "Two instances", 2, LESSON)

        learners = {}
        for name, server in (("Ann", a), ("Bob", b)):
            ctx, page = _context(browser, request, f"{name}-on-{'A' if server is a else 'B'}")
            contexts.append(ctx)
            page.goto(f"{server.url}/w/{code}?lang=en")
            page.fill("#name", name)
            page.click("#join-form button[type=submit]")
            learners[name] = page
        ann, bob = learners["Ann"], learners["Bob"]
        for page in (ann, bob):
            expect(page.locator("#sandbox-status")).to_contain_text("Sandbox ready", timeout=120_000)
        first = _sandbox(bob, b.url)
        on_b = {s["id"] for s in SwarmSandbox.list(client) if s["labels"].get(LABEL_OWNER) == b.instance}
        assert first["id"] in on_b, "Bob's sandbox is not instance B's"

        # Bob passes a step on B; A's dashboard follows, live
        step = bob.locator("#step-swarm")
        step.locator("button.run").first.click()
        expect(bob.locator("#lab")).to_have_attribute("data-busy", "0", timeout=60_000)
        step.locator("button.check").click()
        expect(step.locator(".step-status")).to_have_attribute("data-status", "passed", timeout=60_000)
        expect(trainer.locator("#roster tbody tr")).to_have_count(2, timeout=20_000)
        bob_row = trainer.locator('#roster tbody tr[data-name="Bob"]')
        expect(bob_row.locator("td.step")).to_contain_text("2/11", timeout=20_000)
        expect(bob_row).to_contain_text("ready")  # the sandbox B holds, known through the store
        trainer.shot("dashboard-two-instances")

        # a broadcast from A reaches the pages of both instances
        trainer.fill("#broadcast-text", "Across instances")
        trainer.click("#broadcast button[type=submit]")
        for page in (ann, bob):
            expect(page.locator("#banner")).to_contain_text("Across instances", timeout=20_000)

        # a reset from A is carried out by B, where Bob's page and sandbox are
        bob_row.locator("button.reset").click()
        fresh = _wait("Bob's fresh sandbox on B", lambda: (lambda s: s if s["state"] == "ready"
                                                           and s["id"] != first["id"] else None)(_sandbox(bob, b.url)))
        assert fresh["id"] in {s["id"] for s in SwarmSandbox.list(client) if s["labels"].get(LABEL_OWNER) == b.instance}
        assert first["id"] not in {s["id"] for s in SwarmSandbox.list(client)}
        expect(bob.locator("#sandbox-status")).to_contain_text("Sandbox ready", timeout=30_000)
        bob.shot("reset-from-A")

        # B dies; Bob opens the lesson at A: progress kept, a sandbox at his step made by replay
        _kill_hard(b)
        bob.goto(f"{a.url}/lessons/{LESSON}?lang=en")
        expect(bob.locator("#sandbox-status")).to_contain_text("Sandbox ready", timeout=180_000)
        expect(bob.locator("#step-swarm .step-status")).to_have_attribute("data-status", "passed")
        moved = _sandbox(bob, a.url)
        assert moved["state"] == "ready" and moved["id"] not in (first["id"], fresh["id"]), moved
        bob.shot("after-failover")
        step = bob.locator("#step-overlay")
        step.locator("button.run").first.click()  # the replayed swarm takes the next step's commands
        expect(bob.locator("#lab")).to_have_attribute("data-busy", "0", timeout=60_000)

        # A reaps what B left: a dead instance's sandboxes are nobody's
        _wait("A to reap B's sandboxes", lambda: _owned(client, b.instance) == ([], [], []), timeout=120)
        expect(bob_row.locator("td.step")).to_contain_text("2/11")
    finally:
        for ctx in contexts:
            ctx.close()
        if b.proc is not None:
            b.stop()  # not killed yet (an earlier failure): its own clean-up removes its sandboxes
        a.stop()
    for instance in instances:
        assert _owned(client, instance) == ([], [], []), f"instance {instance} left sandboxes behind"
