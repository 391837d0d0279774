"""A workshop, simulated: N learners, each a python-socketio client (WebSocket transport) of
one real `labapp serve`, arriving over the first minutes (seeded), each working through the
article lesson `overlay-attachable` the way the page does (static/lab.js: join, Run each
command block of a step, then Check the step), reading between steps (seeded), a seeded
share of them making the lesson's typical mistakes first, and one "everyone run step N now"
burst from the trainer. One learner alone goes first, on the same host in the same process:
the baseline.

It prints (all measured in this run):
  - false verdicts: a Check that failed although the learner had run the solution, and
    missed wrong answers: a deliberate mistake whose Check passed; each with step and reason;
  - p50/p95 of Run (Run pressed -> `done`) and Check (Check pressed -> final verdict), and of
    join -> sandbox ready, for the workshop and for the baseline, and their ratios;
  - host CPU (/proc/stat) and MemAvailable over each phase; per learner the CPU-seconds and
    MiB of their sandbox's node containers (cgroup v1: cpuacct.usage, memory.usage_in_bytes
    less inactive page cache), idle (reading) and working (a Run or Check in flight).

A `checking` event ("the lab is slow; checking again") is interim: the learner waits for the
verdict. A verdict marked `"uncertain": true` is not a judgement: the learner presses Check
again after a while (--uncertain-wait, --uncertain-retries); a step still uncertain after
that is counted apart, neither false nor missed. A `queued` event (or a `sandbox`
event of stage `queued`) before the sandbox is made is recorded with its place.

Times are "human" seconds multiplied by --scale (reading, arrival window), so a development
run can be short: `python bench/workshop.py -n 3 --scale 0.05`. Every sandbox this run made
is removed and the server stopped at the end, on Ctrl-C and on a failure. Exit status: 0,
or 1 when something failed (no server, a learner without a sandbox, a learner's error,
false verdicts or missed wrong answers).
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests
import socketio

SLUG = "overlay-attachable"
CONSOLE_NODE = "manager1"
BURST_DEFAULT = "connect-ping"  # the step whose check pings: the trainer's "everyone run it now"
OP_TIMEOUT = 900.0  # seconds a Run or a Check may take before the learner gives up on it
JOIN_TIMEOUT = 1800.0  # join -> ready, queue included
CGROUP = "/sys/fs/cgroup"
QUEUE_STAGE = re.compile(r"waiting for your turn: (\d+) of (\d+) in the queue")  # the English stage text
TRACE = bool(os.environ.get("WORKSHOP_TRACE"))  # every event but output and map, on stderr

# The lesson's typical mistakes, by step: console lines a learner types instead of the
# block, the Check that must then FAIL, and the lines that undo them before the real thing.
CONSOLE_MISTAKES = {
    "attachable": {
        "what": "created the overlay without --attachable",
        "wrong": ["docker network create -d overlay test-cluster-net"],
        "undo": ["docker network rm test-cluster-net"],
    },
    "connect-ping": {
        "what": "connected alpine1 to the old, non-attachable overlay",
        "wrong": ["docker network connect test-cluster-net2 alpine1"],
        "undo": [],
    },
}
CHECK_FIRST_STEPS = 2  # steps at which a mistaken learner presses Check before Run (seeded)


class Abort(Exception):
    """The run cannot go on (no server, Ctrl-C, SIGTERM)."""


# --- measuring the host ----------------------------------------------------------------


def host_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def mem_available_mib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def process_tree_cpu(root: int) -> float:
    """CPU-seconds (user + system) of process ROOT and its descendants, now."""
    tick = os.sysconf("SC_CLK_TCK")
    parents, cpu = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(name)] = int(rest[1])
        cpu[int(name)] = (int(rest[11]) + int(rest[12])) / tick
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo.extend(p for p, parent in parents.items() if parent == pid and p not in tree)
    return sum(cpu.get(p, 0.0) for p in tree)


class Cgroups:
    """A sandbox's node containers read from the host's cgroup v1 files (cgroupfs driver:
    /sys/fs/cgroup/<controller>/docker/<id>/)."""

    def __init__(self):
        import docker  # the app's own dependency

        self.client = docker.from_env()
        self.containers: dict[str, list[str]] = {}  # sandbox id -> full container ids

    def nodes_of(self, sandbox_id: str) -> list[str]:
        if sandbox_id not in self.containers:
            found = self.client.api.containers(filters={"label": f"labapp.sandbox={sandbox_id}"})
            ids = [c["Id"] for c in found if c["Labels"].get("labapp.node")]
            missing = [i for i in ids if not os.path.exists(f"{CGROUP}/cpuacct/docker/{i}/cpuacct.usage")]
            if not ids or missing:
                raise RuntimeError(f"sandbox {sandbox_id}: no cgroup v1 files under {CGROUP}/cpuacct/docker/ for "
                                   f"{missing or 'its nodes'} (this benchmark reads cgroup v1, cgroupfs driver)")
            self.containers[sandbox_id] = ids
        return self.containers[sandbox_id]

    def cpu_seconds(self, sandbox_id: str) -> float:
        total = 0
        for cid in self.nodes_of(sandbox_id):
            with open(f"{CGROUP}/cpuacct/docker/{cid}/cpuacct.usage") as f:
                total += int(f.read())
        return total / 1e9

    def memory_mib(self, sandbox_id: str) -> float:
        """usage_in_bytes less the inactive page cache (as bench/sandbox_up.py reads a node)."""
        total = 0
        for cid in self.nodes_of(sandbox_id):
            base = f"{CGROUP}/memory/docker/{cid}"
            with open(f"{base}/memory.usage_in_bytes") as f:
                usage = int(f.read())
            inactive = 0
            with open(f"{base}/memory.stat") as f:
                for line in f:
                    if line.startswith("total_inactive_file "):
                        inactive = int(line.split()[1])
            total += usage - inactive
        return total / 2**20


class Sampler(threading.Thread):
    """Every EVERY seconds: host CPU busy share, MemAvailable, and each learner's sandbox
    memory, tagged with what the learner is doing (idle or working)."""

    def __init__(self, every: float, cgroups: Cgroups):
        super().__init__(daemon=True)
        self.every, self.cgroups = every, cgroups
        self.learners: list["Learner"] = []
        self.samples: list[dict] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        last = host_cpu()
        while not self.stop.wait(self.every):
            now = host_cpu()
            busy = (now[0] - last[0]) / max(1, now[1] - last[1])
            last = now
            sample = {"t": time.monotonic(), "cpu": busy, "mem_available": mem_available_mib(), "learners": {}}
            with self.lock:
                learners = list(self.learners)
            for learner in learners:
                if learner.sandbox_id and learner.state in ("idle", "working"):
                    try:
                        sample["learners"][learner.name] = (learner.state, self.cgroups.memory_mib(learner.sandbox_id))
                    except (OSError, RuntimeError):
                        pass  # the sandbox is going (the learner finished): no sample
            self.samples.append(sample)

    def between(self, start: float, end: float) -> list[dict]:
        return [s for s in self.samples if start < s["t"] <= end]


# --- one learner ---------------------------------------------------------------------


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Burst:
    """The trainer's "everyone run step N now": learners wait at step N until every learner
    still working has come to it, then all press Run at the same moment."""

    def __init__(self, step: str | None, expected: int):
        self.step, self.expected, self.arrived = step, expected, 0
        self.cond = threading.Condition()
        self.moment: float | None = None

    def wait(self, stop: threading.Event) -> float:
        with self.cond:
            self.arrived += 1
            self.cond.notify_all()
            while self.arrived < self.expected and not stop.is_set():
                self.cond.wait(1.0)
            if self.moment is None:
                self.moment = time.monotonic()
            return self.moment

    def leave(self):
        """A learner that will never come to the burst (it failed first)."""
        with self.cond:
            self.expected -= 1
            self.cond.notify_all()


class Learner:
    def __init__(self, name: str, url: str, steps: list[dict], rng: random.Random, args, cgroups: Cgroups,
                 mistaken: bool, arrival: float, burst: Burst | None, stop: threading.Event):
        self.name, self.url, self.steps, self.rng, self.args = name, url, steps, rng, args
        self.cgroups, self.mistaken, self.arrival, self.burst, self.stop = cgroups, mistaken, arrival, burst, stop
        self.http = requests.Session()
        self.client = socketio.Client(reconnection=False)
        self.events: queue.Queue = queue.Queue()
        self.state = "arriving"
        self.sandbox_id: str | None = None
        self.joined_at = self.ready_at = None
        self.queued: list = []  # (seconds after join, place)
        self.runs: list[dict] = []  # {step, block, seconds, to_last_output, exit_codes, burst}
        self.checks: list[dict] = []  # {step, kind, expect, passed, seconds, reasons, uncertain}
        self.anomalies: list[str] = []  # a solution command that exited otherwise than the lesson says
        self.errors: list[str] = []
        self.cpu = {"idle": 0.0, "working": 0.0}
        self.time = {"idle": 0.0, "working": 0.0}
        self.finished = False
        self.code: str | None = None  # a workshop's join code (--workshop): joined before the lesson
        self.plan = self._plan()

    # what this learner will do wrong (seeded)
    def _plan(self) -> dict:
        if not self.mistaken:
            return {"check_first": [], "console": []}
        ids = [s["id"] for s in self.steps]
        console = [s for s in CONSOLE_MISTAKES if s in ids]
        others = [s for s in ids if s not in console]
        return {"check_first": sorted(self.rng.sample(others, min(CHECK_FIRST_STEPS, len(others))), key=ids.index),
                "console": console}

    # --- the socket ----------------------------------------------------------------
    def connect(self):
        self.http.get(f"{self.url}/lessons/{SLUG}?lang=en", timeout=60)  # the page: the session's learner id
        if self.code:  # the join page's form, as its API: this session becomes a member of the workshop
            answer = self.http.post(f"{self.url}/api/join", json={"code": self.code, "name": self.name}, timeout=60)
            if answer.status_code != 200:
                raise RuntimeError(f"joining the workshop: HTTP {answer.status_code} {answer.text[:200]}")
            self.http.get(f"{self.url}/lessons/{SLUG}?lang=en", timeout=60)
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        for name in ("sandbox", "queued", "output", "exit", "command", "done", "verdict", "checking", "failure",
                     "refused", "expired", "progress", "map", "lifetime", "broadcast", "workshop"):
            self.client.on(name, self._handler(name), namespace="/lab")
        self.client.on("disconnect", self._handler("disconnect"), namespace="/lab")
        self.client.connect(self.url, namespaces=["/lab"], transports=["websocket"], headers={"Cookie": cookie},
                            wait_timeout=60)

    def _handler(self, name):
        def handler(data=None):
            if TRACE and name not in ("output", "map"):
                print(f"  trace {time.strftime('%H:%M:%S')} {self.name} <- {name} {str(data)[:160]}", file=sys.stderr,
                      flush=True)
            self.events.put((time.monotonic(), name, data if isinstance(data, dict) else {}))
        return handler

    def _emit(self, event: str, data: dict) -> float:
        while not self.events.empty():  # what came after the last answer (maps) is not this one's
            self.events.get_nowait()
        self.client.emit(event, {"lesson": SLUG, "lang": "en", **data}, namespace="/lab")
        return time.monotonic()

    def _next(self, deadline: float):
        while True:
            if self.stop.is_set():
                raise Abort("stopped")
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                got = self.events.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if got[1] == "disconnect":
                if self.stop.is_set():
                    raise Abort("stopped")
                raise RuntimeError("the WebSocket dropped")
            return got

    # --- cgroup accounting -----------------------------------------------------------
    def _phase(self, state: str):
        """Switch to STATE, charging the CPU and time since the last switch to the old one."""
        now = time.monotonic()
        try:
            cpu = self.cgroups.cpu_seconds(self.sandbox_id) if self.sandbox_id else None
        except (OSError, RuntimeError):  # the sandbox is gone (released, expired): nothing more to charge
            cpu = None
        if self.state in self.cpu and self._mark is not None and cpu is not None:
            self.cpu[self.state] += cpu - self._mark[1]
            self.time[self.state] += now - self._mark[0]
        self._mark = (now, cpu) if cpu is not None else None
        self.state = state

    _mark = None

    # --- the page's actions --------------------------------------------------------
    def join(self):
        started = self._emit("join", {})
        self.joined_at, self.state = started, "joining"
        deadline = started + JOIN_TIMEOUT
        while True:
            got = self._next(deadline)
            if got is None:
                raise RuntimeError(f"no sandbox within {JOIN_TIMEOUT:.0f} s of join")
            at, name, data = got
            stage = str(data.get("stage", "")) if name == "sandbox" else ""
            place = QUEUE_STAGE.search(stage)
            if place:  # labapp/lab/queue.py: the learner's place, said again whenever it changes
                self.queued.append((at - started, int(place.group(1))))
            elif name == "queued" or stage == "queued":
                self.queued.append((at - started, data.get("place", data.get("position"))))
            elif name == "sandbox" and data.get("stage") == "ready":
                self.ready_at = at
                break
            elif name in ("failure", "expired"):
                raise RuntimeError(f"could not get a sandbox: {data.get('message') or data.get('reason')}")
        status = self.http.get(f"{self.url}/api/sandbox", timeout=60).json()
        self.sandbox_id = status.get("id")
        if not self.sandbox_id:
            raise RuntimeError(f"ready, but /api/sandbox says {status}")

    def run(self, step: str, block: dict, burst: bool = False) -> dict:
        self._phase("working")
        started = self._emit("run", {"step": step, "block": block["index"]})
        last_output, exits = None, []
        deadline = started + OP_TIMEOUT
        try:
            while True:
                got = self._next(deadline)
                if got is None:
                    raise RuntimeError(f"Run {step}#{block['index']}: no done within {OP_TIMEOUT:.0f} s")
                at, name, data = got
                if name == "output":
                    last_output = at
                elif name == "exit":
                    exits.append(data.get("exit_code"))
                elif name == "done" and data.get("step") == step and data.get("block") == block["index"]:
                    break
                elif name == "failure":
                    raise RuntimeError(f"Run {step}#{block['index']}: failure: {data.get('message')}")
                elif name == "expired":
                    raise RuntimeError(f"Run {step}#{block['index']}: sandbox expired: {data.get('reason')}")
        finally:
            self._phase("idle")
        record = {"step": step, "block": block["index"], "seconds": at - started, "burst": burst,
                  "to_last_output": (last_output - started) if last_output else None, "exit_codes": exits}
        self.runs.append(record)
        return record

    def console(self, line: str) -> dict:
        self._phase("working")
        started = self._emit("console", {"node": CONSOLE_NODE, "line": line, "cols": 80, "rows": 24})
        exits = []
        try:
            while True:
                got = self._next(started + OP_TIMEOUT)
                if got is None:
                    raise RuntimeError(f"console '{line}': no done within {OP_TIMEOUT:.0f} s")
                at, name, data = got
                if name == "exit":
                    exits.append(data.get("exit_code"))
                elif name == "done" and data.get("console"):
                    return {"line": line, "exit_codes": exits, "seconds": at - started}
                elif name == "refused":
                    raise RuntimeError(f"console '{line}' refused: {data.get('reason')}")
                elif name == "failure":
                    raise RuntimeError(f"console '{line}': failure: {data.get('message')}")
        finally:
            self._phase("idle")

    def check(self, step: str, kind: str, expect: bool) -> dict:
        """Press Check and wait for its verdict. A `checking` event ("the lab is slow;
        checking again") is interim: the verdict still comes. A verdict marked `uncertain`
        is not a judgement: the learner does what it says (press Check again after
        --uncertain-wait), at most --uncertain-retries times; a verdict that comes on its own
        meanwhile is taken as the final one. Still uncertain after that: 'uncertain at end'."""
        presses, interim, uncertain_rounds = [], 0, 0
        verdict = None
        for attempt in range(1 + self.args.uncertain_retries):
            seconds, verdict, seen = self._press_check(step)
            presses.append(seconds)
            interim += seen
            if not verdict.get("uncertain"):
                break
            uncertain_rounds += 1
            later = self._await_verdict(step, self.args.uncertain_wait * self.args.scale)
            if later is not None:
                verdict = later
                if not later.get("uncertain"):
                    break
        uncertain_end = bool(verdict.get("uncertain"))
        passed = bool(verdict.get("passed")) and not uncertain_end
        reasons = [c.get("reason") for c in verdict.get("checks", []) if not c.get("passed")]
        record = {"step": step, "kind": kind, "expect": expect, "passed": passed, "uncertain": uncertain_end,
                  "uncertain_rounds": uncertain_rounds, "interim": interim, "seconds": presses[0],
                  "presses": presses, "reasons": [str(r) for r in reasons]}
        self.checks.append(record)
        return record

    def _press_check(self, step: str) -> tuple[float, dict, int]:
        """(Check pressed -> its verdict in s, the verdict, `checking` events seen)."""
        self._phase("working")
        started = self._emit("check", {"step": step})
        interim = 0
        try:
            while True:
                got = self._next(started + OP_TIMEOUT)
                if got is None:
                    raise RuntimeError(f"Check {step}: no verdict within {OP_TIMEOUT:.0f} s")
                at, name, data = got
                if name == "checking" and data.get("step", step) == step:
                    interim += 1
                elif name == "verdict" and data.get("step") == step:
                    return at - started, data, interim
                elif name == "failure":
                    raise RuntimeError(f"Check {step}: failure: {data.get('message')}")
                elif name == "expired":
                    raise RuntimeError(f"Check {step}: sandbox expired: {data.get('reason')}")
        finally:
            self._phase("idle")

    def _await_verdict(self, step: str, seconds: float) -> dict | None:
        """Idle for SECONDS (reading the 'not judged' message), unless a verdict of STEP comes."""
        deadline = time.monotonic() + seconds
        while (got := self._next(deadline)) is not None:
            if got[1] == "verdict" and got[2].get("step") == step:
                return got[2]
        return None

    def read(self, seconds: float):
        """Reading the step: idle, but the learner leaves at once on a stop."""
        if self.stop.wait(seconds):
            raise Abort("stopped")

    # --- the whole lesson ------------------------------------------------------------
    def work(self, t0: float):
        try:
            delay = t0 + self.arrival - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                return
            self.connect()
            first_read = self.rng.uniform(self.args.read_min, self.args.read_max) * self.args.scale
            reading_until = time.monotonic() + first_read  # the page is read while the sandbox starts
            self.join()
            self._phase("idle")
            self.read(max(0.0, reading_until - time.monotonic()))
            for i, step in enumerate(self.steps):
                if i:
                    self.read(self.rng.uniform(self.args.read_min, self.args.read_max) * self.args.scale)
                self.do_step(step)
            self._phase("done")
        except Abort:
            pass
        except Exception as exc:  # said in the report, never hidden
            self.errors.append(f"{type(exc).__name__}: {exc}")
            self.state = "failed"
            print(f"  [{self.name} {time.strftime('%H:%M:%S')}] ERROR: {exc}", file=sys.stderr, flush=True)
        finally:
            self.finished = True
            if self.burst is not None and self.burst.moment is None and not self._at_burst:
                self.burst.leave()
            self.leave()

    _at_burst = False

    def do_step(self, step: dict):
        sid = step["id"]
        blocks = [b for b in step["blocks"] if b["applies"]]
        if sid in self.plan["check_first"]:
            self.check(sid, "check before run", expect=False)
        if sid in self.plan["console"]:
            mistake = CONSOLE_MISTAKES[sid]
            for line in mistake["wrong"]:
                self.console(line)
            self.check(sid, f"console mistake: {mistake['what']}", expect=False)
            for line in mistake["undo"]:
                self.console(line)
        burst = self.burst is not None and sid == self.burst.step
        if burst:
            self._at_burst = True
            self.burst.wait(self.stop)
        for n, block in enumerate(blocks):
            record = self.run(sid, block, burst=burst and n == 0)
            codes = record["exit_codes"]  # an expect-fail block: some command fails; else none does
            failed = [c for c in codes if c != 0]
            if not codes or (bool(failed) != bool(block["expect_fail"])):
                self.anomalies.append(f"{sid}#{block['index']}: exit codes {record['exit_codes']} "
                                      f"(expect-fail: {block['expect_fail']})")
        self.check(sid, "solution", expect=True)

    def leave(self):
        """This learner's sandbox goes now (the page's Reset would make a new one)."""
        try:
            answer = self.http.delete(f"{self.url}/api/sandbox", timeout=300)
            if answer.status_code != 200:
                self.errors.append(f"releasing the sandbox: HTTP {answer.status_code} {answer.text[:200]}")
        except requests.RequestException as exc:
            self.errors.append(f"could not release the sandbox: {exc}")
        try:
            self.client.disconnect()
        except Exception:
            pass


# --- the server ----------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`labapp serve` in a session of its own (a Ctrl-C reaches this script, which stops it)."""

    def __init__(self, args):
        self.data = tempfile.mkdtemp(prefix="labapp-bench-workshop-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LABAPP_DATA_DIR": self.data, "LABAPP_CREATES_PER_HOUR": "1000",
               "LABAPP_POOL_SIZE": str(args.pool_size),
               "LABAPP_SANDBOXES_PER_ADDRESS": "0"}  # every learner here comes from 127.0.0.1
        env["LABAPP_OVERLOAD_PER_CORE"] = str(args.overload_per_core)
        if args.max_sandboxes is not None:
            env["LABAPP_MAX_SANDBOXES"] = str(args.max_sandboxes)
        self.log_path = os.path.join(self.data, "server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "labapp.cli", "serve", "--port", str(self.port),
                                      *(["--dev"] if args.dev else [])],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                answer = requests.get(f"{self.url}/api/lessons/{SLUG}?lang=en", timeout=10)
                if answer.status_code == 200:
                    return answer.json()
            except requests.RequestException:
                pass
            time.sleep(0.3)
        why = (f"exited with status {self.proc.returncode} before serving" if self.proc.poll() is not None
               else f"did not answer within {timeout:.0f} s")
        raise Abort(f"`labapp serve` {why}; its log {self.log_path} ends:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def make_workshop(self, capacity: int) -> tuple[str, str]:
        """A workshop of the lesson through the trainer API: (its id, its join code)."""
        with open(os.path.join(self.data, "trainer_token")) as f:
            token = f.read().strip()
        answer = requests.post(f"{self.url}/api/workshops", headers={"Authorization": f"Bearer {token}"},
                               json={"title": "bench/workshop.py", "lessons": [SLUG], "capacity": capacity,
                                     "starts": time.time(), "minutes": 240}, timeout=60)
        if answer.status_code != 201:
            raise Abort(f"could not make the workshop: HTTP {answer.status_code} {answer.text[:300]}")
        made = answer.json()
        self.workshop = (made["id"], token)
        return made["id"], made["code"]

    workshop = None

    def end_workshop(self):
        if self.workshop and self.proc.poll() is None:
            wid, token = self.workshop
            try:
                requests.post(f"{self.url}/api/workshops/{wid}/end", headers={"Authorization": f"Bearer {token}"},
                              timeout=300)
            except requests.RequestException as exc:
                print(f"  could not end the workshop {wid}: {exc}", file=sys.stderr)

    def owner(self) -> str | None:
        try:
            with open(os.path.join(self.data, "instance_id")) as f:
                return f.read().strip()
        except OSError:
            return None

    def stop(self):
        owner = self.owner()
        self.end_workshop()  # its reserved pool sandboxes go with it
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the app removes the sandboxes it holds
            try:
                self.proc.wait(timeout=180)
            except subprocess.TimeoutExpired:
                print("  the server did not stop in 180 s after SIGTERM: killing it", file=sys.stderr)
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.log.close()
        return sweep(owner)


def sweep(owner: str | None) -> list[str]:
    """Remove any sandbox still carrying this run's server's owner label (none, normally);
    return the ids removed. Nothing of anyone else's is touched."""
    if not owner:
        return []
    import docker

    from labapp.sandbox import SwarmSandbox

    client = docker.from_env()
    mine = {"label": f"labapp.owner={owner}"}
    left = {c["Labels"].get("labapp.sandbox") for c in client.api.containers(all=True, filters=mine)}
    left |= {n["Labels"].get("labapp.sandbox") for n in client.api.networks(filters=mine)}
    left |= {v["Labels"].get("labapp.sandbox") for v in client.api.volumes(filters=mine).get("Volumes") or []}
    for sid in sorted(s for s in left if s):
        try:
            SwarmSandbox.attach(client, sid).destroy()
        except Exception as exc:
            print(f"  could not remove leftover sandbox {sid}: {exc}", file=sys.stderr)
    return sorted(s for s in left if s)


# --- a phase: some learners, measured ------------------------------------------------


def run_phase(label: str, learners: list[Learner], sampler: Sampler, server: Server, stop: threading.Event) -> dict:
    with sampler.lock:
        sampler.learners = learners
    cpu0, start, server_cpu0 = host_cpu(), time.monotonic(), process_tree_cpu(server.proc.pid)
    threads = [threading.Thread(target=l.work, args=(start,), name=l.name, daemon=True) for l in learners]
    for t in threads:
        t.start()
    last_note = start
    while any(t.is_alive() for t in threads):
        next(t for t in threads if t.is_alive()).join(timeout=1.0)  # a timeout: Ctrl-C gets through
        if time.monotonic() - last_note >= 30:
            last_note = time.monotonic()
            doing = ", ".join(f"{l.name}:{l.state}" for l in learners)
            print(f"  [{label} +{last_note - start:.0f} s] {doing}", file=sys.stderr, flush=True)
    end, cpu1 = time.monotonic(), host_cpu()
    samples = sampler.between(start, end)
    return {"label": label, "wall": end - start,
            "host_cpu": (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1]),
            "host_cpu_peak": max((s["cpu"] for s in samples), default=float("nan")),
            "mem_available_min": min((s["mem_available"] for s in samples), default=mem_available_mib()),
            "mem_available_start": samples[0]["mem_available"] if samples else mem_available_mib(),
            "server_cpu": process_tree_cpu(server.proc.pid) - server_cpu0, "load_end": os.getloadavg()[0],
            "samples": samples, "learners": learners}


