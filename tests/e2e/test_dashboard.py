"""The trainer's dashboard while the roster changes under it: rows update in place, so a
trainer tabbing through the roster keeps their place (the same button of the same learner,
the page where it was) while learners join and run checks and the clock ticks. One server
and one workshop for the module; one learner (Ann) has a real sandbox, the others join
through the API only."""
import itertools
import os
import re
import types

import pytest
from playwright.sync_api import expect

from labapp.sandbox.base import LABEL_OWNER

from .conftest import ARTIFACTS, TRAINER_TOKEN, Server

LESSON = "overlay-attachable"
TRAINER = {"Authorization": f"Bearer {TRAINER_TOKEN}"}


@pytest.fixture(scope="module")
def room(tmp_path_factory, browser, client):
    """A server, a workshop on it and Ann in it with a ready sandbox; JOIN(name) adds a
    learner through the API. Ended at the end, leaving nothing of this server's behind."""
    server = Server(tmp_path_factory.mktemp("dashboard-data")).start()
    contexts = []
    wid = None
    try:
        api = browser.new_context()
        contexts.append(api)
        made = api.request.post(server.url + "/api/workshops", headers=TRAINER, data={
            "title": "Focus day", "lessons": [LESSON], "capacity": 10})
        assert made.status == 201, made.text()
        wid, code = made.json()["id"], made.json()["code"]

        def join(name):
            ctx = browser.new_context()
            contexts.append(ctx)
            joined = ctx.request.post(server.url + "/api/join", data={"code": code, "name": name})
            assert joined.ok, joined.text()
            return ctx.request

        ann = join("Ann")
        ready = ann.post(f"{server.url}/api/lessons/{LESSON}/sandbox", data={}, timeout=180_000)
        assert ready.ok and ready.json()["state"] == "ready", ready.text()
        yield types.SimpleNamespace(url=server.url, wid=wid, code=code, ann=ann, join=join,
                                    names=(f"Learner{i}" for i in itertools.count(1)))
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
        assert left == ([], [], []), "the dashboard tests left sandboxes behind"


@pytest.fixture
def trainer(room, browser, request):
    """The trainer's dashboard, signed in, in a window short enough that the page scrolls."""
    context = browser.new_context(viewport={"width": 1200, "height": 500}, locale="en-US")
    page = context.new_page()

    def shot(stage):
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, f"{request.node.name}-{stage}.png"))
    page.shot = shot
    page.goto(room.url + "/trainer")
    page.fill("#token", TRAINER_TOKEN)
    page.click("form button[type=submit]")
    page.goto(f"{room.url}/trainer/workshops/{room.wid}")
    expect(page.locator('#roster tbody tr[data-name="Ann"]')).to_have_count(1, timeout=20_000)
    yield page
    context.close()


def _row(page, name):
    return page.locator(f'#roster tbody tr[data-name="{name}"]')


def _fail_a_check(room, page):
    """Ann presses Check on her step without running it: her checks cell changes."""
    cell = _row(page, "Ann").locator("td.checks")
    before = cell.inner_text()
    step = _row(page, "Ann").get_attribute("data-step")
    answer = room.ann.post(f"{room.url}/api/lessons/{LESSON}/steps/{step}/check", data={}, timeout=120_000)
    assert answer.ok and not answer.json()["passed"], answer.text()
    expect(cell).not_to_have_text(before, timeout=20_000)


FOCUSED = """() => {
  const a = document.activeElement, tr = a.closest("#roster tbody tr");
  return {same: a === window.heldForTest, learner: tr ? tr.dataset.name : null,
          what: a.tagName === "BUTTON" ? a.className : a.tagName, y: window.scrollY};
}"""


