"""N learners at once, each a Socket.IO client (WebSocket) of one real `labapp serve`,
each solving the article lesson through the events a browser sends: join, then Run every
block and Check every step. Reports failures (target 0), each N's slowest learner and its
slowdown against one learner, and the largest N that held.

Usage: python bench/concurrent_learners.py [--dev] [N ...]   (default: 1 2 4)
(--dev: `labapp serve --dev`, Werkzeug's development server, instead of Gunicorn)
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests
import socketio

from labapp.lesson.catalog import load_catalog

SLUG = "overlay-attachable"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def learner(url: str, lesson, kernel_blocks, result: dict) -> None:
    """One learner: a session of its own, the lesson from start to end; RESULT gets the
    seconds it took and any step that did not pass."""
    http = requests.Session()
    http.get(f"{url}/lessons/{SLUG}?lang=en", timeout=30)
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    client = socketio.Client()
    box = {"event": threading.Event()}

    def on(name):
        def handler(data):
            box["last"] = (name, data)
            box["event"].set()
        return handler

    for name in ("sandbox", "done", "verdict", "failure"):
        client.on(name, on(name), namespace="/lab")

    def ask(event, data, want, timeout=300):
        box["event"].clear()
        client.emit(event, {"lesson": SLUG, "lang": "en", **data}, namespace="/lab")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not box["event"].wait(deadline - time.monotonic()):
                break
            box["event"].clear()
            name, payload = box["last"]
            if name == "failure":
                raise RuntimeError(payload["message"])
            if name == want and (want != "sandbox" or payload.get("stage") == "ready"):
                return payload
        raise RuntimeError(f"no {want} within {timeout} s")

    started = time.monotonic()
    result["failed"] = []
    try:
        client.connect(url, namespaces=["/lab"], transports=["websocket"], headers={"Cookie": cookie})
        ask("join", {}, "sandbox", timeout=180)
        for step in lesson.steps:
            for index in kernel_blocks[step.id]:
                ask("run", {"step": step.id, "block": index}, "done")
            verdict = ask("check", {"step": step.id}, "verdict")
            if not verdict["passed"]:
                result["failed"].append(step.id)
    except Exception as exc:  # reported, never hidden
        result["failed"].append(f"error: {exc}")
    finally:
        result["seconds"] = time.monotonic() - started
        http.delete(f"{url}/api/sandbox", timeout=120)  # this learner's sandbox goes now
        try:
            client.disconnect()
        except Exception:
            pass


def main(counts: list[int], server_args: list[str]) -> None:
    lesson = load_catalog().get(SLUG, "en")
    data = tempfile.mkdtemp(prefix="labapp-bench-data-")
    port = free_port()
    env = {**os.environ, "LABAPP_DATA_DIR": data, "LABAPP_CREATES_PER_HOUR": "1000", "LABAPP_POOL_SIZE": "0",
           "LABAPP_SANDBOXES_PER_ADDRESS": "0"}  # every learner here comes from 127.0.0.1
    server = subprocess.Popen([sys.executable, "-m", "labapp.cli", "serve", "--port", str(port), *server_args],
                              env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                api = requests.Session()
                detail = api.get(f"{url}/api/lessons/{SLUG}?lang=en", timeout=30).json()
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        blocks = {s["id"]: [b["index"] for b in s["blocks"] if b["applies"]] for s in detail["steps"]}
        alone, held = None, 0
        for n in counts:
            results = [{} for _ in range(n)]
            threads = [threading.Thread(target=learner, args=(url, lesson, blocks, r)) for r in results]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - started
            failures = [f for r in results for f in r["failed"]]
            slowest = max(r["seconds"] for r in results)
            alone = alone or slowest
            print(f"{n} learner{'s' if n > 1 else ''} at once: {len(failures)} failures, slowest {slowest:.1f} s, "
                  f"slowdown {slowest / alone:.2f}x against one, wall {wall:.1f} s"
                  + (f"  {failures[:3]}" if failures else ""), flush=True)
            if failures:
                break
            held = n
        print(f"largest N that held (0 failures): {held}")
    finally:
        server.terminate()
        server.wait(timeout=120)


if __name__ == "__main__":
    args = sys.argv[1:]
    dev = ["--dev"] if "--dev" in args else []
    main([int(a) for a in args if a != "--dev"] or [1, 2, 4], dev)
