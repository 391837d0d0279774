"""The console's terminal (docker exec -it, docker attach) and a node that dies mid-command,
in a real browser against a real server and sandbox."""
import re

from playwright.sync_api import expect

from labapp.sandbox.base import LABEL, LABEL_NODE

from .test_lesson_page import open_lesson


def console(page, node, line):
    page.select_option("#console-node", node)
    page.fill("#console-line", line)
    page.click("#console button[type=submit]")


def terminal_text(page):
    return page.locator("#tty-screen .xterm-rows")


def terminal_row(page, pattern):
    """The terminal's screen rows (one div each) that match PATTERN."""
    return page.locator("#tty-screen .xterm-rows > div").filter(has_text=re.compile(pattern))


def stty_size(page, marker):
    """Type `stty size` in the terminal; return (rows, cols) as the program inside sees them."""
    page.keyboard.type(f"stty size | sed 's/^/{marker} /'\n")
    row = terminal_row(page, rf"^{marker} \d+ \d+")
    expect(row).to_have_count(1, timeout=15_000)
    _, rows, cols = row.inner_text().split()
    return int(rows), int(cols)


def test_exec_it_gives_a_real_terminal_that_follows_resizes_and_attach_detaches(server, page):
    open_lesson(page, server)
    console(page, "worker1", "docker run -dit --name alpine1 alpine ash")
    expect(page.locator("#output")).to_contain_text("(exit 0)", timeout=60_000)

    console(page, "worker1", "docker exec -it alpine1 ash")
    expect(page.locator("#tty")).to_be_visible(timeout=20_000)
    expect(page.locator("#lab")).to_have_attribute("data-tty", "open")
    expect(page.locator("#tty-command")).to_have_text("docker exec -it alpine1 ash (worker1)")
    expect(terminal_text(page)).to_contain_text("/ #", timeout=20_000)
    page.keyboard.type("echo $((6*7)) $(hostname)\n")
    expect(terminal_row(page, r"^42 \w+")).to_have_count(1, timeout=15_000)
    rows, cols = stty_size(page, "size-one")
    assert rows >= 10 and cols >= 40
    page.shot("exec-it")

    page.set_viewport_size({"width": 1000, "height": 900})  # the terminal refits; the program hears
    page.wait_for_timeout(500)
    rows2, cols2 = stty_size(page, "size-two")
    assert cols2 < cols, (cols, cols2)
    page.keyboard.type("exit\n")
    expect(page.locator("#lab")).to_have_attribute("data-tty", "closed", timeout=20_000)
    expect(page.locator("#output")).to_contain_text("(the session ended (exit 0))")
    page.click("#tty-close")
    expect(page.locator("#tty")).to_be_hidden()

    console(page, "worker1", "docker attach alpine1")
    expect(page.locator("#lab")).to_have_attribute("data-tty", "open", timeout=20_000)
    page.keyboard.type("echo attached-$((1+1))\n")
    expect(terminal_row(page, r"^attached-2")).to_have_count(1, timeout=15_000)
    page.keyboard.press("Control+p")
    page.keyboard.press("Control+q")  # Docker's detach keys: the container keeps running
    expect(page.locator("#lab")).to_have_attribute("data-tty", "closed", timeout=20_000)
    page.shot("attach-detached")
    console(page, "worker1", "docker ps --filter name=alpine1 --format '{{.Names}} {{.State}}'")
    expect(page.locator("#output")).to_contain_text("alpine1 running", timeout=30_000)

    console(page, "manager1", "docker exec -it alpine1 ash | grep x")
    expect(page.locator("#console-refused")).to_contain_text("cannot be piped")


def test_a_node_that_dies_mid_command_is_named_in_the_page(server, page, client):
    open_lesson(page, server)
    sandbox = page.request.get(server + "/api/sandbox").json()["id"]
    assert sandbox
    console(page, "worker2", "docker events")  # runs until stopped
    expect(page.locator("#output")).to_contain_text("[worker2] $ docker events", timeout=20_000)
    page.wait_for_timeout(500)
    [node] = client.containers.list(filters={"label": [f"{LABEL}={sandbox}", f"{LABEL_NODE}=worker2"]})
    node.kill()
    failure = re.compile(rf"node worker2 of sandbox {sandbox} died during the command .*"
                         r"press Reset sandbox for a fresh swarm \(your progress is kept\)")
    expect(page.locator("#sandbox-status")).to_contain_text(failure, timeout=30_000)
    expect(page.locator("#output")).to_contain_text(failure)
    page.shot("node-died")
    console(page, "worker2", "docker ps")
    expect(page.locator("#sandbox-status")).to_contain_text(f"node worker2 of sandbox {sandbox} is not running",
                                                            timeout=20_000)
    page.click("#reset")
    expect(page.locator("#sandbox-status")).to_contain_text("Sandbox ready", timeout=90_000)
    assert page.request.get(server + "/api/sandbox").json()["id"] != sandbox
    console(page, "worker2", "docker info --format '{{.Swarm.LocalNodeState}}'")
    expect(page.locator("#output")).to_contain_text("active", timeout=30_000)
    page.shot("after-reset")
