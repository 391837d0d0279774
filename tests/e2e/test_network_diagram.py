"""The network map's diagram (static/netmap.js) in a real browser, on a real server with a
real sandbox: one learner walks the article's key moments and the test reads the SVG's DOM
at each (bands per overlay, chips on the right bands and bridges, the encrypted mark, what a
failed check names) and keeps a picture of it in test-artifacts/e2e/."""
import os

from playwright.sync_api import expect

from .conftest import ARTIFACTS
from .test_lesson_page import open_lesson, wait_idle

ENCRYPTED = "my-attachable-multi-host-network"

# The diagram as the test reads it: its summary, its bands and bridges, its chips, where
# each chip's dots are and whether each dot sits on the top edge of its network's shape on
# the chip's own line, and every pair of labels that overlap.
READ = """() => {
  const box = document.getElementById("map-diagram");
  const svg = box.querySelector("svg");
  const texts = el => [...el.querySelectorAll("text")].map(t => t.textContent);
  const bbox = el => el.getBBox();
  const bands = [...svg.querySelectorAll("g.netmap-band")].map(g => ({
    name: g.dataset.network, nodes: g.dataset.nodes.split(" "), used: g.dataset.used === "true",
    encrypted: g.dataset.encrypted === "true", attachable: g.dataset.attachable === "true",
    failing: g.classList.contains("netmap-failing"), lock: g.querySelectorAll(".netmap-lock").length,
    hatched: g.querySelectorAll(".netmap-bar-encrypted").length, vxlan: g.querySelectorAll(".netmap-vxlan").length,
    texts: texts(g) }));
  const bridges = [...svg.querySelectorAll("g.netmap-bridge")].map(g => ({
    name: g.dataset.network, node: g.dataset.node, failing: g.classList.contains("netmap-failing") }));
  const chips = [...svg.querySelectorAll("g.netmap-chip")].map(g => ({
    name: g.dataset.name, kind: g.dataset.kind, node: g.dataset.node, service: g.dataset.service || null,
    failing: g.classList.contains("netmap-failing"), flag: g.querySelectorAll(".netmap-flag").length,
    texts: texts(g) }));
  const shape = (net, node) => {
    const band = svg.querySelector(`g.netmap-band[data-network="${CSS.escape(net)}"] > rect`);
    return band || svg.querySelector(
      `g.netmap-bridge[data-network="${CSS.escape(net)}"][data-node="${CSS.escape(node)}"] > rect`);
  };
  const attached = {};
  svg.querySelectorAll("circle.netmap-attach[data-chip]").forEach(dot => {
    const chip = dot.dataset.chip, net = dot.dataset.network, node = dot.dataset.node;
    const cx = Number(dot.getAttribute("cx")), cy = Number(dot.getAttribute("cy"));
    const target = shape(net, node), line = svg.querySelector(`path.netmap-link[data-chip="${CSS.escape(chip)}"]`);
    let onEdge = false, onLine = false;
    if (target) {
      const r = bbox(target);
      onEdge = Math.abs(r.y - cy) < 0.5 && cx > r.x && cx < r.x + r.width;
    }
    if (line) {  // M chipX midY H laneX V lowY: the lane passes through the dot
      const [, , mid, , lane, , low] = line.getAttribute("d").split(" ").map(Number);
      onLine = Math.abs(lane - cx) < 0.5 && cy > mid && cy <= low + 0.5;
    }
    (attached[chip] = attached[chip] || []).push({ net, target: target ? target.parentNode.getAttribute("class") : null,
                                                   onEdge, onLine });
  });
  const labels = [...svg.querySelectorAll("text")].map(t => [t.textContent, t.getBoundingClientRect()]);
  const overlaps = [];
  for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) {
    const [a, ra] = labels[i], [b, rb] = labels[j];
    if (ra.left < rb.right - 0.5 && rb.left < ra.right - 0.5 && ra.top < rb.bottom - 0.5 && rb.top < ra.bottom - 0.5)
      overlaps.push(`${a} / ${b}`);
  }
  const title = document.getElementById(svg.getAttribute("aria-labelledby"));
  return { role: svg.getAttribute("role"), title: title && title.textContent, drawn: Number(box.dataset.drawn),
           nodes: [...svg.querySelectorAll("g.netmap-node")].map(g => [g.dataset.node, g.dataset.role,
                                                                       g.dataset.state]),
           bands, bridges, chips, attached, overlaps, cut: labels.map(l => l[0]).filter(t => t.endsWith("…")),
           scrolls: box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1,
           focusable: svg.querySelectorAll("[tabindex], a").length };
}"""


