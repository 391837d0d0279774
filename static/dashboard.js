// The trainer's dashboard: the roster live over Socket.IO (/trainer), a learner's output
// and network map read-only, reset, broadcast, end.
(function () {
  "use strict";
  const board = document.getElementById("dashboard");
  if (!board) return;
  const workshop = board.dataset.workshop;
  const socket = io("/trainer", { transports: ["websocket", "polling"] });
  const notice = document.getElementById("notice");
  let roster = null, skew = 0;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function minutes(seconds) {
    const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    return `${m}:${String(s).padStart(2, "0")}`;
  }
  function draw() {
    if (!roster) return;
    const body = document.querySelector("#roster tbody");
    body.innerHTML = "";
    const now = Date.now() / 1000 - skew;
    roster.learners.forEach(r => {
      const tr = el("tr");
      tr.dataset.learner = r.learner;
      tr.dataset.name = r.name;
      tr.dataset.step = r.step || "";
      if (r.stuck) tr.classList.add("stuck");
      if (r.left) tr.classList.add("left");
      const name = el("td", "name", r.name);
      if (r.stuck) name.appendChild(el("span", "stuck-mark", ` ⚠ ${board.dataset.stuck}: ${r.stuck}`));
      tr.appendChild(name);
      tr.appendChild(el("td", "step", r.step ? `${r.step_number}/${r.steps} ${r.step_title}` : `✓ ${r.passed}/${r.steps}`));
      tr.appendChild(el("td", "time", r.step && !r.left ? minutes(now - r.since) : ""));
      const checks = el("td", "checks", `✓${r.checks.passed} ✗${r.checks.failed}`);
      if (r.last_failed.length) checks.title = r.last_failed.join("; ");
      tr.appendChild(checks);
      tr.appendChild(el("td", "sandbox", r.left ? "left" : r.sandbox));
      const actions = el("td");
      const view = el("button", "view", board.dataset.view);
      view.type = "button";
      view.addEventListener("click", () => socket.emit("learner", { workshop, learner: r.learner }));
      const reset = el("button", "reset", board.dataset.reset);
      reset.type = "button";
      reset.disabled = !!r.left || !!board.dataset.ended;
      reset.addEventListener("click", () => socket.emit("reset", {
        workshop, learner: r.learner, step: document.getElementById("reset-step").value || null }));
      actions.append(view, reset);
      tr.appendChild(actions);
      body.appendChild(tr);
    });
  }
  socket.on("connect", () => socket.emit("watch", { workshop }));
  socket.on("roster", data => {
    if (data.workshop.id !== workshop) return;
    roster = data;
    skew = Date.now() / 1000 - data.now;
    if (data.workshop.ended) board.dataset.ended = "ended";
    draw();
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
