"""The room on the trainer's dashboard: a real server, four learners in four browser
contexts (two with real sandboxes, opened from the lesson page over Socket.IO; two who only
joined), one passing the first step after failing its check, one failing it on purpose
until stuck. The chart's bars, the failing checks with their learners, and the tables are
read from the DOM; screenshots go to test-artifacts/e2e/."""
import os
import re
import time

import pytest
from playwright.sync_api import expect

from labapp.sandbox.base import LABEL_OWNER

from .conftest import ARTIFACTS, TRAINER_TOKEN, Server

LESSON = "overlay-attachable"
TRAINER = {"Authorization": f"Bearer {TRAINER_TOKEN}"}
HOSTILE = 'Dee &lt;b&gt; "x"'  # no < or > (names refuse them): entities that markup would read
ROOM_JS = os.path.join(os.path.dirname(__file__), "..", "..", "static", "room.js")
ROOM_CSS = os.path.join(os.path.dirname(__file__), "..", "..", "static", "room.css")


def _shot(page, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)


def _open(page, url, loaded):
    """page.goto URL, again while the page's scripts did not all load (LOADED, a JS
    predicate, is false): Chromium aborts loads with ERR_NETWORK_CHANGED when the engine adds
    or removes bridges and veths, as sandboxes (this test's or others') come and go."""
    from playwright.sync_api import Error

    for attempt in range(6):
        try:
            page.goto(url, wait_until="load")
            if page.evaluate(loaded):
                return page
        except Error as exc:
            if "ERR_NETWORK_CHANGED" not in str(exc):
                raise
        time.sleep(1 + attempt)
    raise AssertionError(f"{url}: its scripts did not load (the host's network kept changing)")


def _ready(page, url):
    return _open(page, f"{url}/lessons/{LESSON}?lang=en", "() => typeof io === 'function' && !!window.labapp")


def _wait_ready(page):
    expect(page.locator("#sandbox-status")).to_contain_text("Sandbox ready", timeout=420_000)
    expect(page.locator("#lab")).to_have_attribute("data-busy", "0")


def _check(page, step, row, checks):
    """Press Check on STEP in the learner's PAGE; their roster ROW on the dashboard then
    says CHECKS (what the server recorded, not what the page shows from an earlier one)."""
    section = page.locator(f"#step-{step}")
    expect(page.locator("#lab")).to_have_attribute("data-busy", "0", timeout=120_000)
    section.locator("button.check").click()
    expect(row.locator("td.checks")).to_have_text(checks, timeout=120_000)
    expect(page.locator("#lab")).to_have_attribute("data-busy", "0", timeout=120_000)
    return section


