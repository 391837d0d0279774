"""Streaming latency: from a line printed on a node to its arrival at a Socket.IO client
(the real server, WebSocket transport), against the floor of the same command read
through `docker exec`. Each line carries the node's clock (GNU date, nanoseconds); nodes
share the host's kernel clock, so arrival minus stamp is the latency. p50 and p95 of
each, the overhead and the ratio to the floor. Usage:

    python bench/stream_latency.py [--servers gunicorn,dev] [--rounds R] [LINES]

`gunicorn` is `labapp serve` (the production server), `dev` is `labapp serve --dev`
(Werkzeug's development server); with several, they alternate round by round, each round
a server of its own with its own floor.
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests
import socketio

LESSON = """---
title: Stream latency
summary: A benchmark's lesson; one step that prints timestamps.
language: en
level: beginner
time: 1
sandbox: {{nodes: 1, managers: 1}}
---

## Print {{#print}}

```manager1
sh -c 'for i in $(seq 1 {lines}); do date +%s.%N; sleep 0.02; done'
```

```check
- exit: zero
```
"""


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stamps_latency(text_chunks):
    """[(arrival, chunk text)] -> latency of every complete stamped line, in ms."""
    out = []
    for arrival, text in text_chunks:
        for line in text.splitlines():
            try:
                out.append((arrival - float(line)) * 1000)
            except ValueError:
                pass
    return out


def one_round(lines: int, server_args: list[str]):
    """(labapp latencies, floor latencies) in ms, from a fresh `labapp serve SERVER_ARGS`."""
    lessons = tempfile.mkdtemp(prefix="labapp-bench-lessons-")
    with open(os.path.join(lessons, "latency.en.md"), "w", encoding="utf-8") as handle:
        handle.write(LESSON.format(lines=lines))
    data = tempfile.mkdtemp(prefix="labapp-bench-data-")
    port = free_port()
    env = {**os.environ, "LABAPP_LESSONS_DIR": lessons, "LABAPP_DATA_DIR": data, "LABAPP_POOL_SIZE": "0"}
    server = subprocess.Popen([sys.executable, "-m", "labapp.cli", "serve", "--port", str(port), *server_args],
                              env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        http = requests.Session()
        for _ in range(100):
            try:
                http.get(url + "/lessons/latency?lang=en", timeout=10)  # the first page is slow on a busy host
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        client = socketio.Client()
        chunks, ready, done = [], threading.Event(), threading.Event()
        state = {}
        client.on("sandbox", lambda ev: ev["stage"] == "ready" and (state.update(nodes=ev["nodes"]), ready.set()),
                  namespace="/lab")
        client.on("output", lambda ev: chunks.append((time.time(), ev["text"])), namespace="/lab")
        client.on("done", lambda ev: done.set(), namespace="/lab")
        client.connect(url, namespaces=["/lab"], transports=["websocket"], headers={"Cookie": cookie})
        client.emit("join", {"lesson": "latency", "lang": "en"}, namespace="/lab")
        if not ready.wait(120):
            sys.exit("the sandbox did not start")
        client.emit("run", {"lesson": "latency", "lang": "en", "step": "print", "block": 0}, namespace="/lab")
        if not done.wait(120):
            sys.exit("the run did not finish")
        labapp = stamps_latency(chunks)

        instance = open(os.path.join(data, "instance_id"), encoding="utf-8").read().strip()
        container = next(line for line in subprocess.run(  # this server's node, not another's on the engine
            ["docker", "ps", "--filter", "label=labapp.node=manager1", "--filter", f"label=labapp.owner={instance}",
             "--format", "{{.Names}}"],
            capture_output=True, text=True).stdout.split() if line)
        proc = subprocess.Popen(["docker", "exec", container, "sh", "-c",
                                 f"for i in $(seq 1 {lines}); do date +%s.%N; sleep 0.02; done"],
                                stdout=subprocess.PIPE, text=True, bufsize=1)
        floor = stamps_latency((time.time(), line) for line in proc.stdout)
        proc.wait()
        client.disconnect()
    finally:
        server.terminate()
        server.wait(timeout=60)
    return labapp, floor


SERVERS = {"gunicorn": [], "dev": ["--dev"]}


def main(argv: list[str]) -> None:
    lines, rounds, servers = 200, 1, ["gunicorn"]
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--servers":
            servers = args.pop(0).split(",")
            assert all(s in SERVERS for s in servers), f"--servers: {', '.join(SERVERS)}"
        elif arg == "--rounds":
            rounds = int(args.pop(0))
        else:
            lines = int(arg)
    got = {name: [] for name in servers}  # per round: (labapp p50, p95, floor p50, p95)
    for r in range(rounds):
        for name in servers:
            labapp, floor = one_round(lines, SERVERS[name])
            row = (statistics.median(labapp), percentile(labapp, 0.95),
                   statistics.median(floor), percentile(floor, 0.95))
            got[name].append(row)
            print(f"round {r + 1} {name}: labapp p50 {row[0]:.1f} p95 {row[1]:.1f}; floor p50 {row[2]:.1f} "
                  f"p95 {row[3]:.1f} (ms); ratio p50 {row[0] / row[2]:.1f}x p95 {row[1] / row[3]:.1f}x", flush=True)
    for name in servers:
        rows = got[name]
        lp50, lp95, fp50, fp95 = (statistics.median(r[k] for r in rows) for k in range(4))
        overhead = statistics.median(r[1] - r[3] for r in rows)
        command = " ".join(["labapp serve", *SERVERS[name]])
        print(f"stream latency, {lines} lines a round, median of {len(rows)} rounds, {name} (`{command}`), ms: "
              f"labapp (Socket.IO over WebSocket) p50 {lp50:.1f} p95 {lp95:.1f}; "
              f"floor (docker exec) p50 {fp50:.1f} p95 {fp95:.1f}")
        print(f"  p95 overhead {overhead:.1f} ms (target <= 50 ms); ratio to the floor "
              f"p50 {statistics.median(r[0] / r[2] for r in rows):.1f}x p95 {statistics.median(r[1] / r[3] for r in rows):.1f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