def test_tabbing_through_the_roster_keeps_focus_while_it_updates(room, trainer):
    for name in ("Bora", "Chen"):
        room.join(name)
    rows = trainer.locator("#roster tbody tr")
    expect(rows).to_have_count(3, timeout=20_000)
    trainer.evaluate("document.querySelector('#roster').scrollIntoView({block: 'start'})")
    assert trainer.evaluate("window.scrollY") > 0, "the page should be scrolled for this test"
    # Keyboard focus just before the roster (the room's box of failing checks), then Tab into it.
    trainer.evaluate("document.querySelector('#room .room-steps-box').focus({preventScroll: true})")

    def stop(learner, button):
        trainer.keyboard.press("Tab")
        state = trainer.evaluate(FOCUSED)
        assert (state["learner"], state["what"]) == (learner, button), state
        trainer.evaluate("window.heldForTest = document.activeElement")
        return state["y"]

    def held(learner, button, y, after):
        state = trainer.evaluate(FOCUSED)
        assert state["same"] and (state["learner"], state["what"]) == (learner, button), \
            f"after {after}, focus left {learner}'s {button} button: {state}"
        assert state["y"] == y, f"after {after}, the page scrolled from {y} to {state['y']}"

    for learner in ("Ann", "Bora", "Chen"):
        for button in ("view", "reset", "remove"):
            y = stop(learner, button)
            # The clock ticks (each second), a learner joins (a row added), Ann fails a
            # check (her row's cells change; after 3 in a row she is marked stuck).
            time_cell = _row(trainer, "Ann").locator("td.time")
            ticked = time_cell.inner_text()
            expect(time_cell).not_to_have_text(ticked, timeout=5_000)
            held(learner, button, y, "the clock's tick")
            if button == "remove":
                continue  # the clock only: the workshop has 10 places for the joins of this module
            count = rows.count()
            room.join(next(room.names))
            expect(rows).to_have_count(count + 1, timeout=20_000)
            held(learner, button, y, "a learner joined")
            _fail_a_check(room, trainer)
            held(learner, button, y, "Ann's check")
    expect(_row(trainer, "Ann")).to_have_class(re.compile(r"\bstuck\b"), timeout=20_000)
    held("Chen", "remove", y, "Ann became stuck")
    # The room above the roster (chart and failing checks) changed all along; the roster did not move.
    expect(trainer.locator('#room-steps tr[data-step] li.room-reason').first).to_contain_text("1 learner: ")
    trainer.shot("focus-kept")
    # And on: Tab goes on to the first learner who joined during the test.
    stop("Learner1", "view")


def test_a_learners_row_changes_in_place(room, trainer):
    page = trainer
    page.evaluate("""() => {
      window.removedForTest = [];
      new MutationObserver(records => records.forEach(r => r.removedNodes.forEach(n => {
        if (n.nodeType === 1) window.removedForTest.push(n.tagName + "." + n.className);
      }))).observe(document.querySelector("#roster tbody"), {childList: true, subtree: true});
    }""")
    ann = _row(page, "Ann")
    rows = page.locator("#roster tbody tr")
    before = {"tr": ann.element_handle(), "step": ann.locator("td.step").element_handle(),
              "checks": ann.locator("td.checks").element_handle(),
              "view": ann.locator("button.view").element_handle()}
    step_text = ann.locator("td.step").inner_text()
    number = int(step_text.split("/")[0])

    # A failed check: the checks cell gets the new count and the failed checks as its title.
    _fail_a_check(room, page)
    assert ann.locator("td.checks").get_attribute("title"), "the failed checks are the cell's title"
    # A new learner: a row added at the end, the others kept.
    count = rows.count()
    newcomer = next(room.names)
    room.join(newcomer)
    expect(rows).to_have_count(count + 1, timeout=20_000)
    expect(rows.last).to_have_attribute("data-name", newcomer)
    before["newcomer"] = rows.last.element_handle()
    # Ann runs her step and passes its check: her step cell moves on to the next step.
    step = ann.get_attribute("data-step")
    lesson = room.ann.get(f"{room.url}/api/lessons/{LESSON}").json()
    blocks = next(s for s in lesson["steps"] if s["id"] == step)["blocks"]
    for block in blocks:
        if block["applies"]:
            ran = room.ann.post(f"{room.url}/api/lessons/{LESSON}/steps/{step}/run",
                                data={"block": block["index"]}, timeout=120_000)
            assert ran.ok, ran.text()
    passed = room.ann.post(f"{room.url}/api/lessons/{LESSON}/steps/{step}/check", data={}, timeout=120_000)
    assert passed.ok and passed.json()["passed"], passed.text()
    expect(ann.locator("td.step")).to_contain_text(f"{number + 1}/{len(lesson['steps'])} ", timeout=20_000)
    expect(ann.locator("td.checks")).to_have_text("✓0 ✗0")
    expect(ann).not_to_have_class(re.compile(r"\bstuck\b"))
    after = {"tr": ann.element_handle(), "step": ann.locator("td.step").element_handle(),
             "checks": ann.locator("td.checks").element_handle(),
             "view": ann.locator("button.view").element_handle(), "newcomer": rows.last.element_handle()}
    for key in before:
        assert page.evaluate("([a, b]) => a === b && a.isConnected", [before[key], after[key]]), \
            f"{key} was replaced, not updated"
    removed = page.evaluate("window.removedForTest")
    assert not [n for n in removed if n.split(".")[0] in ("TR", "TD", "BUTTON")], removed
    page.shot("updated-in-place")
    # The buttons still work (one listener on the table's body).
    before["view"].click()
    expect(page.locator("#learner-view-title")).to_have_text("Ann")
    expect(page.locator("#learner-map")).to_contain_text("ingress", timeout=20_000)


DOM_JS = os.path.join(os.path.dirname(__file__), "..", "..", "static", "dom.js")