def test_the_trainer_sees_the_room(tmp_path_factory, browser, client):
    server = Server(tmp_path_factory.mktemp("room-data")).start()
    contexts, wid = [], None
    try:
        api = browser.new_context()
        contexts.append(api)
        made = api.request.post(server.url + "/api/workshops", headers=TRAINER, data={
            "title": "Onboarding day", "lessons": [LESSON], "capacity": 10})
        assert made.status == 201, made.text()
        wid, code = made.json()["id"], made.json()["code"]

        def learner(name):
            ctx = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
            contexts.append(ctx)
            joined = ctx.request.post(server.url + "/api/join", data={"code": code, "name": name})
            assert joined.ok, joined.text()
            return ctx
        # Ann and Bora open the lesson: their sandboxes start at once, over Socket.IO.
        ann, bora = (_ready(learner(n).new_page(), server.url) for n in ("Ann", "Bora"))
        for name in ("Chen", HOSTILE):  # joined, no sandbox: on step 1 all the same
            learner(name)

        board_ctx = browser.new_context(viewport={"width": 1300, "height": 1000}, locale="en-US")
        contexts.append(board_ctx)
        board = board_ctx.new_page()
        _open(board, server.url + "/trainer", "() => !!document.getElementById('token')")
        board.fill("#token", TRAINER_TOKEN)
        board.click("form button[type=submit]")
        _open(board, f"{server.url}/trainer/workshops/{wid}",
              "() => typeof io === 'function' && !!(window.labapp && window.labapp.room && window.labapp.dom)")
        swarm_bar = board.locator('#room .room-bar[data-step="swarm"]')
        expect(swarm_bar).to_have_attribute("data-working", "4", timeout=20_000)
        expect(board.locator("#room svg[role=img] title#room-chart-title")).to_have_text(
            "Learners per step: 4 learners")

        _wait_ready(ann)
        _wait_ready(bora)
        # Ann checks before running (fails), then runs the step and passes.
        ann_row, bora_row = (board.locator(f'#roster tbody tr[data-name="{n}"]') for n in ("Ann", "Bora"))
        verdict = _check(ann, "swarm", ann_row, "✓0 ✗1").locator(".verdict")
        expect(verdict).to_contain_text("nothing has run yet")
        for button in ann.locator("#step-swarm button.run").all():
            button.click()
            expect(ann.locator("#lab")).to_have_attribute("data-busy", "0", timeout=120_000)
        step = _check(ann, "swarm", ann_row, "✓0 ✗0")  # passed: her row moves on to step 2
        expect(ann_row).to_have_attribute("data-step", "overlay")
        expect(step.locator(".step-status")).to_have_attribute("data-status", "passed")
        # Bora presses Check three times without running anything: stuck.
        for failed in (1, 2, 3):
            _check(bora, "swarm", bora_row, f"✓0 ✗{failed}")
        expect(bora.locator("#step-swarm .verdict")).to_contain_text("nothing has run yet")

        # The bars: on step 1, 1 passed, 2 working (Chen and the hostile name), 1 stuck (Bora).
        expect(swarm_bar).to_have_attribute("data-stuck", "1", timeout=20_000)
        for kind, count in (("passed", "1"), ("working", "2"), ("stuck", "1"), ("not-reached", "0")):
            expect(swarm_bar).to_have_attribute(f"data-{kind}", count)
        expect(swarm_bar.locator('text.room-count[data-kind="passed"]')).to_have_text("✓1")
        expect(swarm_bar.locator('text.room-count[data-kind="working"]')).to_have_text("▸2")
        expect(swarm_bar.locator('text.room-count[data-kind="stuck"]')).to_have_text("⚠1")
        overlay_bar = board.locator('#room .room-bar[data-step="overlay"]')
        expect(overlay_bar).to_have_attribute("data-working", "1")  # Ann, on step 2
        expect(overlay_bar).to_have_attribute("data-not-reached", "3")
        widths = board.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
            '#room .room-bar[data-step="swarm"] rect.room-seg')].map(r => [r.dataset.kind, +r.getAttribute("width")]))""")
        assert widths["working"] == pytest.approx(2 * widths["passed"]) == pytest.approx(2 * widths["stuck"]), widths

        # The failing checks of step 1: each of its output checks failed for Ann and Bora
        # (2 distinct learners over 4 failed attempts), with what they were told.
        reasons = board.locator('#room-steps tr[data-step="swarm"] li.room-reason')
        expect(reasons).to_have_count(3)
        first = reasons.first
        expect(first).to_have_attribute("data-learners", "2")
        expect(first.locator(".room-reason-count")).to_have_text("2 learners")
        expect(first).to_contain_text("2 learners: output_contains :2377")
        expect(first.locator("q.room-reason-said")).to_have_text("nothing has run yet: run the step's commands first")
        # Time per step: Ann's pass of step 1 and the three still on it.
        median = board.locator('#room-steps tr[data-step="swarm"] td.room-median')
        expect(median).to_contain_text(re.compile(r"^\d+:\d\d \(3 still on it\)$"))
        slowest = board.locator('#room-steps tr[data-step="swarm"] td.room-slowest')
        expect(slowest.locator(".room-slowest-time")).to_have_text(re.compile(r"^\d+:\d\d$"))
        who = slowest.locator(".room-slowest-name").inner_text()
        assert who in ("Ann", "Bora", "Chen", HOSTILE), who
        # Ann's time is done (she passed); the others' is so far, and said so.
        assert slowest.locator(".room-ongoing").count() == (0 if who == "Ann" else 1), slowest.inner_text()
        # The table behind the chart, with its caption.
        table = board.locator("#room-table")
        expect(table.locator("caption")).to_have_text("Learners per step")
        board.locator("#room-details summary").click()
        row = table.locator('tbody tr[data-step="swarm"]')
        expect(row.locator("th")).to_have_text("1. Look at your swarm")
        assert [c.inner_text() for c in row.locator("td").all()] == ["1", "2", "1", "0"]
        # The hostile name is text in the roster (never markup): the entity text stays as typed.
        expect(board.locator("#roster tbody tr td.name").filter(has_text="Dee &lt;b&gt;")).to_have_count(1)
        assert board.locator("#roster b, #room b").count() == 0
        board.locator("#room").scroll_into_view_if_needed()
        _shot(board, "test_the_trainer_sees_the_room-dashboard")
        board.locator("#room").screenshot(path=os.path.join(ARTIFACTS, "test_the_trainer_sees_the_room-chart.png"))

        # The export carries the same figures.
        room = api.request.get(f"{server.url}/api/workshops/{wid}/results.json", headers=TRAINER).json()["room"]
        swarm = room["steps"][0]
        assert (swarm["passed"], swarm["working"], swarm["stuck"]) == (1, 2, 1)
        assert swarm["reasons"][0] == {"check": "output_contains :2377", "learners": 2, "attempts": 4,
                                       "reason": "nothing has run yet: run the step's commands first"}
        csv_text = api.request.get(f"{server.url}/api/workshops/{wid}/room.csv", headers=TRAINER).text()
        assert csv_text.splitlines()[1].startswith(f"{LESSON},1,swarm,Look at your swarm,4,1,2,1,0,")
    finally:
        if wid is not None:
            api.request.post(f"{server.url}/api/workshops/{wid}/end", headers=TRAINER, data={})
        for ctx in contexts:
            ctx.close()
        instance = server.instance if server.proc else None
        server.stop()
        if instance:
            flt = {"label": f"{LABEL_OWNER}={instance}"}
            left = (client.api.containers(all=True, filters=flt), client.api.networks(filters=flt),
                    client.api.volumes(filters=flt).get("Volumes") or [])
            assert left == ([], [], []), "the room test left sandboxes behind"


ROOM_HTML = """<section id="room" data-msg-chart="Learners per step" data-msg-passed="passed"
  data-msg-working="working" data-msg-stuck="stuck" data-msg-not-reached="not reached"
  data-msg-learner="{n} learner" data-msg-learners="{n} learners" data-msg-ongoing="still on it"
  data-msg-timed-ongoing="{n} still on it">
  <figure><div class="room-chart-box"></div></figure>
  <table id="room-table"><caption>Learners per step</caption><tbody></tbody></table>
  <table id="room-steps"><caption>Time</caption><tbody></tbody></table></section>"""


def test_room_js_draws_names_and_reasons_as_text(page):
    """room.js on its own: a hostile learner name and failing reason (what a learner's
    container name or a node's answer may put there) are drawn as text, not markup."""
    page.set_content(ROOM_HTML)
    page.add_style_tag(path=ROOM_CSS)
    page.add_script_tag(path=ROOM_JS)
    evil_name, evil_reason = '<img src=x onerror="window.pwned=1">', "<script>window.pwned=2</script><b>bold</b>"
    page.evaluate("""([name, reason]) => labapp.room.draw(document.getElementById("room"), {learners: 3, now: 0,
      steps: [{lesson: "l", lesson_title: "L", step: "s1", number: 1, title: name, passed: 1, working: 1, stuck: 1,
               not_reached: 0, time: {median: 65, slowest: 3725, slowest_name: name, slowest_ongoing: true,
               passed: 1, ongoing: 2},
               reasons: [{check: "container " + name, learners: 2, attempts: 5, reason: reason}]}]})""",
                  [evil_name, evil_reason])
    assert page.evaluate("window.pwned") is None
    assert page.locator("#room img, #room script, #room b").count() == 0
    li = page.locator("li.room-reason")
    expect(li.locator(".room-reason-check")).to_have_text("container " + evil_name)
    expect(li.locator("q")).to_have_text(evil_reason)
    expect(page.locator("td.room-slowest")).to_have_text(f"1:02:05 {evil_name} (still on it)")
    expect(page.locator("td.room-median")).to_have_text("1:05 (2 still on it)")
    expect(page.locator("#room-table tbody th")).to_have_text("1. " + evil_name)
    expect(page.locator(".room-bar title")).to_have_text(
        f"1. {evil_name}: passed 1, working 1, stuck 1, not reached 0")
    # Each kind has its own fill (a colour or a pattern), besides its mark and the legend.
    fills = page.evaluate("""() => [...document.querySelectorAll('.room-bar rect.room-seg')].map(r =>
        r.getAttribute("fill") || getComputedStyle(r).fill)""")
    assert len(set(fills)) == 3 and "url(#room-hatch)" in fills and "url(#room-cross)" in fills, fills
    page.locator("#room").screenshot(path=os.path.join(ARTIFACTS, "test_room_js_draws_names_and_reasons_as_text.png"))
