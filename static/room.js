// The room on the trainer's dashboard: a stacked bar per step of the workshop (learners who
// passed it, are on it working, are on it stuck, have not reached it) drawn as SVG, and the
// same figures as tables (learners per step; time and the most common failing checks).
// The figures are the server's (labapp/workshop/room.py), sent with each roster.
//
// Every text that comes from a learner or a node (names, failing checks' reasons) is set
// with textContent (or an attribute value), never parsed as markup.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const KINDS = ["passed", "working", "stuck", "not_reached"];
  const MARKS = { passed: "✓", working: "▸", stuck: "⚠", not_reached: "" };  // not colour alone
  const FILLS = { working: "url(#room-hatch)", stuck: "url(#room-cross)" };
  const W = 800, LABEL = 300, BAR = 480, ROW = 30, HEIGHT = 20, TOP = 34;

  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, String(v)));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // SECONDS as m:ss (h:mm:ss past an hour); "" for none.
  function clock(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
  }
  function said(template, n) { return template.replace("{n}", String(n)); }
  function clip(text, most) { return text.length > most ? text.slice(0, most - 1) + "…" : text; }

  function stepName(room, s) {
    const lessons = new Set(room.steps.map(x => x.lesson));
    return `${lessons.size > 1 ? s.lesson + " · " : ""}${s.number}. ${s.title}`;
  }

  function patterns() {
    const defs = svg("defs");
    const hatch = svg("pattern", { id: "room-hatch", width: 8, height: 8, patternUnits: "userSpaceOnUse",
      patternTransform: "rotate(45)" });
    hatch.append(svg("rect", { width: 8, height: 8, class: "room-hatch-ground" }),
      svg("line", { x1: 4, y1: 0, x2: 4, y2: 8, class: "room-hatch-line" }));
    const cross = svg("pattern", { id: "room-cross", width: 8, height: 8, patternUnits: "userSpaceOnUse" });
    cross.append(svg("rect", { width: 8, height: 8, class: "room-cross-ground" }),
      svg("path", { d: "M0,0 L8,8 M8,0 L0,8", class: "room-cross-line" }));
    defs.append(hatch, cross);
    return defs;
  }

  function chart(room, t) {
    const height = TOP + room.steps.length * ROW + 8;
    const root = svg("svg", { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-labelledby": "room-chart-title",
      class: "room-svg" });
    root.append(svg("title", { id: "room-chart-title" }, `${t.chart}: ${said(room.learners === 1 ? t.learner : t.learners, room.learners)}`),
      patterns());
    // The legend: a swatch (its pattern) and the word for each kind.
    const legend = svg("g", { class: "room-legend" });
    let x = LABEL;
    KINDS.forEach(kind => {
      legend.append(svg("rect", { x, y: 6, width: 16, height: 16, class: `room-seg room-${kind}`,
        ...(FILLS[kind] ? { fill: FILLS[kind] } : {}) }));
      const word = `${MARKS[kind] ? MARKS[kind] + " " : ""}${t[kind]}`;
      legend.append(svg("text", { x: x + 22, y: 19, class: "room-legend-text" }, word));
      x += 34 + [...word].reduce((w, c) => w + (c.codePointAt(0) > 0x2e80 ? 14 : 8), 0);
    });
    root.append(legend);
    const scale = room.learners ? BAR / room.learners : 0;
    room.steps.forEach((s, i) => {
      const y = TOP + i * ROW;
      const bar = svg("g", { class: "room-bar", "data-lesson": s.lesson, "data-step": s.step,
        "data-passed": s.passed, "data-working": s.working, "data-stuck": s.stuck, "data-not-reached": s.not_reached });
      const name = stepName(room, s);
      bar.append(svg("title", {}, `${name}: ${KINDS.map(k => `${t[k]} ${s[k]}`).join(", ")}`));
      bar.append(svg("text", { x: LABEL - 8, y: y + HEIGHT - 5, class: "room-label", "text-anchor": "end" },
        clip(name, 38)));
      bar.append(svg("rect", { x: LABEL, y, width: BAR, height: HEIGHT, class: "room-track" }));
      let at = LABEL;
      KINDS.forEach(kind => {
        const width = s[kind] * scale;
        if (!width) return;
        bar.append(svg("rect", { x: at, y, width, height: HEIGHT, class: `room-seg room-${kind}`,
          "data-kind": kind, ...(FILLS[kind] ? { fill: FILLS[kind] } : {}) }));
        const count = `${MARKS[kind]}${s[kind]}`, chip = 10 + count.length * 8;
        if (width >= chip + 4 && kind !== "not_reached") {  // on a white chip: dark text on white (AA)
          bar.append(svg("rect", { x: at + (width - chip) / 2, y: y + 2, width: chip, height: HEIGHT - 4, rx: 3,
            class: "room-chip" }));
          bar.append(svg("text", { x: at + width / 2, y: y + HEIGHT - 5, "text-anchor": "middle",
            class: "room-count", "data-kind": kind }, count));
        }
        at += width;
      });
      root.append(bar);
    });
    return root;
  }

  function where(room, body) {
    const rows = room.steps.map(s => {
      const tr = el("tr");
      tr.dataset.step = s.step;
      const th = el("th", "", stepName(room, s));
      th.scope = "row";
      tr.append(th, ...KINDS.map(k => el("td", `room-${k}-count`, String(s[k]))));
      return tr;
    });
    body.replaceChildren(...rows);
  }

  function steps(room, body, t) {
    const rows = room.steps.map(s => {
      const tr = el("tr");
      tr.dataset.step = s.step;
      const th = el("th", "", stepName(room, s));
      th.scope = "row";
      const time = s.time;
      const median = el("td", "room-median", time.median === null ? "—" : clock(time.median));
      const slowest = el("td", "room-slowest");
      if (time.slowest === null) {
        slowest.textContent = "—";
      } else {
        slowest.append(el("span", "room-slowest-time", clock(time.slowest)), " ",
          el("span", "room-slowest-name", time.slowest_name || ""));
        if (time.slowest_ongoing) slowest.append(" ", el("span", "room-ongoing", `(${t.ongoing})`));
      }
      if (time.ongoing) median.append(" ", el("span", "room-ongoing-note", `(${said(t.timedOngoing, time.ongoing)})`));
      const reasons = el("td", "room-reasons");
      if (!s.reasons.length) {
        reasons.textContent = "—";
      } else {
        const list = el("ul", "room-reason-list");
        s.reasons.forEach(r => {
          const li = el("li", "room-reason");
          li.dataset.check = r.check;
          li.dataset.learners = r.learners;
          li.append(el("strong", "room-reason-count", said(r.learners === 1 ? t.learner : t.learners, r.learners)),
            ": ", el("span", "room-reason-check", r.check));
          if (r.reason) li.append(" — ", el("q", "room-reason-said", r.reason));
          list.append(li);
        });
        reasons.append(list);
      }
      tr.append(th, median, slowest, reasons);
      return tr;
    });
    body.replaceChildren(...rows);
  }

  // Draw ROOM (the server's figures) into SECTION (#room: its data-msg-* texts, the chart's
  // box and the two tables' bodies). Nothing is redrawn when the figures did not change.
  const drawn = new WeakMap();  // section -> the figures it shows
  function draw(section, room) {
    const shown = JSON.stringify({ ...room, now: 0 });
    if (drawn.get(section) === shown) return;
    drawn.set(section, shown);
    const d = section.dataset;
    const t = { chart: d.msgChart, passed: d.msgPassed, working: d.msgWorking, stuck: d.msgStuck,
      not_reached: d.msgNotReached, learner: d.msgLearner, learners: d.msgLearners, ongoing: d.msgOngoing,
      timedOngoing: d.msgTimedOngoing };
    section.querySelector(".room-chart-box").replaceChildren(chart(room, t));
    where(room, section.querySelector("#room-table tbody"));
    steps(room, section.querySelector("#room-steps tbody"), t);
  }

  window.labapp = Object.assign(window.labapp || {}, { room: Object.freeze({ draw, clock }) });
})();