def read(page):
    return page.evaluate(READ)


def drawn(page):
    return int(page.get_attribute("#map-diagram", "data-drawn") or 0)


def redrawn_after(page, before, timeout=120_000):
    page.wait_for_function("before => Number(document.getElementById('map-diagram').dataset.drawn || 0) > before",
                           arg=before, timeout=timeout)


def run(page, step, nth=0):
    before = drawn(page)
    button = page.locator(f"#step-{step} button.run").nth(nth)
    button.scroll_into_view_if_needed()
    button.click()
    wait_idle(page)
    redrawn_after(page, before)


def console(page, line, node="manager1"):
    before = drawn(page)
    page.select_option("#console-node", node)
    page.fill("#console-line", line)
    page.click("#console button[type=submit]")
    redrawn_after(page, before)


def picture(page, moment):
    """The diagram alone. The pane beside the steps is sticky and taller than the window, so
    the window grows for the picture (its width, which the diagram follows, stays)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 2400})
    try:
        page.locator("#map-diagram").screenshot(path=os.path.join(ARTIFACTS, f"network-diagram-{moment}.png"))
    finally:
        page.set_viewport_size(size)


def band(diagram, name):
    found = [b for b in diagram["bands"] if b["name"] == name]
    assert len(found) == 1, f"one band for {name}: {[b['name'] for b in diagram['bands']]}"
    return found[0]


def chips(diagram, name=None, service=None):
    return [c for c in diagram["chips"]
            if (name is None or c["name"] == name) and (service is None or c["service"] == service)]


def attached_to(diagram, chip):
    """The networks CHIP's dots sit on, each dot checked: on its network's top edge and on
    the chip's own line."""
    dots = diagram["attached"].get(chip, [])
    loose = [d for d in dots if not (d["onEdge"] and d["onLine"])]
    assert not loose, f"{chip}: dots off their network or off the chip's line: {loose}"
    return {d["net"] for d in dots}


def readable(diagram):
    assert diagram["overlaps"] == [], f"labels overlap: {diagram['overlaps']}"
    assert diagram["cut"] == [], f"labels cut short in the article's state: {diagram['cut']}"
    assert not diagram["scrolls"] and diagram["focusable"] == 0  # no scroll region, no tab stop
    assert diagram["role"] == "img" and diagram["title"].startswith("Network diagram: 3 nodes")


