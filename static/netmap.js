// The network map as a diagram (SVG), redrawn on every `map` event beside the text map:
// the nodes as columns; each overlay (swarm-scope) network as ONE band across the nodes that
// hold a task or container of it (across all of them, lighter, when none does), with a
// VXLAN mark between those nodes; local bridges inside their node; tasks and containers as
// chips, each with a line down to every network it is on (a dot where it attaches). Names a
// failed check mentions are marked. Every name is the learner's: it is only ever text
// (textContent, setAttribute), never markup.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  // Sizes in px. Names are drawn in a monospace font, so their width can be told in advance
  // (CHAR); each label is then measured once drawn and shortened if it still does not fit.
  const PAD = 6, GAP = 30, HEAD = 38, CHIP = 20, CHIP_GAP = 6, LANE = 7, LINE = 15, BAR = 14, DOT = 2.75;
  const CHAR = { 11: 6.7, 10: 6.1 };
  const HUES = 4;  // band colours (netmap.css, see hueOf); never the only mark of anything

  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (v !== null && v !== undefined) node.setAttribute(k, String(v)); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function tooltip(node, text) { node.appendChild(svg("title", {}, text)); return node; }
  // The width of TEXT at SIZE px, told in advance: a monospace character, or a wide one (Hangul,
  // CJK: a whole em).
  function wide(ch) { return ch.codePointAt(0) >= 0x1100; }
  function textWidth(text, size) {
    let width = 0;
    for (const ch of text) width += wide(ch) ? size : CHAR[size];
    return width;
  }
  // TEXT cut with "…" to fit WIDTH at SIZE px, by estimate: the label drawn is then measured (fit).
  function cut(text, width, size) {
    if (textWidth(text, size) <= width) return text;
    let out = "", used = CHAR[size];
    for (const ch of text) {
      used += wide(ch) ? size : CHAR[size];
      if (used > width) break;
      out += ch;
    }
    return (out || text[0]) + "…";
  }
  function fit(node, full, width) {
    if (!node.getComputedTextLength) return;
    let text = node.textContent;
    let n = text.endsWith("…") ? text.length - 1 : full.length;
    while (n > 1 && node.getComputedTextLength() > width) {
      n -= 1;
      node.textContent = full.slice(0, n) + "…";
    }
  }
  // Labels drawn off the page wait here to be measured once the picture is on it.
  let unmeasured = [];
  function label(parent, x, y, text, width, size, cls) {
    const node = svg("text", { x, y, class: cls }, cut(text, width, size));
    parent.appendChild(node);
    unmeasured.push([node, text, width]);
    return node;
  }
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (all, key) => (key in values ? String(values[key]) : all));
  }
  // Words of the page's language, from the container's data-msg-* attributes.
  function words(box) {
    const d = box.dataset;
    return {
      summary: d.msgSummary || "Network diagram: {nodes} nodes; overlay networks: {overlays}; {chips} tasks and containers. The same map follows as text.",
      none: d.msgNone || "none",
      failing: d.msgFailing || "Named by a failed check: {names}.",
      encrypted: d.msgEncrypted || "encrypted", attachable: d.msgAttachable || "attachable",
      unused: d.msgUnused || "no task or container on it", stopped: d.msgStopped || "not running",
      task: d.msgTask || "task", container: d.msgContainer || "container", attached: d.msgAttached || "attached",
      flagged: d.msgFlagged || "named by a failed check",
    };
  }

  // What the failed checks are about: each one's subject (the name in "container alpine1")
  // and the NAMES its reason mentions, without its asides ("(it has bridge, host, ...)");
  // SUBJECTS_ONLY (nodes: "... on manager1" says where, not what failed) only as a subject.
  function blamed(checks, names, subjectsOnly) {
    const out = new Set();
    (checks || []).forEach(c => {
      const subject = c.kind && c.name && c.name.startsWith(c.kind + " ") ? c.name.slice(c.kind.length + 1) : "";
      const reason = String(c.reason || "").replace(/\([^)]*\)/g, "");
      if (subject && subjectsOnly && subjectsOnly.has(subject)) out.add(subject);
      names.forEach(name => {
        const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        if (name === subject || new RegExp(`(^|[^\\w.-])${escaped}([^\\w.-]|$)`).test(reason)) out.add(name);
      });
    });
    return out;
  }

  function model(map) {
    const nodes = map.nodes || [];
    const column = new Map(nodes.map((n, i) => [n.name, i]));
    const overlays = (map.networks || []).filter(n => n.scope === "swarm");
    const isOverlay = new Set(overlays.map(n => n.name));
    const locals = nodes.map(n => (map.networks || []).filter(net => net.scope !== "swarm" && net.node === n.name));
    const chips = nodes.map(() => []);
    (map.services || []).forEach(s => (s.tasks || []).forEach(t => {
      if (!column.has(t.node)) return;  // not placed on a node yet
      chips[column.get(t.node)].push({
        kind: "task", name: t.slot ? `${s.name}.${t.slot}` : s.name, group: s.name, node: t.node,
        networks: t.networks || s.networks || [], addresses: t.addresses || {}, live: t.state === "running",
        state: t.state });
    }));
    (map.containers || []).forEach(c => {
      if (!column.has(c.node)) return;
      chips[column.get(c.node)].push({
        kind: "container", name: c.name, group: c.name, node: c.node, networks: c.networks || [],
        addresses: c.addresses || {}, live: c.running, state: c.running ? "running" : "stopped" });
    });
    chips.forEach((list, i) => {
      list.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "task" ? -1 : 1) || a.name.localeCompare(b.name, "en", { numeric: true }));
      list.forEach(chip => {
        const here = new Set(locals[i].map(n => n.name));
        chip.attach = chip.networks.filter(net => isOverlay.has(net) || here.has(net));
      });
    });
    // An overlay spans the nodes that hold one of its tasks or containers; an unused one, all.
    const bands = !nodes.length ? [] : overlays.map(net => {
      const span = [];
      chips.forEach((list, i) => { if (list.some(c => c.attach.includes(net.name))) span.push(i); });
      return { net, used: span.length > 0, span: span.length ? span : nodes.map((n, i) => i) };
    });
    bands.sort((a, b) => (b.used - a.used) || a.net.name.localeCompare(b.net.name, "en"));
    return { nodes, locals, chips, bands };
  }

  function draw(box, map, checks) {
    box.netmapLast = { map, checks };
    unmeasured = [];
    const w = words(box);
    const m = model(map);
    // Never laid out narrower than 460 px: a narrower pane shows it scaled down, whole.
    const width = Math.max(460, Math.floor(box.clientWidth || 480));
    const n = Math.max(1, m.nodes.length);
    const colW = (width - 2 * PAD - (n - 1) * GAP) / n;
    const colX = i => PAD + i * (colW + GAP);
    const names = new Set();
    m.bands.forEach(b => names.add(b.net.name));
    m.locals.forEach(list => list.forEach(x => names.add(x.name)));
    m.chips.forEach(list => list.forEach(c => { names.add(c.name); names.add(c.group); }));
    const flagged = blamed(checks, names, new Set(m.nodes.map(x => x.name)));
    const isFlagged = (...candidates) => candidates.some(x => flagged.has(x));

    const root = svg("svg", { role: "img", "aria-labelledby": "netmap-title", class: "netmap-svg" });
    const overlayNames = m.bands.map(b => b.net.subnet ? `${b.net.name} (${b.net.subnet})` : b.net.name);
    let summary = format(w.summary, { nodes: m.nodes.length, overlays: overlayNames.join(", ") || w.none,
                                      chips: m.chips.reduce((sum, list) => sum + list.length, 0) });
    if (flagged.size) summary += " " + format(w.failing, { names: [...flagged].join(", ") });
    root.appendChild(svg("title", { id: "netmap-title" }, summary));
    const defs = root.appendChild(svg("defs"));
    const hatch = defs.appendChild(svg("pattern", { id: "netmap-hatch", width: 6, height: 6,
                                                    patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }));
    hatch.appendChild(svg("rect", { width: 6, height: 6, class: "netmap-hatch-bg" }));
    hatch.appendChild(svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "netmap-hatch-line" }));
    const layer = cls => root.appendChild(svg("g", { class: cls }));
    const gNodes = layer("netmap-nodes"), gLinks = layer("netmap-links"), gBridges = layer("netmap-bridges"),
      gBands = layer("netmap-bands"), gChips = layer("netmap-chips"), gDots = layer("netmap-dots"),
      gLegend = layer("netmap-legend");

    // Chips, top of each node column; each attached one has its own lane at the column's left
    // (the top chip the leftmost), so no line crosses another chip or its stub.
    const chipTop = PAD + HEAD + 6;
    let y = chipTop;
    m.chips.forEach((list, i) => {
      const lanes = list.filter(c => c.attach.length).length;
      const chipX = colX(i) + 8 + lanes * LANE + 2;
      let lane = 0;
      list.forEach((chip, k) => {
        chip.x = chipX;
        chip.y = chipTop + k * (CHIP + CHIP_GAP);
        chip.w = colX(i) + colW - 6 - chipX;
        chip.lane = chip.attach.length ? colX(i) + 8 + (lane++) * LANE : null;
      });
      y = Math.max(y, chipTop + list.length * (CHIP + CHIP_GAP));
    });
    // Local bridges, inside their node, under its chips.
    const targets = new Map();  // "node|network" -> top edge y of what a chip's line attaches to
    const bridgeTop = y + 4;
    let bottom = bridgeTop;
    m.locals.forEach((list, i) => {
      let by = bridgeTop;
      const x = colX(i) + 4, bw = colW - 8;
      list.forEach(net => {
        const oneLine = textWidth(`${net.name} ${net.subnet || ""}`, 10) <= bw - 10;
        const h = oneLine || !net.subnet ? 17 : 29;
        const g = gBridges.appendChild(svg("g", { class: "netmap-bridge" + (isFlagged(net.name) ? " netmap-failing" : ""),
                                                  "data-network": net.name, "data-node": net.node, "data-driver": net.driver }));
        tooltip(g, `${net.name} · ${net.driver} · ${net.node}${net.subnet ? " · " + net.subnet : ""}`);
        g.appendChild(svg("rect", { x, y: by, width: bw, height: h, rx: 3, class: "netmap-bridge-body" }));
        if (oneLine) {
          label(g, x + 5, by + 12, net.subnet ? `${net.name} ${net.subnet}` : net.name, bw - 10, 10, "netmap-small");
        } else {
          label(g, x + 5, by + 12, net.name, bw - 10, 10, "netmap-small");
          label(g, x + 5, by + 24, net.subnet, bw - 10, 10, "netmap-small netmap-muted");
        }
        targets.set(`${net.node}|${net.name}`, by);
        by += h + 5;
      });
      bottom = Math.max(bottom, by);
    });

    // Overlay bands, across the nodes they span.
    let bandY = bottom + 6;
    m.bands.forEach(band => {
      const net = band.net, first = band.span[0], last = band.span[band.span.length - 1];
      const x1 = colX(first) - 3, x2 = colX(last) + colW + 3, bw = x2 - x1;
      const failing = isFlagged(net.name);
      const tokens = [];
      if (net.subnet) tokens.push({ text: net.subnet });
      if (net.attachable) tokens.push({ text: w.attachable, cls: "netmap-attachable" });
      if (net.encrypted) tokens.push({ text: w.encrypted, lock: true, cls: "netmap-encrypted" });
      if (!band.used) tokens.push({ text: w.unused, cls: "netmap-muted" });
      // Lines: the name alone, then the traits, as many to a line as fit.
      const room = bw - 12, lines = [[]];
      let used = 0;
      tokens.forEach(t => {
        t.w = textWidth(t.text, 10) + (t.lock ? 13 : 0);
        const need = (lines[lines.length - 1].length ? 12 : 0) + t.w;
        if (lines[lines.length - 1].length && used + need > room) { lines.push([]); used = 0; }
        used += (lines[lines.length - 1].length ? 12 : 0) + t.w;
        lines[lines.length - 1].push(t);
      });
      const textLines = 1 + (tokens.length ? lines.length : 0);
      const barY = bandY + 5 + textLines * LINE + 3;
      const h = barY + BAR + 4 - bandY;
      const cls = ["netmap-band", `netmap-hue-${hueOf(net.name, m.bands)}`];
      if (!band.used) cls.push("netmap-unused");
      if (net.encrypted) cls.push("netmap-band-encrypted");
      if (failing) cls.push("netmap-failing");
      const spanned = band.span.map(i => m.nodes[i].name);
      const g = gBands.appendChild(svg("g", {
        class: cls.join(" "), "data-network": net.name, "data-nodes": spanned.join(" "), "data-used": String(band.used),
        "data-encrypted": String(!!net.encrypted), "data-attachable": String(!!net.attachable) }));
      tooltip(g, [net.name, "overlay", net.subnet, net.attachable ? w.attachable : "", net.encrypted ? w.encrypted : "",
                  band.used ? spanned.join(", ") : w.unused, failing ? w.flagged : ""].filter(Boolean).join(" · "));
      g.appendChild(svg("rect", { x: x1, y: bandY, width: bw, height: h, rx: 4, class: "netmap-band-body" }));
      let nameX = x1 + 6, nameRoom = room;
      if (failing) {
        mark(g, x1 + 12, bandY + 11);
        nameX += 14; nameRoom -= 14;
      }
      label(g, nameX, bandY + 5 + 11, net.name, nameRoom, 11, "netmap-name");
      if (tokens.length) {
        lines.forEach((line, li) => {
          let tx = x1 + 6;
          const ty = bandY + 5 + (li + 1) * LINE + 10;
          line.forEach(t => {
            if (t.lock) { lock(g, tx, ty - 9); tx += 13; }
            label(g, tx, ty, t.text, Math.max(CHAR[10], x2 - 6 - tx), 10, "netmap-small " + (t.cls || ""));
            tx += t.w - (t.lock ? 13 : 0) + 12;
          });
        });
      }
      // The bar: the tunnel itself (hatched when encrypted), VXLAN between each pair of its nodes.
      g.appendChild(svg("rect", { x: x1 + 3, y: barY, width: bw - 6, height: BAR, rx: 2,
                                  class: net.encrypted ? "netmap-bar netmap-bar-encrypted" : "netmap-bar" }));
      for (let k = 1; k < band.span.length; k++) {
        const a = band.span[k - 1], b = band.span[k];
        const cx = (colX(a) + colW + colX(b)) / 2;
        const vx = g.appendChild(svg("g", { class: "netmap-vxlan" }));
        vx.appendChild(svg("rect", { x: cx - 17, y: barY + 1.5, width: 34, height: BAR - 3, rx: 2, class: "netmap-vxlan-body" }));
        vx.appendChild(svg("text", { x: cx, y: barY + BAR - 4, "text-anchor": "middle", class: "netmap-tiny" }, "VXLAN"));
      }
      band.span.forEach(i => targets.set(`${m.nodes[i].name}|${net.name}`, bandY));
      bandY += h + 6;
    });
    const nodesBottom = bandY + 2;

    // The nodes: a column each, behind everything.
    m.nodes.forEach((node, i) => {
      const x = colX(i);
      const down = node.state !== "ready";
      const cls = ["netmap-node", node.role === "manager" ? "netmap-manager" : "netmap-worker"];
      if (down) cls.push("netmap-down");
      if (isFlagged(node.name)) cls.push("netmap-failing");
      const g = gNodes.appendChild(svg("g", { class: cls.join(" "), "data-node": node.name, "data-role": node.role,
                                              "data-state": node.state }));
      tooltip(g, `${node.name} · ${node.role} · ${node.state}`);
      g.appendChild(svg("rect", { x, y: PAD, width: colW, height: nodesBottom - PAD, rx: 6, class: "netmap-node-body" }));
      label(g, x + 7, PAD + 15, node.name, colW - 14, 11, "netmap-name");
      label(g, x + 7, PAD + 29, `${node.role === "manager" ? "★ " : ""}${node.role} · ${node.state}${down ? " ✕" : ""}`,
            colW - 14, 10, "netmap-small" + (down ? " netmap-down-word" : ""));
    });

    // Chips, their lanes and the dots where they attach.
    m.chips.forEach(list => list.forEach(chip => {
      const failing = isFlagged(chip.name, chip.group);
      const cls = ["netmap-chip", `netmap-${chip.kind}`];
      if (!chip.live) cls.push("netmap-stopped");
      if (failing) cls.push("netmap-failing");
      const g = gChips.appendChild(svg("g", { class: cls.join(" "), "data-name": chip.name, "data-kind": chip.kind,
                                              "data-node": chip.node, "data-networks": chip.attach.join(" ") }));
      if (chip.kind === "task") g.setAttribute("data-service", chip.group);
      const where = chip.networks.map(net => chip.addresses[net] ? `${net} ${chip.addresses[net]}` : net).join(", ");
      tooltip(g, [chip.kind === "task" ? `${chip.name} (${w.task}: ${chip.group})` : `${chip.name} (${w.container})`,
                  chip.node, where, chip.live ? "" : `${w.stopped}: ${chip.state}`, failing ? w.flagged : ""]
        .filter(Boolean).join(" · "));
      g.appendChild(svg("rect", { x: chip.x, y: chip.y, width: chip.w, height: CHIP, rx: chip.kind === "task" ? 2 : CHIP / 2,
                                  class: "netmap-chip-body" }));
      let room = chip.w - 12, tx = chip.x + (chip.kind === "task" ? 6 : 8);
      if (failing) { mark(g, chip.x + chip.w - 1, chip.y + CHIP / 2); room -= 6; }  // on its right edge
      label(g, tx, chip.y + 14, chip.name, room - (chip.kind === "task" ? 0 : 2), 11, "netmap-name");
      if (chip.lane === null) return;
      const ends = chip.attach.map(net => targets.get(`${chip.node}|${net}`)).filter(v => v !== undefined);
      if (!ends.length) return;
      const mid = chip.y + CHIP / 2, low = Math.max(...ends);
      gLinks.appendChild(svg("path", { d: `M ${chip.x} ${mid} H ${chip.lane} V ${low}`, class: "netmap-link",
                                       "data-chip": chip.name, "data-node": chip.node }));
      chip.attach.forEach(net => {
        const top = targets.get(`${chip.node}|${net}`);
        if (top === undefined) return;
        gDots.appendChild(svg("circle", { cx: chip.lane, cy: top, r: DOT, class: "netmap-attach",
                                          "data-chip": chip.name, "data-network": net, "data-node": chip.node }));
      });
    }));

    // The legend: shapes, not colours, say what is what.
    let lx = PAD, ly = nodesBottom + 8;
    const item = (shape, text) => {
      const tw = textWidth(text, 10);
      if (lx + 22 + tw > width - PAD && lx > PAD) { lx = PAD; ly += 16; }
      gLegend.appendChild(shape(lx, ly));
      label(gLegend, lx + 20, ly + 10, text, width - PAD - lx - 20, 10, "netmap-small");
      lx += 20 + tw + 14;
    };
    item((x, yy) => svg("rect", { x, y: yy, width: 16, height: 12, rx: 1, class: "netmap-chip-body netmap-legend-task" }), w.task);
    item((x, yy) => svg("rect", { x, y: yy, width: 16, height: 12, rx: 6, class: "netmap-chip-body netmap-legend-container" }), w.container);
    item((x, yy) => svg("circle", { cx: x + 8, cy: yy + 6, r: DOT, class: "netmap-attach" }), w.attached);
    item((x, yy) => svg("rect", { x, y: yy, width: 16, height: 12, class: "netmap-bar-encrypted" }), w.encrypted);
    const height = ly + 12 + PAD;
    root.setAttribute("viewBox", `0 0 ${width} ${height}`);
    root.setAttribute("width", String(width));
    root.setAttribute("height", String(height));

    // Swap in the new picture, then measure its labels (a label is measured only on the
    // page): one the estimate let through too long is shortened.
    box.replaceChildren(root);
    const drawn = unmeasured;
    unmeasured = [];
    drawn.forEach(([node, text, room]) => fit(node, text, room));
    box.dataset.drawn = String(Number(box.dataset.drawn || 0) + 1);
    return root;
  }

  // A "!" in a circle: a failed check names this.
  function mark(parent, cx, cy) {
    const g = parent.appendChild(svg("g", { class: "netmap-flag" }));
    g.appendChild(svg("circle", { cx, cy, r: 6, class: "netmap-flag-body" }));
    g.appendChild(svg("text", { x: cx, y: cy + 3.5, "text-anchor": "middle", class: "netmap-flag-text" }, "!"));
  }
  // A padlock, 10 px wide, its top left at (x, y).
  function lock(parent, x, y) {
    const g = parent.appendChild(svg("g", { class: "netmap-lock" }));
    g.appendChild(svg("path", { d: `M ${x + 2.5} ${y + 5} V ${y + 3} a 2.5 2.5 0 0 1 5 0 V ${y + 5}`, class: "netmap-lock-shackle" }));
    g.appendChild(svg("rect", { x: x + 1, y: y + 5, width: 8, height: 6, rx: 1, class: "netmap-lock-body" }));
  }

  // A band keeps its colour from one picture to the next; a new one takes the colour fewest
  // of the bands shown have.
  const hues = new Map();
  function hueOf(name, bands) {
    if (!hues.has(name)) {
      const count = new Array(HUES).fill(0);
      bands.forEach(b => { if (hues.has(b.net.name)) count[hues.get(b.net.name)] += 1; });
      hues.set(name, count.indexOf(Math.min(...count)));
    }
    return hues.get(name);
  }

  function clear(box) {
    box.netmapLast = null;
    box.replaceChildren();
  }

  // Redrawn when the pane changes width (the layout follows it; nothing scrolls sideways).
  const watched = new WeakSet();
  function watch(box) {
    if (watched.has(box) || typeof ResizeObserver === "undefined") return;
    watched.add(box);
    let width = box.clientWidth, pending = false;
    new ResizeObserver(() => {
      if (box.clientWidth === width || pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        width = box.clientWidth;
        if (box.netmapLast) draw(box, box.netmapLast.map, box.netmapLast.checks);
      });
    }).observe(box);
  }

  window.labapp = Object.assign(window.labapp || {}, { netmap: Object.freeze({
    draw(box, map, checks) { watch(box); return draw(box, map, checks); }, clear, blamed, model }) });
})();