def summarize(phase: dict) -> dict:
    learners = phase["learners"]
    runs = [r for l in learners for r in l.runs]
    checks = [c for l in learners for c in l.checks]
    joins = [l.ready_at - l.joined_at for l in learners if l.ready_at]
    per_learner = []
    for l in learners:
        mem = {"idle": [], "working": []}
        for s in phase["samples"]:
            if l.name in s["learners"]:
                state, mib = s["learners"][l.name]
                mem[state].append(mib)
        per_learner.append({
            "learner": l.name, "mistaken": l.mistaken, "arrival": l.arrival,
            "join_to_ready": (l.ready_at - l.joined_at) if l.ready_at else None, "queued": l.queued,
            "cpu_idle_s": l.cpu["idle"], "idle_s": l.time["idle"],
            "cpu_idle_per_min": l.cpu["idle"] / l.time["idle"] * 60 if l.time["idle"] else None,
            "cpu_working_s": l.cpu["working"], "working_s": l.time["working"],
            "mem_idle_mib": statistics.mean(mem["idle"]) if mem["idle"] else None,
            "mem_working_mib": statistics.mean(mem["working"]) if mem["working"] else None,
            "mem_max_mib": max(mem["idle"] + mem["working"], default=None),
            "errors": l.errors, "anomalies": l.anomalies, "checks": l.checks, "runs": l.runs})
    false_verdicts = [{"learner": l.name, "step": c["step"], "reasons": c["reasons"],
                       "run_anomalies": [a for a in l.anomalies if a.startswith(c["step"] + "#")]}
                      for l in learners for c in l.checks
                      if c["expect"] and not c["passed"] and not c["uncertain"]]
    missed = [{"learner": l.name, "step": c["step"], "mistake": c["kind"]}
              for l in learners for c in l.checks if not c["expect"] and c["passed"]]
    uncertain = [{"learner": l.name, "step": c["step"], "kind": c["kind"]}
                 for l in learners for c in l.checks if c["uncertain"]]

    def pct(values):
        return {"n": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95)}

    steps = {}
    for r in runs:
        steps.setdefault(r["step"], []).append(r["seconds"])
    return {
        "label": phase["label"], "learners": len(learners), "wall_s": phase["wall"],
        "run_s": pct([r["seconds"] for r in runs]),
        "run_to_last_output_s": pct([r["to_last_output"] for r in runs if r["to_last_output"] is not None]),
        "run_tail_s": pct([r["seconds"] - r["to_last_output"] for r in runs if r["to_last_output"] is not None]),
        "run_burst_s": pct([r["seconds"] for r in runs if r["burst"]]),
        "check_s": pct([p for c in checks for p in c["presses"]]),
        "check_solution_s": pct([c["seconds"] for c in checks if c["expect"]]),
        "join_to_ready_s": pct(joins),
        "run_by_step_p50_s": {s: statistics.median(v) for s, v in steps.items()},
        "checks": {"total": len(checks), "solution": sum(c["expect"] for c in checks),
                   "mistakes": sum(not c["expect"] for c in checks),
                   "interim_seen": sum(c["interim"] > 0 for c in checks),
                   "uncertain_rounds": sum(c["uncertain_rounds"] for c in checks)},
        "false_verdicts": false_verdicts, "missed_wrong_answers": missed, "uncertain_at_end": uncertain,
        "queued_learners": sum(bool(l.queued) for l in learners),
        "queue_place_max": max((p for l in learners for _, p in l.queued if isinstance(p, int)), default=0),
        "errors": [{"learner": l.name, "error": e} for l in learners for e in l.errors],
        "run_anomalies": [{"learner": l.name, "anomaly": a} for l in learners for a in l.anomalies],
        "host": {"cpu_busy_mean": phase["host_cpu"], "cpu_busy_peak": phase["host_cpu_peak"],
                 "mem_available_start_mib": phase["mem_available_start"],
                 "mem_available_min_mib": phase["mem_available_min"],
                 "server_cpu_s": phase["server_cpu"], "samples": len(phase["samples"]), "load_end": phase["load_end"]},
        "per_learner": per_learner,
    }