def test_the_diagram_follows_the_article_failing_ping_network_add_encrypted_pair(server, page):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_lesson(page, server)
    expect(page.locator("#map-diagram svg[role=img]")).to_be_visible()
    fresh = read(page)
    assert fresh["nodes"] == [["manager1", "manager", "ready"], ["worker1", "worker", "ready"],
                              ["worker2", "worker", "ready"]]
    ingress = band(fresh, "ingress")
    assert not ingress["used"] and ingress["nodes"] == ["manager1", "worker1", "worker2"]  # unused: across all, lighter
    assert ("bridge", "manager1") in {(b["name"], b["node"]) for b in fresh["bridges"]}  # inside its node

    # 1. The failing ping: my-nginx on the overlay, alpine1 on a bridge; checking the step
    #    that needs them to meet fails, and the diagram marks alpine1.
    run(page, "overlay")
    run(page, "service")
    published = "--publish" in page.locator("#step-service .command:has(button.run) code").inner_text()
    run(page, "bridge-ping", 0)
    run(page, "bridge-ping", 1)
    expect(page.locator("#output")).to_contain_text("bad address 'my-nginx'")
    before = drawn(page)
    check = page.locator("#step-connect-ping button.check")
    check.scroll_into_view_if_needed()
    check.click()
    wait_idle(page)
    expect(page.locator("#step-connect-ping .verdict li.fail").first).to_be_visible()
    redrawn_after(page, before)
    failing = read(page)
    picture(page, "1-failing-ping")
    readable(failing)
    tasks = chips(failing, service="my-nginx")
    assert len(tasks) == 5 and all(c["kind"] == "task" for c in tasks)
    net2 = band(failing, "test-cluster-net2")
    assert net2["used"] and not net2["attachable"] and not net2["encrypted"] and net2["lock"] == 0
    assert set(net2["nodes"]) == {c["node"] for c in tasks}
    assert net2["vxlan"] == len(net2["nodes"]) - 1
    assert any("10.0." in t for t in net2["texts"])  # its subnet
    for task in tasks:
        assert attached_to(failing, task["name"]) == {"test-cluster-net2"} | ({"ingress"} if published else set())
    [alpine] = chips(failing, "alpine1")
    assert alpine["kind"] == "container" and alpine["node"] == "manager1"
    assert attached_to(failing, "alpine1") == {"test-net"}  # the user bridge, inside manager1
    [dot] = failing["attached"]["alpine1"]
    assert dot["net"] == "test-net" and dot["target"].startswith("netmap-bridge")
    assert alpine["failing"] and alpine["flag"] == 1, alpine
    assert "alpine1" in failing["title"].split("Named by a failed check:")[1]

    # 2. After --network-add: every task touches both overlays; the new one is attachable.
    run(page, "attachable")
    console(page, "docker service update --network-add test-cluster-net my-nginx")
    expect(page.locator("#output")).to_contain_text("Service converged")
    added = read(page)
    picture(page, "2-network-add")
    readable(added)
    net = band(added, "test-cluster-net")
    assert net["used"] and net["attachable"] and "attachable" in net["texts"]
    tasks = chips(added, service="my-nginx")
    assert len(tasks) == 5
    for task in tasks:
        assert {"test-cluster-net", "test-cluster-net2"} <= attached_to(added, task["name"])
    assert set(net["nodes"]) == {c["node"] for c in tasks}

    # 3. The encrypted pair: one container on each of two nodes, on the encrypted overlay
    #    and the plain one; the encrypted band spans those two nodes and says so.
    run(page, "encrypted")
    unused = band(read(page), ENCRYPTED)
    assert not unused["used"] and unused["nodes"] == ["manager1", "worker1", "worker2"]
    run(page, "encrypted-traffic", 0)
    run(page, "encrypted-traffic", 1)
    pair = read(page)
    picture(page, "3-encrypted-pair")
    readable(pair)
    secret = band(pair, ENCRYPTED)
    assert secret["encrypted"] and secret["attachable"] and secret["used"]
    assert secret["nodes"] == ["manager1", "worker1"] and secret["vxlan"] == 1
    assert secret["lock"] == 1 and secret["hatched"] == 1 and "encrypted" in secret["texts"]
    assert not band(pair, "test-cluster-net")["encrypted"] and band(pair, "test-cluster-net")["lock"] == 0
    for name, node in (("secure-a", "manager1"), ("secure-b", "worker1")):
        [chip] = chips(pair, name)
        assert chip["node"] == node and chip["kind"] == "container"
        assert attached_to(pair, name) == {ENCRYPTED, "test-cluster-net"}
    # The text map is still there, with the same facts.
    expect(page.locator("#map-networks")).to_contain_text(ENCRYPTED)
    expect(page.locator("#map-nodes")).to_contain_text("secure-b")
    assert errors == []
