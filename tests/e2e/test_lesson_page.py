"""A learner in a real browser, on a real server with a real sandbox."""
import re

from playwright.sync_api import expect

LESSON = "/lessons/overlay-attachable?lang=en"


def open_lesson(page, server, lang="en"):
    page.goto(server + LESSON.replace("lang=en", f"lang={lang}"))
    expect(page.locator("#sandbox-status")).to_contain_text(
        re.compile("Sandbox ready|샌드박스 준비 완료"), timeout=60_000)
    expect(page.locator("#lab")).to_have_attribute("data-busy", "0")


def wait_idle(page, timeout=120_000):
    expect(page.locator("#lab")).to_have_attribute("data-busy", "0", timeout=timeout)


def test_check_before_running_shows_the_failing_reason(server, page):
    open_lesson(page, server)
    step = page.locator("#step-overlay")
    step.locator("button.check").click()
    wait_idle(page)
    expect(step.locator(".verdict li.fail").first).to_be_visible()
    expect(step.locator(".verdict")).to_contain_text("there is no network test-cluster-net2")
    expect(step.locator(".verdict")).to_contain_text("nothing has run yet")
    assert step.locator(".verdict li", has_text="nothing has run yet").count() == 1  # said once, with (×N)
    expect(page.locator("#map-nodes")).to_contain_text("manager1 · manager · ready")
    # The map outlines what the failed check is about, not the networks its aside lists.
    expect(page.locator("#map")).to_have_attribute("data-drawn", re.compile(r"^([2-9]|\d\d+)$"))  # redrawn after Check
    expect(page.locator("#map-networks tbody tr")).not_to_have_count(0)
    assert page.locator("#map-networks tr.focus").count() == 0
    step.scroll_into_view_if_needed()
    page.shot("check-before-run")


def test_a_refused_console_line_shows_its_reason(server, page):
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    open_lesson(page, server, lang="ko")
    assert any("/socket.io/" in url and "transport=websocket" in url for url in sockets), sockets
    expect(page.locator("h1")).to_contain_text("오버레이 네트워크")
    page.fill("#console-line", "docker run --privileged alpine")
    page.click("#console button[type=submit]")
    expect(page.locator("#console-refused")).to_contain_text("--privileged 옵션은 컨테이너에 노드의 모든 권한을 줍니다")
    page.shot("console-refused")
    page.fill("#console-line", "docker node ls")
    page.click("#console button[type=submit]")
    expect(page.locator("#output")).to_contain_text("Leader", timeout=30_000)
    page.shot("console-allowed")


def test_a_learner_completes_the_article_lesson_and_keeps_progress_on_reload(server, page):
    open_lesson(page, server)
    page.shot("ready")
    steps = page.locator("section.step")
    for i in range(steps.count()):
        step = steps.nth(i)
        step_id = step.get_attribute("data-step")
        for button in step.locator("button.run").all():
            button.scroll_into_view_if_needed()
            button.click()
            wait_idle(page)
        step.locator("button.check").click()
        wait_idle(page)
        verdict = step.locator(".verdict")
        expect(verdict.locator("li").first).to_be_visible()
        assert verdict.locator("li.fail").count() == 0, f"{step_id}: {verdict.inner_text()}"
        expect(step.locator(".step-status")).to_have_attribute("data-status", "passed")
        if step_id in ("bridge-ping", "not-attachable", "connect-ping", "encrypted-traffic"):
            step.scroll_into_view_if_needed()
            page.shot(step_id)
    expect(page.locator("#map-nodes")).to_contain_text("alpine1")
    expect(page.locator("#map-nodes")).to_contain_text("my-nginx (task)")
    expect(page.locator("#map-networks")).to_contain_text("my-attachable-multi-host-network")
    page.locator("#map").scroll_into_view_if_needed()
    page.shot("network-map")
    expect(page.locator("#output")).to_contain_text("bad address 'my-nginx'")
    expect(page.locator("#output")).to_contain_text("not manually attachable")
    expect(page.locator("#output")).to_contain_text("2 packets received")
    page.reload()
    expect(page.locator("#step-connect-ping .step-status")).to_have_attribute("data-status", "passed")
    assert page.locator('.step-status[data-status="passed"]').count() == steps.count()
    page.shot("reloaded")
    page.goto(server + "/?lang=en")
    expect(page.locator(".catalogue")).to_contain_text("11/11")
    page.shot("catalogue")


def test_malformed_and_oversized_socket_messages_get_answers_and_the_page_keeps_working(server, page):
    open_lesson(page, server)
    answers = page.evaluate("""async () => {
      const s = io("/lab", { transports: ["websocket"], reconnection: false });
      await new Promise(ok => s.on("connect", ok));
      const next = (ev) => new Promise(ok => s.once(ev, data => ok(data)));
      const out = {};
      s.emit("run", "not a dict");                      out.notDict = (await next("failure")).message;
      s.emit("check", { lesson: "nope", step: "x" });   out.noLesson = (await next("failure")).message;
      s.emit("run", { lesson: "overlay-attachable", step: "swarm", block: "zero" });
      out.badBlock = (await next("failure")).message;
      s.emit("tty_resize", { cols: 1e9, rows: -1 });    out.badSize = (await next("failure")).message;
      s.emit("console", { lesson: "overlay-attachable", node: "manager1", line: "x".repeat(100000) });
      out.oversized = await next("disconnect");          // above 64 KiB: the server drops this socket
      return out;
    }""")
    assert "the message needs 'lesson'" in answers["notDict"]
    assert "there is no lesson 'nope'" in answers["noLesson"]
    assert "the message needs 'block' (int)" in answers["badBlock"]
    assert "a terminal size is whole columns (2-500) and rows (2-200)" in answers["badSize"]
    assert answers["oversized"] in ("transport close", "io server disconnect", "transport error"), answers
    # The page's own connection is untouched and still runs commands.
    page.fill("#console-line", "docker node ls")
    page.click("#console button[type=submit]")
    expect(page.locator("#output")).to_contain_text("Leader", timeout=30_000)
    assert page.locator("#console-line").get_attribute("maxlength") == "2000"


def test_a_script_that_did_not_load_is_said_not_waited_for(server, page):
    """A dropped request for one of the page's scripts (Socket.IO's, here) leaves no page
    saying "Starting your sandbox…" for ever: it says to reload, and makes no sandbox."""
    page.route("**/vendor/socket.io.min.js", lambda route: route.abort())
    page.goto(server + "/lessons/overlay-attachable?lang=ko")
    expect(page.locator("#sandbox-status")).to_have_text("이 페이지가 스크립트를 모두 불러오지 못했습니다. 새로 고침하세요.")
    assert page.locator("#lab").get_attribute("data-sandbox") == "broken"