# --- printing ------------------------------------------------------------------------


def fmt(x, digits=2):
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def print_phase(s: dict, cores: int):
    print(f"\n== {s['label']}: {s['learners']} learner(s), wall {s['wall_s']:.1f} s")
    print(f"  Run (Run -> done):           p50 {fmt(s['run_s']['p50'])} s  p95 {fmt(s['run_s']['p95'])} s  "
          f"({s['run_s']['n']} runs)")
    print(f"  Run (Run -> last output):    p50 {fmt(s['run_to_last_output_s']['p50'])} s  "
          f"p95 {fmt(s['run_to_last_output_s']['p95'])} s; last output -> done (exit codes, the map) "
          f"p50 {fmt(s['run_tail_s']['p50'])} s p95 {fmt(s['run_tail_s']['p95'])} s")
    if s["run_burst_s"]["n"]:
        print(f"  Run at the burst (block 0):  p50 {fmt(s['run_burst_s']['p50'])} s  "
              f"p95 {fmt(s['run_burst_s']['p95'])} s  ({s['run_burst_s']['n']} at once)")
    print(f"  Check (Check -> verdict):    p50 {fmt(s['check_s']['p50'])} s  p95 {fmt(s['check_s']['p95'])} s  "
          f"({s['check_s']['n']} checks: {s['checks']['solution']} solutions, {s['checks']['mistakes']} mistakes; "
          f"{s['checks']['interim_seen']} with a 'checking' event; each press counted)")
    print(f"  join -> ready:               p50 {fmt(s['join_to_ready_s']['p50'])} s  "
          f"p95 {fmt(s['join_to_ready_s']['p95'])} s  ({s['queued_learners']} learner(s) queued first, "
          f"the furthest at place {s['queue_place_max']})")
    h = s["host"]
    print(f"  host: CPU busy mean {h['cpu_busy_mean'] * 100:.0f}% of {cores} cores, peak {h['cpu_busy_peak'] * 100:.0f}% "
          f"(over {h['samples']} samples), load average at the end {h['load_end']:.1f}; MemAvailable {h['mem_available_start_mib']:.0f} MiB at start, "
          f"min {h['mem_available_min_mib']:.0f} MiB; labapp server process tree {h['server_cpu_s']:.1f} CPU-s")
    print("  per learner (its sandbox's node containers; idle = reading, working = a Run/Check/console in flight):")
    print("    learner   mistakes  arrive  ready   idle CPU-s/min  working CPU-s (over s)  MiB idle  MiB working  MiB max")
    for p in s["per_learner"]:
        print(f"    {p['learner']:<9} {'yes' if p['mistaken'] else 'no':<9} {p['arrival']:6.1f}  "
              f"{fmt(p['join_to_ready'], 1):>5}   {fmt(p['cpu_idle_per_min']):>14}  "
              f"{fmt(p['cpu_working_s'], 1):>8} ({fmt(p['working_s'], 1):>6})      "
              f"{fmt(p['mem_idle_mib'], 0):>8}  {fmt(p['mem_working_mib'], 0):>11}  {fmt(p['mem_max_mib'], 0):>7}")
    print(f"  false verdicts (the solution ran, the Check failed): {len(s['false_verdicts'])}")
    for f in s["false_verdicts"]:
        print(f"    {f['learner']} step {f['step']}: {'; '.join(f['reasons'])[:400]}"
              + (f"  [run anomalies: {', '.join(f['run_anomalies'])}]" if f["run_anomalies"] else ""))
    print(f"  missed wrong answers (a deliberate mistake passed): {len(s['missed_wrong_answers'])}")
    for m in s["missed_wrong_answers"]:
        print(f"    {m['learner']} step {m['step']}: {m['mistake']}")
    print(f"  uncertain verdicts ('not judged', Check pressed again after each): {s['checks']['uncertain_rounds']}; "
          f"uncertain at end (still not judged after the retries): {len(s['uncertain_at_end'])}"
          + "".join(f"\n    {u['learner']} step {u['step']} ({u['kind']})" for u in s["uncertain_at_end"]))
    if s["run_anomalies"]:
        print(f"  solution commands that exited otherwise than the lesson says: {len(s['run_anomalies'])}")
        for a in s["run_anomalies"][:10]:
            print(f"    {a['learner']} {a['anomaly']}")
    if s["errors"]:
        print(f"  ERRORS: {len(s['errors'])}")
        for e in s["errors"]:
            print(f"    {e['learner']}: {e['error']}")


