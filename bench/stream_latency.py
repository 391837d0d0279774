"""Streaming latency: from a line printed on a node to its arrival at a Socket.IO client
(the real server, WebSocket transport), against the floor of the same command read
through `docker exec`. Each line carries the node's clock (GNU date, nanoseconds); nodes
share the host's kernel clock, so arrival minus stamp is the latency. p50 and p95 of
each, and the overhead. Usage: python bench/stream_latency.py [LINES]
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


def main(lines: int) -> None:
    lessons = tempfile.mkdtemp(prefix="labapp-bench-lessons-")
    with open(os.path.join(lessons, "latency.en.md"), "w", encoding="utf-8") as handle:
        handle.write(LESSON.format(lines=lines))
    data = tempfile.mkdtemp(prefix="labapp-bench-data-")
    port = free_port()
    env = {**os.environ, "LABAPP_LESSONS_DIR": lessons, "LABAPP_DATA_DIR": data}
    server = subprocess.Popen([sys.executable, "-m", "labapp.cli", "serve", "--port", str(port)], env=env,
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

        container = next(line for line in subprocess.run(
            ["docker", "ps", "--filter", "label=labapp.node=manager1", "--format", "{{.Names}}"],
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
    print(f"stream latency over {lines} lines (ms): labapp (Socket.IO over WebSocket) "
          f"p50 {statistics.median(labapp):.1f} p95 {percentile(labapp, 0.95):.1f}; "
          f"floor (docker exec) p50 {statistics.median(floor):.1f} p95 {percentile(floor, 0.95):.1f}")
    print(f"  p95 overhead {percentile(labapp, 0.95) - percentile(floor, 0.95):.1f} ms (target <= 50 ms)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
