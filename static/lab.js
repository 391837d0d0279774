// The lesson page: Run and Check over Socket.IO, output streamed into the terminal pane.
(function () {
  "use strict";
  const lab = document.getElementById("lab");
  if (!lab) return;
  const lesson = lab.dataset.lesson, lang = lab.dataset.lang;
  const out = document.getElementById("output");
  const status = document.getElementById("sandbox-status");
  // A script that did not load (a dropped request) would leave "Starting your sandbox…" for
  // ever: say it, so that the learner reloads.
  if (typeof io !== "function" || !window.labapp || !window.labapp.dom) {
    status.textContent = lab.dataset.msgScripts;
    lab.dataset.sandbox = "broken";
    return;
  }
  const socket = io("/lab", { transports: ["websocket", "polling"] });
  const { el } = window.labapp.dom;

  function write(text, cls) {
    const span = document.createElement("span");
    if (cls) span.className = cls;
    span.textContent = text;
    out.appendChild(span);
    out.scrollTop = out.scrollHeight;
  }
  function setBusy(busy) {
    lab.dataset.busy = busy ? "1" : "0";
    document.querySelectorAll("button.run, button.check").forEach(b => { b.disabled = busy; });
  }

  socket.on("connect", () => socket.emit("join", { lesson, lang }));
  // A dropped connection is said, not hidden; Socket.IO reconnects and "connect" joins again.
  socket.on("disconnect", reason => {
    status.textContent = `${lab.dataset.msgLost} (${reason})`;
    lab.dataset.sandbox = "disconnected";
    setBusy(true);
  });
  // A connection that cannot be made is said too (else the page would say "Starting your
  // sandbox…" for ever); Socket.IO keeps trying, and "connect" joins once it succeeds.
  socket.on("connect_error", err => {
    status.textContent = `${lab.dataset.msgLost} (${err && err.message ? err.message : err})`;
    lab.dataset.sandbox = "disconnected";
  });
  socket.on("sandbox", ev => {
    status.textContent = ev.stage === "ready"
      ? lab.dataset.msgReady + " " + ev.nodes.map(n => n.name).join(", ")
      : lab.dataset.msgStage + " " + ev.stage + "…";
    lab.dataset.sandbox = ev.stage;
    if (ev.stage === "ready") setBusy(false);
  });
  socket.on("progress", ev => {
    Object.entries(ev.steps).forEach(([step, s]) => {
      const mark = document.querySelector(`#step-${CSS.escape(step)} .step-status`);
      if (mark) { mark.dataset.status = s; mark.textContent = s === "passed" ? "✓" : ""; }
    });
  });
  socket.on("command", ev => write(`\n[${ev.node}] $ ${ev.command}\n`, "prompt"));
  socket.on("output", ev => write(ev.text, ev.stream));
  socket.on("exit", ev => {
    write(ev.timed_out ? "(stopped: out of time)\n" : `(exit ${ev.exit_code})\n`, ev.exit_code === 0 ? "exit ok" : "exit failed");
  });
  socket.on("done", () => setBusy(false));
  // A check still converging when the lab is slow: the server checks again (an uncertain
  // check is no verdict on the learner's answer, and is never shown as wrong).
  socket.on("checking", ev => {
    const box = document.querySelector(`#step-${CSS.escape(ev.step)} .verdict`);
    box.innerHTML = "";
    const note = document.createElement("p");
    note.className = "slow";
    note.textContent = ev.message;
    box.appendChild(note);
  });
  socket.on("verdict", ev => {
    const box = document.querySelector(`#step-${CSS.escape(ev.step)} .verdict`);
    box.innerHTML = "";
    if (ev.uncertain) {
      const note = document.createElement("p");
      note.className = "slow";
      note.textContent = ev.message;
      box.appendChild(note);
    }
    // What the failed checks are about, without their asides ("(it has bridge, host, ...)").
    lastFailure = ev.checks.filter(c => !c.passed && !c.uncertain).map(c => c.reason.replace(/\([^)]*\)/g, "")).join(" ");
    failedChecks = ev.checks.filter(c => !c.passed && !c.uncertain);  // the diagram marks their subjects
    const list = document.createElement("ul");
    const shown = new Map();  // one line per distinct verdict: "nothing has run yet" once, not per check
    ev.checks.forEach(c => {
      const key = (c.passed ? "✓ " : c.uncertain ? "… " : "✗ ") + c.reason;
      if (shown.has(key)) {
        const li = shown.get(key);
        li.dataset.count = String(Number(li.dataset.count) + 1);
        li.textContent = `${key} (×${li.dataset.count})`;
        return;
      }
      const li = document.createElement("li");
      li.className = c.passed ? "pass" : c.uncertain ? "slow" : "fail";
      li.dataset.count = "1";
      li.textContent = key;
      shown.set(key, li);
      list.appendChild(li);
    });
    box.appendChild(list);
    const mark = document.querySelector(`#step-${CSS.escape(ev.step)} .step-status`);
    if (ev.passed) { mark.dataset.status = "passed"; mark.textContent = "✓"; }
    setBusy(false);
  });
  // The network map: nodes with their tasks and containers, the networks' traits. Names a
  // failed check mentions are marked, so "alpine1 ... test-cluster-net2" shows at a glance.
  let lastFailure = "";
  let failedChecks = [];
  function focus(node, name) {
    const escaped = (name || "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    if (name && new RegExp(`(^|[^\\w.-])${escaped}([^\\w.-]|$)`).test(lastFailure)) node.classList.add("focus");
    return node;
  }
  let mapDraws = 0;
  socket.on("map", map => {
    document.getElementById("map").dataset.drawn = String(++mapDraws);
    const nodes = document.getElementById("map-nodes");
    nodes.innerHTML = "";
    map.nodes.forEach(n => {
      const box = el("div", "map-node");
      box.appendChild(el("h3", "", `${n.name} · ${n.role} · ${n.state}`));
      const list = el("ul");
      map.services.forEach(s => s.tasks.filter(t => t.node === n.name).forEach(() => {
        const li = focus(el("li", "task", `${s.name} (task) `), s.name);
        s.networks.forEach(net => li.appendChild(focus(el("span", "badge", net), net)));
        list.appendChild(li);
      }));
      map.containers.filter(c => c.node === n.name).forEach(c => {
        const li = focus(el("li", "container" + (c.running ? "" : " stopped"), `${c.name} `), c.name);
        c.networks.forEach(net => li.appendChild(focus(el("span", "badge", net), net)));
        list.appendChild(li);
      });
      box.appendChild(list);
      nodes.appendChild(box);
    });
    const rows = document.querySelector("#map-networks tbody");
    rows.innerHTML = "";
    const seen = new Map();
    map.networks.forEach(net => {
      const key = net.scope === "swarm" ? net.name : net.name + "|local";
      if (seen.has(key)) { seen.get(key).push(net.node); return; }
      seen.set(key, [net.node]);
      const tr = focus(el("tr"), net.name);
      const where = net.scope === "swarm" ? "swarm" : "local";
      [net.name, net.driver, where, net.subnet, net.attachable ? "yes" : "no", net.encrypted ? "yes" : "no"]
        .forEach(v => tr.appendChild(el("td", "", v)));
      rows.appendChild(tr);
    });
    // The same map as a diagram, after the text (static/netmap.js).
    window.labapp.netmap.draw(document.getElementById("map-diagram"), map, failedChecks);
  });

  // Workshop messages and the sandbox's lifetime: shown in a banner that screen readers announce.
  function banner(text, cls) {
    const box = document.getElementById("banner");
    box.hidden = false;
    box.className = "banner" + (cls ? " " + cls : "");
    box.textContent = text;
  }
  let workshopTimer = null;
  socket.on("workshop", ev => {
    const show = () => {
      const left = Math.max(0, Math.round((ev.ends - Date.now() / 1000) / 60));
      document.getElementById("workshop-bar").textContent = `${ev.title} · ${left} min`;
    };
    show();
    clearInterval(workshopTimer);
    workshopTimer = setInterval(show, 30000);
  });
  socket.on("broadcast", ev => banner(`${ev.workshop}: ${ev.message}`));
  socket.on("lifetime", ev => banner(ev.message));
  socket.on("expired", ev => {
    banner(ev.reason, "ended");
    status.textContent = ev.reason;
    lab.dataset.sandbox = "expired";
    document.getElementById("map-nodes").innerHTML = "";  // that swarm is gone
    window.labapp.netmap.clear(document.getElementById("map-diagram"));
    document.querySelector("#map-networks tbody").innerHTML = "";
  });
  socket.on("refused", ev => {
    document.getElementById("console-refused").textContent = ev.reason;
    setBusy(false);
  });
  socket.on("failure", ev => {
    write(`\n${ev.message}\n`, "stderr");
    status.textContent = ev.message;
    setBusy(false);
  });

  document.addEventListener("click", e => {
    const run = e.target.closest("button.run");
    if (run) {
      setBusy(true);
      socket.emit("run", { lesson, lang, step: run.dataset.step, block: Number(run.dataset.block) });
    }
    const check = e.target.closest("button.check");
    if (check) {
      setBusy(true);
      document.querySelector(`#step-${CSS.escape(check.dataset.step)} .verdict`).innerHTML = "";
      socket.emit("check", { lesson, lang, step: check.dataset.step });
    }
  });
  document.getElementById("reset").addEventListener("click", () => socket.emit("reset", { lesson, lang }));
  document.getElementById("console").addEventListener("submit", e => {
    e.preventDefault();
    const input = document.getElementById("console-line");
    document.getElementById("console-refused").textContent = "";
    const size = ttySize();
    socket.emit("console", { lesson, lang, node: document.getElementById("console-node").value, line: input.value,
                             cols: size.cols, rows: size.rows });
    input.value = "";
  });

  // The terminal: docker attach / docker exec -it get a real TTY on the node, shown in
  // xterm.js (screen-reader mode on); keys and resizes go back over the same socket.
  const ttyBox = document.getElementById("tty"), ttyScreen = document.getElementById("tty-screen");
  let term = null, fit = null, ttyLive = false, ttySeq = 0;
  function ttySize() {
    if (term) return { cols: term.cols, rows: term.rows };
    return { cols: 80, rows: 24 };
  }
  function openTerminal() {
    if (term) { term.reset(); return; }
    term = new Terminal({ screenReaderMode: true, cursorBlink: true, fontSize: 13, rows: 24, cols: 80,
                          fontFamily: 'ui-monospace, "Noto Sans Mono CJK KR", monospace' });
    fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(ttyScreen);
    term.onData(data => {
      if (!ttyLive) return;
      // A big paste goes in pieces the server takes (8192 characters a message at most).
      // Keys carry their order: the server may take messages in several threads.
      for (let i = 0; i < data.length; i += 4096) {
        socket.emit("tty_input", { data: data.slice(i, i + 4096), seq: ttySeq++ });
      }
    });
    term.onResize(size => { if (ttyLive) socket.emit("tty_resize", { cols: size.cols, rows: size.rows }); });
    window.addEventListener("resize", () => { if (!ttyBox.hidden) fit.fit(); });
  }
  socket.on("tty_open", ev => {
    ttyBox.hidden = false;
    document.getElementById("tty-command").textContent = `${ev.command} (${ev.node})`;
    openTerminal();
    ttySeq = 0;
    ttyLive = true;
    fit.fit();
    socket.emit("tty_resize", { cols: term.cols, rows: term.rows });
    term.focus();
    lab.dataset.tty = "open";
    write(`\n[${ev.node}] $ ${ev.command}\n`, "prompt");
    setBusy(false);
  });
  socket.on("tty_output", ev => { if (term) term.write(ev.data); });
  socket.on("tty_exit", ev => {
    ttyLive = false;
    lab.dataset.tty = "closed";
    if (term) term.write(`\r\n[${ev.message}]\r\n`);
    write(`(${ev.message})\n`, ev.exit_code === 0 ? "exit ok" : "exit failed");
    document.getElementById("console-line").focus();
  });
  document.getElementById("tty-close").addEventListener("click", () => {
    if (ttyLive) socket.emit("tty_close", {});
    ttyBox.hidden = true;
    document.getElementById("console-line").focus();
  });
})();