def ratio(a, b):
    return a / b if a == a and b == b and b else float("nan")


def print_ratios(base: dict, shop: dict) -> dict:
    rows = {}
    print(f"\n== workshop of {shop['learners']} against one learner alone (same host, same run)")
    for key, name in (("run_s", "Run"), ("check_solution_s", "Check (solutions)"), ("join_to_ready_s", "join -> ready")):
        b, w = base[key], shop[key]
        rows[key] = {"p50": ratio(w["p50"], b["p50"]), "p95": ratio(w["p95"], b["p95"])}
        print(f"  {name:<18} alone p50 {fmt(b['p50'])} p95 {fmt(b['p95'])} s; workshop p50 {fmt(w['p50'])} "
              f"p95 {fmt(w['p95'])} s; ratio p50 {fmt(rows[key]['p50'])}x p95 {fmt(rows[key]['p95'])}x")
    print("  Run by step (median s): step, alone, workshop, ratio")
    for step, alone in base["run_by_step_p50_s"].items():
        w = shop["run_by_step_p50_s"].get(step)
        print(f"    {step:<18} {alone:7.2f} {fmt(w):>7} {fmt(ratio(w, alone) if w else None):>6}x")
    return rows


# --- main ----------------------------------------------------------------------------


def parse(argv):
    p = argparse.ArgumentParser(
        prog="python bench/workshop.py",
        description="Simulate a workshop on one real `labapp serve`: N learners (Socket.IO over WebSocket) "
                    f"work through the lesson {SLUG} the way the page does (Run each block, Check each step), "
                    "arriving over a window, reading between steps, some making the lesson's typical mistakes "
                    "first, with one trainer's 'everyone run step N now' burst. One learner alone runs first "
                    "(the baseline). Prints false verdicts, missed wrong answers, p50/p95 of Run, Check and "
                    "join->ready against the baseline, host CPU and memory, and each learner's sandbox CPU and "
                    "memory, idle and working. Every sandbox is removed and the server stopped at the end, "
                    "on Ctrl-C and on a failure.",
        epilog="Development (2 cores shared): python bench/workshop.py -n 3 --scale 0.05. "
               "A real workshop: python bench/workshop.py -n 20 (reading 20-90 s a step, arrivals over 120 s). "
               "Exit status 1 if the server did not start, a learner got no sandbox or failed, or a "
               "verdict was false.")
    p.add_argument("-n", "--learners", type=int, default=3, help="learners in the workshop (default 3)")
    p.add_argument("--seed", type=int, default=1, help="seed of every random choice: arrivals, reading times, "
                                                        "who makes mistakes and where (default 1)")
    p.add_argument("--read-min", type=float, default=20.0, help="shortest reading time a step, in human seconds "
                                                                "(default 20)")
    p.add_argument("--read-max", type=float, default=90.0, help="longest reading time a step (default 90); "
                                                                "drawn uniformly between the two")
    p.add_argument("--arrival", type=float, default=120.0, help="the window over which learners arrive (join), "
                                                                "uniformly, in human seconds (default 120)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every human time (reading, arrival window) by this: 0.05 makes a 20-90 s read "
                        "1-4.5 s, for a short development run (default 1: real time)")
    p.add_argument("--mistakes", type=float, default=0.3,
                   help="the share of learners (chosen by the seed) who first make the lesson's typical "
                        f"mistakes: Check before Run at {CHECK_FIRST_STEPS} steps, and at "
                        f"{' and '.join(CONSOLE_MISTAKES)} the wrong console line ({'; '.join(m['what'] for m in CONSOLE_MISTAKES.values())}); "
                        "each such Check must FAIL, then the fix must PASS (default 0.3)")
    p.add_argument("--burst-step", default=BURST_DEFAULT,
                   help=f"the step at which the trainer says 'everyone run it now': learners wait there until "
                        f"all still working have come, then all press Run at once ('none': no burst; default "
                        f"{BURST_DEFAULT}, the ping step)")
    p.add_argument("--no-baseline", action="store_true", help="skip the learner alone (no ratios)")
    p.add_argument("--sample-every", type=float, default=2.0, help="seconds between host and memory samples (default 2)")
    p.add_argument("--uncertain-wait", type=float, default=60.0,
                   help="after a verdict marked uncertain ('not judged: the lab is too slow; press Check again in a "
                        "minute'), the human seconds the learner waits before pressing Check again (x --scale; "
                        "default 60)")
    p.add_argument("--uncertain-retries", type=int, default=2,
                   help="how many times a learner presses Check again after an uncertain verdict before the step "
                        "counts as 'uncertain at end' (default 2)")
    p.add_argument("--max-sandboxes", type=int, default=None,
                   help="LABAPP_MAX_SANDBOXES for the server (default: the app's own, from the host's capacity)")
    p.add_argument("--overload-per-core", type=float, default=0,
                   help="LABAPP_OVERLOAD_PER_CORE for the server: the host load per core at which a self-paced "
                        "learner (these are: no workshop code) gets no new sandbox; default 0 (off), since in a "
                        "begun workshop the app does not refuse on load and other work on a shared host must not "
                        "refuse the baseline")
    p.add_argument("--pool-size", type=int, default=0, help="LABAPP_POOL_SIZE for the server (default 0: every "
                                                            "sandbox made on join)")
    p.add_argument("--workshop", action="store_true",
                   help="the learners join a real workshop (made through the trainer API with the server's "
                        "token: capacity N, starting now) with its code before opening the lesson, as a room "
                        "does: the app then reserves pool sandboxes for it and admits them as a workshop's "
                        "learners; the baseline stays self-paced. Default: self-paced learners")
    p.add_argument("--dev", action="store_true", help="`labapp serve --dev` (Werkzeug) instead of Gunicorn")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="also write a JSON summary, to FILE or (no FILE) to stdout after the text")
    args = p.parse_args(argv)
    if args.learners < 1 or not 0 <= args.mistakes <= 1 or args.read_min < 0 or args.read_max < args.read_min \
            or args.scale <= 0 or args.arrival < 0:
        p.error("need -n >= 1, 0 <= --mistakes <= 1, 0 <= --read-min <= --read-max, --scale > 0, --arrival >= 0")
    return args


