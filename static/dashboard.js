// The trainer's dashboard: the roster live over Socket.IO (/trainer), the room per step
// (room.js: the chart and its tables, from the roster's "room"), a learner's output and
// network map read-only, reset, remove, broadcast, end.
(function () {
  "use strict";
  const board = document.getElementById("dashboard");
  if (!board) return;
  const workshop = board.dataset.workshop;
  const socket = io("/trainer", { transports: ["websocket", "polling"] });
  const { el, setText, setAttr, place } = window.labapp.dom;
  const notice = document.getElementById("notice");
  let roster = null, skew = 0;

  function minutes(seconds) {
    const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    return `${m}:${String(s).padStart(2, "0")}`;
  }

  // The roster is updated in place: one row per learner, keyed by learner id, made once and
  // kept while the learner is on the roster. A redraw (a roster event, the clock's tick)
  // sets only the texts, classes and attributes that changed; rows are added, removed and
  // moved (place() in dom.js: as few moves as can be, focus kept) without touching the
  // others, and the buttons' clicks are handled once, on the table's body. So a trainer
  // tabbing through the roster keeps their place, and nothing is re-read to a screen reader.
  const body = document.querySelector("#roster tbody");
  const rows = new Map();  // learner id -> its row: the tr and the nodes drawn into

  function makeRow(learner) {
    const row = {
      tr: el("tr"), name: el("td", "name"), nameText: document.createTextNode(""),
      stuck: el("span", "stuck-mark"), step: el("td", "step"), time: el("td", "time"),
      checks: el("td", "checks"), sandbox: el("td", "sandbox"),
      view: el("button", "view", board.dataset.view), reset: el("button", "reset", board.dataset.reset),
      remove: el("button", "remove", board.dataset.remove),
    };
    row.tr.dataset.learner = learner;
    row.name.appendChild(row.nameText);
    row.view.type = row.reset.type = row.remove.type = "button";
    const actions = el("td");
    actions.append(row.view, row.reset, row.remove);
    row.tr.append(row.name, row.step, row.time, row.checks, row.sandbox, actions);
    return row;
  }
  function fill(row, r, now) {
    const tr = row.tr;
    setAttr(tr, "data-name", r.name);
    setAttr(tr, "data-step", r.step || "");
    tr.classList.toggle("stuck", !!r.stuck);
    tr.classList.toggle("left", !!r.left);
    setText(row.nameText, r.name);
    setAttr(row.remove, "aria-label", `${board.dataset.remove}: ${r.name}`);
    if (r.stuck) {
      setText(row.stuck, ` ⚠ ${board.dataset.stuck}: ${r.stuck}`);
      if (row.stuck.parentNode !== row.name) row.name.appendChild(row.stuck);
    } else if (row.stuck.parentNode) {
      row.stuck.remove();
    }
    setText(row.step, r.step ? `${r.step_number}/${r.steps} ${r.step_title}` : `✓ ${r.passed}/${r.steps}`);
    setText(row.time, r.step && !r.left ? minutes(now - r.since) : "");
    setText(row.checks, `✓${r.checks.passed} ✗${r.checks.failed}`);
    setAttr(row.checks, "title", r.last_failed.length ? r.last_failed.join("; ") : null);
    setText(row.sandbox, r.left ? "left" : r.sandbox);
    const off = !!r.left || !!board.dataset.ended;
    if (row.reset.disabled !== off) row.reset.disabled = off;
  }
  function draw() {
    if (!roster) return;
    const now = Date.now() / 1000 - skew;
    const order = [], present = new Set();
    roster.learners.forEach(r => {
      let row = rows.get(r.learner);
      if (!row) rows.set(r.learner, row = makeRow(r.learner));
      fill(row, r, now);
      order.push(row.tr);
      present.add(r.learner);
    });
    // A learner gone from the roster: their row goes; focus in it goes to the same button of
    // the row that takes its place (or the last row), not to the top of the page.
    let lost = null;
    rows.forEach((row, learner) => {
      if (present.has(learner)) return;
      if (row.tr.contains(document.activeElement)) {
        const kind = ["reset", "remove"].find(k => document.activeElement.classList.contains(k)) || "view";
        lost = { index: [...body.children].indexOf(row.tr), kind };
      }
      row.tr.remove();
      rows.delete(learner);
    });
    place(body, order);
    if (lost && order.length) {
      const tr = order[Math.min(lost.index, order.length - 1)];
      const button = tr.querySelector(`button.${lost.kind}:not(:disabled)`) || tr.querySelector("button.view");
      button.focus({ preventScroll: true });
    }
  }
  body.addEventListener("click", e => {
    const button = e.target.closest("button");
    if (!button || !body.contains(button)) return;
    const learner = button.closest("tr").dataset.learner;
    if (button.classList.contains("view")) {
      socket.emit("learner", { workshop, learner });
    } else if (button.classList.contains("reset")) {
      socket.emit("reset", { workshop, learner, step: document.getElementById("reset-step").value || null });
    } else if (button.classList.contains("remove")) {
      const name = button.closest("tr").dataset.name;
      if (window.confirm(`${name}: ${board.dataset.removeConfirm}`)) socket.emit("remove", { workshop, learner });
    }
  });

  socket.on("connect", () => socket.emit("watch", { workshop }));
  socket.on("roster", data => {
    if (data.workshop.id !== workshop) return;
    roster = data;
    skew = Date.now() / 1000 - data.now;
    if (data.workshop.ended) board.dataset.ended = "ended";
    draw();
    if (data.room && window.labapp.room) window.labapp.room.draw(document.getElementById("room"), data.room);
  });
  setInterval(draw, 1000);  // time on step ticks
  socket.on("notice", ev => { notice.textContent = ev.message; });
  socket.on("failure", ev => { notice.textContent = ev.message; });
  socket.on("learner", ev => {
    const box = document.getElementById("learner-view");
    box.hidden = false;
    document.getElementById("learner-view-title").textContent = ev.name;
    document.getElementById("learner-output").textContent = ev.output || "(no output yet)";
    const map = document.getElementById("learner-map");
    map.innerHTML = "";
    if (ev.map.error) { map.appendChild(el("p", "meta", ev.map.error)); return; }
    const list = el("ul");
    ev.map.containers.forEach(c => list.appendChild(el("li", "", `${c.name} (${c.node}): ${c.networks.join(", ")}`)));
    ev.map.services.forEach(s => list.appendChild(el("li", "", `${s.name} (service, ${s.tasks.length} tasks): ${s.networks.join(", ")}`)));
    const nets = [...new Set(ev.map.networks.filter(n => n.scope === "swarm").map(n =>
      `${n.name} [${n.driver}${n.attachable ? ", attachable" : ""}${n.encrypted ? ", encrypted" : ""}]`))];
    nets.forEach(n => list.appendChild(el("li", "", n)));
    map.appendChild(list);
  });
  document.getElementById("broadcast").addEventListener("submit", e => {
    e.preventDefault();
    const input = document.getElementById("broadcast-text");
    socket.emit("broadcast", { workshop, message: input.value });
    input.value = "";
  });
  document.getElementById("end-workshop").addEventListener("click", () => {
    if (window.confirm("End the workshop? Every learner's sandbox is removed; results are kept.")) {
      socket.emit("end", { workshop });
    }
  });
})();
