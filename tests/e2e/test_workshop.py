"""A trainer and three learners, each in their own browser context, on a server of their
own: the dashboard follows the learners live, a reset gives a fresh sandbox at the step,
and ending the workshop leaves nothing of this server's on the engine."""
import os
import re
import time

import pytest
from playwright.sync_api import expect

from labapp.sandbox.base import LABEL_OWNER

from .conftest import ARTIFACTS, TRAINER_TOKEN, Server, watched

LESSON = "overlay-attachable"


@pytest.fixture
def workshop_server(tmp_path, client):
    running = Server(tmp_path / "data").start()
    yield running
    running.stop()


def _context(browser, request, who):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    watched(request, who, page)  # what each page went through, carried by a failure (conftest)

    def shot(stage):
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, f"{request.node.name}-{who}-{stage}.png"))
    page.shot = shot
    return context, page


def create_workshop(trainer, title, capacity, lesson=LESSON):
    """On a signed-in trainer's page: make a workshop of LESSON; its join code."""
    trainer.fill("#title", title)
    for box in trainer.locator('input[name="lessons"]').all():
        box.set_checked(box.get_attribute("value") == lesson)
    trainer.fill("#capacity-input", str(capacity))
    trainer.click("#create-form button[type=submit]")
    return trainer.locator("#join-code").inner_text().strip()


def _owned(client, instance):
    flt = {"label": f"{LABEL_OWNER}={instance}"}
    return (client.api.containers(all=True, filters=flt), client.api.networks(filters=flt),
            client.api.volumes(filters=flt).get("Volumes") or [])


def test_a_trainer_runs_a_workshop_for_three_learners(workshop_server, browser, client, request):
    url = workshop_server.url
    contexts = []
    try:
        ctx, trainer = _context(browser, request, "trainer")
        contexts.append(ctx)
        trainer.goto(url + "/trainer")
        trainer.fill("#token", "wrong")
        trainer.click("form button[type=submit]")
        expect(trainer.locator(".problem")).to_contain_text("that is not the trainer token")
        trainer.fill("#token", TRAINER_TOKEN)
        trainer.click("form button[type=submit]")
        code = create_workshop(trainer, "Onboarding day", 3)
        assert re.fullmatch(r"[A-Z2-9]{6}", code)
        expect(trainer.locator(".qr svg")).to_be_visible()
        trainer.shot("dashboard-empty")

        learners = []
        for name in ("Ann", "Bora", "Chen"):
            ctx, page = _context(browser, request, name)
            contexts.append(ctx)
            page.goto(f"{url}/w/{code}?lang=en")
            page.fill("#name", name)
            page.click("#join-form button[type=submit]")
            learners.append(page)
        for page in learners:
            expect(page.locator("#sandbox-status")).to_contain_text("Sandbox ready", timeout=120_000)
            expect(page.locator("#workshop-bar")).to_contain_text("Onboarding day")
        rows = trainer.locator("#roster tbody tr")
        expect(rows).to_have_count(3, timeout=20_000)
        trainer.shot("dashboard-joined")

        ann, bora, chen = learners
        step = ann.locator("#step-swarm")
        step.locator("button.run").first.click()
        expect(ann.locator("#lab")).to_have_attribute("data-busy", "0", timeout=60_000)
        step.locator("button.check").click()
        expect(step.locator(".step-status")).to_have_attribute("data-status", "passed", timeout=60_000)
        ann_row = trainer.locator('#roster tbody tr[data-name="Ann"]')
        expect(ann_row.locator("td.step")).to_contain_text("2/11", timeout=20_000)  # live, no reload
        expect(trainer.locator('#roster tbody tr[data-name="Bora"] td.step')).to_contain_text("1/11")

        for _ in range(3):  # Chen keeps pressing Check without running the step
            chen.locator("#step-swarm button.check").click()
            expect(chen.locator("#lab")).to_have_attribute("data-busy", "0", timeout=60_000)
            chen.wait_for_timeout(300)
        expect(trainer.locator('#roster tbody tr[data-name="Chen"]')).to_have_class(re.compile("stuck"), timeout=20_000)
        expect(trainer.locator('#roster tbody tr[data-name="Chen"] .stuck-mark')).to_contain_text("3 times in a row")
        trainer.shot("dashboard-progress")

        trainer.locator('#roster tbody tr[data-name="Chen"] button.view').click()
        expect(trainer.locator("#learner-view-title")).to_have_text("Chen")
        expect(trainer.locator("#learner-map")).to_contain_text("ingress")

        before = ann.request.get(url + "/api/sandbox").json()["id"]
        ann_row.locator("button.reset").click()
        deadline = time.monotonic() + 120
        while True:
            after = ann.request.get(url + "/api/sandbox").json()
            if after["state"] == "ready" and after["id"] != before:
                break
            assert time.monotonic() < deadline, after
            time.sleep(0.5)
        expect(ann.locator("#sandbox-status")).to_contain_text("Sandbox ready", timeout=30_000)
        ann.reload()
        expect(ann.locator("#step-swarm .step-status")).to_have_attribute("data-status", "passed")
        ann.shot("after-reset")

        trainer.fill("#broadcast-text", "Ten minute break")
        trainer.click("#broadcast button[type=submit]")
        for page in (bora, chen):
            expect(page.locator("#banner")).to_contain_text("Ten minute break", timeout=20_000)
        bora.shot("broadcast")

        trainer.once("dialog", lambda dialog: dialog.accept())
        trainer.click("#end-workshop")
        for page in (bora, chen):
            expect(page.locator("#banner")).to_contain_text("has ended", timeout=60_000)
        expect(trainer.locator("#notice")).to_contain_text("has ended", timeout=60_000)
        chen.shot("ended")
        trainer.shot("dashboard-ended")
        containers, networks, volumes = _owned(client, workshop_server.instance)
        assert (containers, networks, volumes) == ([], [], []), "the workshop left sandboxes behind"
        csv_text = trainer.request.get(url + f"/api/workshops/{trainer.locator('#dashboard').get_attribute('data-workshop')}/results.csv").text()
        assert "Ann,overlay-attachable,1,swarm,passed,1," in csv_text
    finally:
        for ctx in contexts:
            ctx.close()