@pytest.mark.parametrize("move", ["moveBefore", "insertBefore"])
def test_rows_are_reordered_without_losing_focus(page, move):
    """dom.js's place() (the dashboard's row order) on its own: moved rows are the same
    nodes, as few move as can be, and the focused button keeps focus, with the browser's
    moveBefore and without it (insertBefore, then focus given back)."""
    page.set_content("<table><tbody>" + "".join(
        f'<tr id="{k}"><td>{k}</td><td><button>{k}</button></td></tr>' for k in "ABCD") + "</tbody></table>")
    page.add_script_tag(path=DOM_JS)
    if move == "insertBefore":
        page.evaluate("delete Element.prototype.moveBefore")
    page.evaluate("""() => {
      window.rowsForTest = Object.fromEntries([...document.querySelectorAll("tr")].map(tr => [tr.id, tr]));
      window.placeForTest = ids => {
        const body = document.querySelector("tbody");
        const order = ids.split("").map(id => window.rowsForTest[id] || (window.rowsForTest[id] = Object.assign(
          document.createElement("tr"), {id, innerHTML: `<td>${id}</td><td><button>${id}</button></td>`})));
        [...body.children].filter(tr => !order.includes(tr)).forEach(tr => tr.remove());
        let moved = 0;
        const seen = new MutationObserver(() => {});
        seen.observe(body, {childList: true});
        labapp.dom.place(body, order);
        moved = seen.takeRecords().reduce((n, r) => n + r.addedNodes.length, 0);
        seen.disconnect();
        return {order: [...body.children].map(tr => tr.id).join(""), moved,
                same: [...body.children].every(tr => window.rowsForTest[tr.id] === tr),
                focused: document.activeElement.textContent};
      };
    }""")
    page.locator("#C button").focus()
    assert page.evaluate("placeForTest('ABCD')") == {"order": "ABCD", "moved": 0, "same": True, "focused": "C"}
    assert page.evaluate("placeForTest('DABC')") == {"order": "DABC", "moved": 1, "same": True, "focused": "C"}
    assert page.evaluate("placeForTest('CDAB')") == {"order": "CDAB", "moved": 1, "same": True, "focused": "C"}
    # A new row (E) and one gone (B); then the order reversed (all but one move).
    assert page.evaluate("placeForTest('DCEA')") == {"order": "DCEA", "moved": 2, "same": True, "focused": "C"}
    assert page.evaluate("placeForTest('AECD')") == {"order": "AECD", "moved": 3, "same": True, "focused": "C"}


def test_the_trainer_removes_a_squatter_from_the_roster(room, trainer, browser):
    """A squatter with the join code took a colleague's name and the last place of a small
    workshop; the trainer's Remove button (after a confirmation) frees both, and the
    squatter's browser cannot join again."""
    contexts = [browser.new_context() for _ in range(3)]
    api, squatter, colleague = (ctx.request for ctx in contexts)
    made = api.post(room.url + "/api/workshops", headers=TRAINER, data={
        "title": "Small room", "lessons": [LESSON], "capacity": 1})
    assert made.status == 201, made.text()
    wid, code = made.json()["id"], made.json()["code"]
    join = room.url + "/api/join"
    try:
        assert squatter.post(join, data={"code": code, "name": "Dana"}).ok
        taken = colleague.post(join, data={"code": code, "name": "dana"})
        assert taken.status == 409 and "already called 'Dana'" in taken.json()["error"]
        trainer.goto(f"{room.url}/trainer/workshops/{wid}")
        row = _row(trainer, "Dana")
        expect(row).to_have_count(1, timeout=20_000)
        button = row.locator("button.remove")
        expect(button).to_have_text("Remove")
        asked = []

        def answer(accept):
            def handle(dialog):
                asked.append(dialog.message)
                dialog.accept() if accept else dialog.dismiss()
            return handle
        trainer.once("dialog", answer(False))
        button.click()
        expect(trainer.locator("#notice")).to_have_text("")  # dismissed: nothing sent
        expect(row).to_have_count(1)
        trainer.once("dialog", answer(True))
        button.click()
        expect(row).to_have_count(0, timeout=20_000)
        expect(trainer.locator("#notice")).to_have_text(
            "Dana was removed from the workshop: their place and name are free, and their browser cannot join it "
            "again", timeout=20_000)
        assert len(asked) == 2 and asked[0].startswith("Dana: Remove this learner from the workshop?"), asked
        again = squatter.post(join, data={"code": code, "name": "Someone else"})
        assert again.status == 409 and "cannot join it again" in again.json()["error"]
        assert colleague.post(join, data={"code": code, "name": "Dana"}).ok  # the place and the name are free
        expect(_row(trainer, "Dana")).to_have_count(1, timeout=20_000)
        trainer.shot("squatter-removed")
    finally:
        api.post(f"{room.url}/api/workshops/{wid}/end", headers=TRAINER, data={})
        for ctx in contexts:
            ctx.close()
