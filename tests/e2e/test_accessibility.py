"""Accessibility, measured: axe-core (tests/e2e/vendor/axe-core, a test asset, never served)
runs inside Debian's Chromium on every page of the app, as a learner and a trainer see it,
and each page must have no violation of WCAG 2.0/2.1 A and AA. One server and one workshop
for the module: Ann has a real sandbox (the only one the module makes), Bora joined without
one, Chen joins through the join page."""
import pathlib
import re

import pytest
from playwright.sync_api import expect

from labapp.sandbox.base import LABEL_OWNER

from .conftest import TRAINER_TOKEN, Server, watched
from .test_lesson_page import wait_idle

LESSON = "overlay-attachable"
TRAINER = {"Authorization": f"Bearer {TRAINER_TOKEN}"}
AXE = pathlib.Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def audit(page, what):
    """Run axe on PAGE as it is now; fail with each violation (rule, impact, what to fix and
    the elements, as CSS selectors) when there is any."""
    # Evaluated through the DevTools protocol: the page's Content-Security-Policy (no inline
    # script) stays in force, and nothing of axe is served by the app.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""tags => axe.run(document, {
        runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})""", TAGS)
    # axe ran the WCAG rules (a wrong tag or a broken load would pass with nothing checked).
    ran = {rule["id"] for kind in ("passes", "violations", "incomplete") for rule in result[kind]}
    assert {"html-has-lang", "document-title", "color-contrast"} <= ran, f"{what}: axe ran {sorted(ran)}"
    problems = []
    for v in result["violations"]:
        problems.append(f"- {v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]")
        for node in v["nodes"]:
            target = " >> ".join(" ".join(t) if isinstance(t, list) else t for t in node["target"])
            summary = " ".join(node.get("failureSummary", "").split())
            problems.append(f"    {target}\n      {node['html'][:200]}\n      {summary}")
    assert not result["violations"], (
        f"{what} ({page.url}): {len(result['violations'])} WCAG 2 A/AA violation(s):\n" + "\n".join(problems))
    return result


@pytest.fixture(scope="module")
def room(tmp_path_factory, browser, client):
    """A server and a workshop on it: Ann joined, with a ready sandbox; Bora joined, without.
    Ended at the end, leaving nothing of this server's behind."""
    server = Server(tmp_path_factory.mktemp("a11y-data")).start()
    contexts = []
    wid = None

    def context(**kw):
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US", **kw)
        contexts.append(ctx)
        return ctx
    try:
        api = context()
        made = api.request.post(server.url + "/api/workshops", headers=TRAINER, data={
            "title": "Accessible day", "lessons": [LESSON], "capacity": 10})
        assert made.status == 201, made.text()
        wid, code = made.json()["id"], made.json()["code"]
        learners = {}
        for name in ("Ann", "Bora"):
            learners[name] = context()
            joined = learners[name].request.post(server.url + "/api/join", data={"code": code, "name": name})
            assert joined.ok, joined.text()
        ready = learners["Ann"].request.post(f"{server.url}/api/lessons/{LESSON}/sandbox", data={},
                                             timeout=180_000)
        assert ready.ok and ready.json()["state"] == "ready", ready.text()
        yield type("Room", (), dict(url=server.url, wid=wid, code=code, ann=learners["Ann"], context=context))
    finally:
        if wid is not None:
            api.request.post(f"{server.url}/api/workshops/{wid}/end", headers=TRAINER, data={})
        for ctx in contexts:
            ctx.close()
        instance = server.instance
        server.stop()
        flt = {"label": f"{LABEL_OWNER}={instance}"}
        left = (client.api.containers(all=True, filters=flt), client.api.networks(filters=flt),
                client.api.volumes(filters=flt).get("Volumes") or [])
        assert left == ([], [], []), "the accessibility tests left sandboxes behind"


def test_the_catalogue(room):
    page = room.context().new_page()
    for lang in ("en", "ko"):
        page.goto(f"{room.url}/?lang={lang}")
        expect(page.locator(".catalogue li")).not_to_have_count(0)
        audit(page, f"the catalogue ({lang})")