def main(argv) -> int:
    args = parse(argv)
    rng = random.Random(args.seed)
    cores = os.cpu_count() or 1
    burst_step = None if args.burst_step == "none" else args.burst_step
    arrivals = sorted(rng.uniform(0, args.arrival) for _ in range(args.learners))
    n_mistaken = round(args.mistakes * args.learners)
    mistaken = set(rng.sample(range(args.learners), n_mistaken))
    seeds = [rng.randrange(2**32) for _ in range(args.learners + 1)]

    print(f"workshop simulation, lesson {SLUG}: N={args.learners}, seed {args.seed}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cores} cores, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"  arrivals: uniform over 0-{args.arrival:.0f} s x scale {args.scale:g} = 0-{args.arrival * args.scale:.1f} s "
          f"(at {', '.join(f'{a * args.scale:.1f}' for a in arrivals)} s)")
    print(f"  reading: uniform {args.read_min:g}-{args.read_max:g} s a step x scale {args.scale:g} = "
          f"{args.read_min * args.scale:.1f}-{args.read_max * args.scale:.1f} s")
    print(f"  mistakes: {args.mistakes:.0%} of learners = {n_mistaken} "
          f"({', '.join(f'learner{i + 1}' for i in sorted(mistaken)) or 'none'}); "
          f"burst: {burst_step or 'none'}; baseline: {'no' if args.no_baseline else 'one learner alone, first'}")
    print(f"  server: labapp serve{' --dev' if args.dev else ''} (pool {args.pool_size}, max sandboxes "
          f"{args.max_sandboxes if args.max_sandboxes is not None else 'the app default'}, overload per core "
          f"{args.overload_per_core:g}), every learner its own "
          f"session on /lab over WebSocket", flush=True)

    stop = threading.Event()

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)

    server, sampler, code, summary = None, None, 0, {}
    all_learners: list[Learner] = []
    try:
        server = Server(args)
        detail = server.wait_ready()
        steps = detail["steps"]
        ids = [s["id"] for s in steps]
        if burst_step and burst_step not in ids:
            raise Abort(f"--burst-step {burst_step}: the lesson has {', '.join(ids)}")
        cgroups = Cgroups()
        sampler = Sampler(args.sample_every, cgroups)
        sampler.start()
        summary = {"seed": args.seed, "learners": args.learners, "lesson": SLUG,
                   "reading_s": [args.read_min, args.read_max], "distribution": "uniform",
                   "arrival_window_s": args.arrival, "scale": args.scale, "mistakes_share": args.mistakes,
                   "mistaken": sorted(f"learner{i + 1}" for i in mistaken), "burst_step": burst_step,
                   "cores": cores, "server": "dev" if args.dev else "gunicorn"}
        base = None
        if not args.no_baseline:
            alone = Learner("alone", server.url, steps, random.Random(seeds[-1]), args, cgroups, False, 0.0,
                            None, stop)
            all_learners.append(alone)
            print("\nbaseline: one learner alone ...", file=sys.stderr, flush=True)
            base = summarize(run_phase("one learner alone", [alone], sampler, server, stop))
            print_phase(base, cores)
            summary["baseline"] = base
            if base["errors"]:
                raise Abort("the learner alone failed: " + "; ".join(e["error"] for e in base["errors"]))
        burst = Burst(burst_step, args.learners) if burst_step else None
        join_code = None
        if args.workshop:
            wid, join_code = server.make_workshop(args.learners)
            summary["workshop_code"] = join_code
            print(f"\nworkshop {wid} made (code {join_code}, capacity {args.learners}); learners join it first",
                  file=sys.stderr, flush=True)
        learners = [Learner(f"learner{i + 1}", server.url, steps, random.Random(seeds[i]), args, cgroups,
                            i in mistaken, arrivals[i] * args.scale, burst, stop) for i in range(args.learners)]
        for learner in learners:
            learner.code = join_code
        all_learners.extend(learners)
        print(f"\nworkshop: {args.learners} learners ...", file=sys.stderr, flush=True)
        shop = summarize(run_phase(f"workshop of {args.learners}", learners, sampler, server, stop))
        print_phase(shop, cores)
        summary["workshop"] = shop
        if base:
            summary["ratios"] = print_ratios(base, shop)
        bad = []
        for s in (base, shop):
            if s is None:
                continue
            no_sandbox = [p["learner"] for p in s["per_learner"] if p["join_to_ready"] is None]
            if no_sandbox:
                bad.append(f"{s['label']}: no sandbox for {', '.join(no_sandbox)}")
            if s["errors"]:
                bad.append(f"{s['label']}: {len(s['errors'])} learner error(s)")
            if s["false_verdicts"]:
                bad.append(f"{s['label']}: {len(s['false_verdicts'])} false verdict(s)")
            if s["missed_wrong_answers"]:
                bad.append(f"{s['label']}: {len(s['missed_wrong_answers'])} missed wrong answer(s)")
        if bad:
            print("\nFAILED: " + "; ".join(bad), file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        print(f"\ninterrupted at {time.strftime('%H:%M:%S')}: stopping the learners, removing their sandboxes, stopping the server",
              file=sys.stderr, flush=True)
        code = 130
    except Abort as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        stop.set()
        for l in all_learners:
            if not l.finished:
                l.leave()
        if code == 130:  # after Ctrl-C the report is not printed: say what releasing found
            for l in all_learners:
                for e in l.errors:
                    if e.startswith(("releasing", "could not release")):
                        print(f"  {l.name}: {e}", file=sys.stderr)
        if sampler is not None:
            sampler.stop.set()
        if server is not None:
            try:
                left = server.stop()
            except KeyboardInterrupt:
                left = server.stop()
            if left:
                print(f"  removed {len(left)} sandbox(es) the server left: {', '.join(left)}", file=sys.stderr)
                code = code or 1
            else:
                print("cleanup: the server stopped, no sandbox of this run left", file=sys.stderr, flush=True)
            if code == 0:
                shutil.rmtree(server.data, ignore_errors=True)
            else:
                print(f"  the server's log and data: {server.data}", file=sys.stderr)
    if args.json and summary:
        text = json.dumps(summary, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