def test_the_join_page_empty_with_a_problem_and_joined(room):
    page = room.context().new_page()
    page.goto(room.url + "/join?lang=en")
    audit(page, "the join page")
    page.fill("#code", "NOPE99")
    page.fill("#name", "Chen")
    page.click("#join-form button[type=submit]")
    expect(page.locator("#join-problem")).to_be_visible()
    audit(page, "the join page with its problem")
    # Joined, the browser goes to the lesson: that page is audited with Ann's sandbox below,
    # so Chen's is not loaded (it would make a second sandbox).
    page.route("**/lessons/**", lambda route: route.fulfill(status=200, content_type="text/html", body="joined"))
    page.fill("#code", room.code)
    with page.expect_response(lambda r: "/lessons/" in r.url):
        page.click("#join-form button[type=submit]")
    assert f"/lessons/{LESSON}" in page.url, page.url


def test_the_trainer_sign_in_and_home(room):
    page = room.context().new_page()
    page.goto(room.url + "/trainer?lang=en")
    expect(page.locator("#token")).to_be_visible()
    audit(page, "the trainer sign-in")
    page.fill("#token", "not-the-token-of-this-server")
    page.click("form.stacked button[type=submit]")
    expect(page.locator(".problem")).to_be_visible()
    audit(page, "the trainer sign-in with its problem")
    page.fill("#token", TRAINER_TOKEN)
    page.click("form.stacked button[type=submit]")
    expect(page.locator("#create-form")).to_be_visible()
    expect(page.locator("ul.workshops")).to_contain_text("Accessible day")
    audit(page, "the trainer home")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_lesson_page_with_output_map_and_terminal(room, lang, request):
    """Ann's lesson page as she works: one step run (output and network map drawn), a
    step checked (its verdict shown), a terminal open on a container."""
    page = watched(request, "Ann", room.ann.new_page())
    page.goto(f"{room.url}/lessons/{LESSON}?lang={lang}")
    expect(page.locator("#sandbox-status")).to_contain_text(
        re.compile("Sandbox ready|샌드박스 준비 완료"), timeout=120_000)
    wait_idle(page)
    step = page.locator("section.step").first
    step.locator("button.run").first.click()
    wait_idle(page)
    step.locator("button.check").click()
    wait_idle(page)
    expect(step.locator(".verdict li").first).to_be_visible()
    expect(page.locator("#map-nodes")).to_contain_text("manager1")
    expect(page.locator("#map-networks tbody tr")).not_to_have_count(0)
    if page.locator("#map-diagram").count():  # the map as a diagram too (static/netmap.js)
        expect(page.locator("#map-diagram svg")).not_to_have_count(0)
    page.select_option("#console-node", "worker1")
    page.fill("#console-line", f"docker run -dit --name a11y-{lang} alpine ash")
    page.click("#console button[type=submit]")
    expect(page.locator("#output")).to_contain_text(
        re.compile(rf"a11y-{lang} alpine ash\n[0-9a-f]{{64}}\n\(exit 0\)"), timeout=60_000)
    page.fill("#console-line", f"docker exec -it a11y-{lang} ash")
    page.click("#console button[type=submit]")
    expect(page.locator("#lab")).to_have_attribute("data-tty", "open", timeout=30_000)
    expect(page.locator("#tty-screen .xterm-rows")).to_contain_text("/ #", timeout=20_000)
    try:
        audit(page, f"the lesson page ({lang}) with output, map and terminal")
    finally:
        page.keyboard.type("exit\n")
        expect(page.locator("#lab")).to_have_attribute("data-tty", "closed", timeout=20_000)
        page.close()


def test_the_dashboard_with_learners(room):
    page = room.context().new_page()
    page.goto(room.url + "/trainer?lang=en")
    page.fill("#token", TRAINER_TOKEN)
    page.click("form.stacked button[type=submit]")
    page.goto(f"{room.url}/trainer/workshops/{room.wid}")
    rows = page.locator("#roster tbody tr")
    expect(rows.first).to_be_visible(timeout=20_000)
    assert rows.count() >= 2, rows.all_inner_texts()
    expect(page.locator('#roster tbody tr[data-name="Ann"] td.sandbox')).to_contain_text("ready", timeout=20_000)
    if page.locator("#room").count():  # the room's chart and tables (static/room.js)
        expect(page.locator("#room .room-chart-box > *")).not_to_have_count(0, timeout=20_000)
    audit(page, "the dashboard")
    # The learner view: Ann's output and network map, read-only.
    page.locator('#roster tbody tr[data-name="Ann"] button.view').click()
    expect(page.locator("#learner-view")).to_be_visible(timeout=20_000)
    expect(page.locator("#learner-map li").first).to_be_visible(timeout=20_000)
    audit(page, "the dashboard with a learner's view open")
