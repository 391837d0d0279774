"""Many learners' pages across two app instances sharing PostgreSQL and Redis (docs/scale.md,
"More than one app instance"): the latency of a trainer's broadcast to every page and of the
dashboards' redraws, against a floor of the same on one instance without Redis.

Sandboxes are simulated (LABAPP_BACKEND=loadtest, labapp/sandbox/loadtest.py: made at once,
every command answered at once with a canned line), so that the host holds a thousand
learners' pages: what is measured is the web layer, Socket.IO and the message queue.

Each run, in one process, one phase after the other, each with a fresh PostgreSQL
(tests/servers.py):
  floor:   one `labapp serve`, no Redis, every learner's page on it; or, when one instance
           cannot hold N connections (labapp/cli/production.py CONNECTIONS, said), one
           instance's share, N/2 pages, in the same number of workshops;
  cluster: two `labapp serve` (A and B, started one after the other) with
           LABAPP_MESSAGE_QUEUE on one Redis; each workshop's learners on A and B in turn.
A learner: GET / (the cookie), POST /api/join {code, name}, then a python-socketio
AsyncClient on /lab over WebSocket only (aiohttp: the `bench` extra; one asyncio loop holds
every client; this process's own loop lag is printed). A workshop holds at most 500
learners (its capacity), so N learners are spread over ceil((N + joins) / 500) workshops,
each with the capacity of its learners (so that no pool reservation is made).

  (a) broadcast: the trainer POSTs /api/workshops/<id>/broadcast on A (the floor: its one
      instance) with a unique text, one workshop after the other, --broadcasts rounds; the
      latency of each page is its `broadcast` event's arrival less the time the POST was
      sent. p50/p95/max, by the instance that serves the page.
  (b) dashboard: two trainer dashboards (/trainer, `Authorization: Bearer` on the
      handshake), one on each instance (the floor: both on its one), `watch` the first
      workshop; an action on A or B in turn: a new learner joins (POST /api/join), or a
      learner with a simulated sandbox checks a step (POST .../check) that then passes;
      the latency is from the action's request to the first `roster` on each dashboard
      that shows it. The app waits ROSTER_DELAY (0.3 s, labapp/web/events.py) to gather
      changes before it redraws: both the floor and the cluster include it.

Each phase also prints: the broadcast request's own time (the app makes its emits within
it), the CPU each instance's worker takes in --idle seconds of idle pages, its CPU seconds,
RSS and threads at the end, Redis' CPU and the subscribers of the Socket.IO channel, and
pages whose socket the server closed; at the end this client's CPU. Every server process,
database and temporary directory is removed at the end, on a failure and on Ctrl-C /
SIGTERM (the servers run under `setpriv --pdeathsig`: a killed bench leaves none). Exit
status 1 when a page missed a broadcast, a dashboard missed an action or a learner could
not join. Needs Debian's PostgreSQL and Redis (`make cluster-services`) and the `bench`
extra (`pip install -e '.[bench]'`). Usage:

    python bench/web_scale.py [-n 1000] [--broadcasts 5] [--joins 10] [--checks 10] [--idle 30]
                              [--floor-n N] [--no-floor] [--no-cluster] [--capacity C]
                              [--connect-at-once 20] [--logs DIR]
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from labapp.cli.production import CONNECTIONS, THREADS_KEPT_FOR_REQUESTS  # noqa: E402
from labapp.web.events import ROSTER_DELAY  # noqa: E402
from tests.lesson_text import lesson, step  # noqa: E402
from tests.servers import postgres_server, redis_server  # noqa: E402

try:
    import aiohttp
    import socketio
except ImportError as exc:  # the `bench` extra
    sys.exit(f"bench/web_scale.py needs aiohttp ({exc}): .venv/bin/pip install -e '.[bench]'")

SLUG = "webscale"
STEP = "first"
WORKSHOP_MAX = 500  # a workshop's largest capacity (labapp/workshop/__init__.py, Workshops.create)
READY_SECONDS = 180  # for an instance to answer
WAIT_SECONDS = 60  # for a broadcast to reach every page, a roster to show an action
REQUEST = aiohttp.ClientTimeout(total=120)  # an HTTP request, answer included
INSTANCES: list["Instance"] = []  # every instance started, all stopped at the end whatever happens
LESSON = lesson([step("First", STEP, "docker node ls", "exit: zero"),
                 step("Second", "second", "docker node ls", "exit: zero")],
                title="Web scale", summary="The lesson of bench/web_scale.py, for simulated sandboxes.")


class Abort(Exception):
    """The run cannot go on."""


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(values) -> str:
    if not values:
        return "none"
    return (f"p50 {statistics.median(values):.0f} p95 {percentile(values, 0.95):.0f} max {max(values):.0f} "
            f"({len(values)})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the app instances ----------------------------------------------------------------------

class Instance:
    """One `labapp serve` (Gunicorn, loadtest backend) in a data directory of its own."""

    def __init__(self, name: str, root: str, env: dict, threads: int):
        self.name = name
        self.data = tempfile.mkdtemp(prefix=f"data-{name}-", dir=root)
        self.log = os.path.join(root, f"serve-{name}.log")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "LABAPP_DATA_DIR": self.data}
        self.threads = threads
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        INSTANCES.append(self)
        argv = [sys.executable, "-m", "labapp.cli", "serve", "--port", str(self.port), "--threads", str(self.threads)]
        if shutil.which("setpriv"):  # the server ends with this process even if it is killed
            argv = ["setpriv", "--pdeathsig", "TERM", "--", *argv]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    async def ready(self, http) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Abort(f"instance {self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                async with http.get(f"{self.url}/api/lessons", timeout=aiohttp.ClientTimeout(total=10)) as answer:
                    if answer.status == 200 and SLUG in await answer.text():
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.3)
        raise Abort(f"instance {self.name} did not answer within {READY_SECONDS} s:\n{self.tail()}")

    def tail(self, size=3000) -> str:
        try:
            with open(self.log, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log) - size))
                return f.read().decode(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"

    def worker(self) -> int | None:
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                children = f.read().split()
            return int(children[0]) if children else None
        except (OSError, AttributeError):
            return None

    def usage(self) -> dict:
        """The worker's CPU seconds (user + system), RSS (MiB) and threads, now."""
        pid = self.worker()
        if pid is None:
            return {}
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            return {}
        ticks = os.sysconf("SC_CLK_TCK")
        return {"cpu": (int(fields[11]) + int(fields[12])) / ticks,
                "rss": int(status["VmRSS"].split()[0]) / 1024, "threads": int(status["Threads"])}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


# --- the clients ----------------------------------------------------------------------------

def new_session() -> aiohttp.ClientSession:
    # unsafe: keep cookies of 127.0.0.1; force_close: no idle kept-alive connection holds one of
    # the instance's connections (CONNECTIONS) once a request is answered
    # (no session-wide total timeout: the WebSocket made through this session lives on; each
    # HTTP request has its own, REQUEST)
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 connector=aiohttp.TCPConnector(force_close=True, limit=0),
                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=60))


async def checked(answer, what: str):
    if answer.status >= 400:
        raise Abort(f"{what}: {answer.status} {(await answer.text())[:300]}")
    return await answer.json() if answer.content_type == "application/json" else await answer.text()


class Learner:
    def __init__(self, index: int, instance: Instance, workshop: dict):
        self.index = index
        self.name = f"L{index:05d}"
        self.instance = instance
        self.workshop = workshop
        self.http: aiohttp.ClientSession | None = None
        self.sio: socketio.AsyncClient | None = None
        self.dropped: float | None = None  # when the server closed this page's socket

    async def join(self) -> float:
        """The cookie and the join; returns when POST /api/join was sent (perf_counter)."""
        self.http = new_session()
        async with self.http.get(f"{self.instance.url}/", timeout=REQUEST) as answer:
            await checked(answer, f"GET / for {self.name}")
        sent = time.perf_counter()
        async with self.http.post(f"{self.instance.url}/api/join", timeout=REQUEST,
                                  json={"code": self.workshop["code"], "name": self.name}) as answer:
            await checked(answer, f"join of {self.name}")
        return sent

    async def connect(self, on_broadcast) -> None:
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=self.http)

        async def broadcast(data):
            on_broadcast(self, data.get("message"), time.perf_counter())
        self.sio.on("broadcast", broadcast, namespace="/lab")

        async def gone(*_):
            self.dropped = time.perf_counter()
        self.sio.on("disconnect", gone, namespace="/lab")
        await self.sio.connect(self.instance.url, namespaces=["/lab"], transports=["websocket"], wait_timeout=60)

    async def post(self, path: str, body: dict, what: str):
        async with self.http.post(f"{self.instance.url}{path}", json=body, timeout=REQUEST) as answer:
            return await checked(answer, what)

    async def close(self) -> None:
        if self.sio is not None:
            try:
                await asyncio.wait_for(self.sio.disconnect(), 10)
            except Exception:  # noqa: BLE001 - the server may be gone already
                pass
        if self.http is not None:
            await self.http.close()


class Dashboard:
    """A trainer's dashboard socket watching one workshop; each `roster` is checked against
    the actions still pending."""

    def __init__(self, label: str, instance: Instance, token: str):
        self.label = label
        self.instance = instance
        self.token = token
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.pending: dict[str, tuple[float, object]] = {}  # action -> (sent, roster -> bool)
        self.seen: dict[str, float] = {}  # action -> latency, ms
        self.rosters = 0
        self.size = 0  # the largest roster, bytes of JSON
        self.first = asyncio.Event()

    async def watch(self, wid: str) -> None:
        async def roster(data):
            now = time.perf_counter()
            self.rosters += 1
            self.size = max(self.size, len(json.dumps(data)))
            self.first.set()
            for action, (sent, shows) in list(self.pending.items()):
                if shows(data):
                    self.seen[action] = (now - sent) * 1000
                    del self.pending[action]
        self.sio.on("roster", roster, namespace="/trainer")
        await self.sio.connect(self.instance.url, namespaces=["/trainer"], transports=["websocket"],
                               headers={"Authorization": f"Bearer {self.token}"}, wait_timeout=60)
        await self.sio.emit("watch", {"workshop": wid}, namespace="/trainer")
        await asyncio.wait_for(self.first.wait(), WAIT_SECONDS)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.sio.disconnect(), 10)
        except Exception:  # noqa: BLE001
            pass


def row_of(roster: dict, name: str) -> dict | None:
    return next((r for r in roster.get("learners", []) if r.get("name") == name), None)


class LoopLag:
    """The client's own event loop lag (a tick every 10 ms): how late this process itself
    was to read what arrived."""

    def __init__(self):
        self.worst = 0.0
        self.task = None

    async def _tick(self):
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, (time.perf_counter() - before - 0.01) * 1000)

    def start(self):
        self.task = asyncio.get_running_loop().create_task(self._tick())

    def take(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst


# --- one phase ------------------------------------------------------------------------------

async def phase(label: str, instances: list[Instance], n: int, count: int, args, token: str,
                redis_url: str | None) -> dict:
    """Start INSTANCES, join N learners to COUNT workshops, measure (a) and (b); the figures
    and usage."""
    trainer = new_session()
    trainer.headers["Authorization"] = f"Bearer {token}"
    learners: list[Learner] = []
    dashboards: list[Dashboard] = []
    lag = LoopLag()
    lag.start()
    try:
        for instance in instances:
            # one after the other: two instances that start at once on an empty PostgreSQL
            # race to create the tables, and one fails to boot (labapp/store.py, Store())
            instance.start()
            await instance.ready(trainer)
        a = instances[0]
        workshops = []
        for w in range(count):
            # the room: its learners (and the first's newcomers), so that the workshop's
            # pool reservation (capacity less those present) is nothing once they are in
            room = args.capacity or len(range(w, n, count)) + (args.joins if w == 0 else 0)
            async with trainer.post(f"{a.url}/api/workshops", timeout=REQUEST, json={
                    "title": f"web scale {label} {w + 1}", "lessons": [SLUG], "capacity": room,
                    "minutes": 600}) as answer:
                workshops.append(await checked(answer, "create a workshop"))
        # learner i: workshop i % COUNT, and within each workshop A and B in turn
        learners = [Learner(i, instances[(i // count) % len(instances)], workshops[i % count]) for i in range(n)]

        # (a) needs: who got which text when
        expected: dict[str, set[int]] = {}
        arrived: dict[str, dict[int, float]] = {}
        complete: dict[str, asyncio.Event] = {}

        def on_broadcast(learner: Learner, text, at: float):
            if text in expected and learner.index in expected[text]:
                arrived[text].setdefault(learner.index, at)
                if len(arrived[text]) == len(expected[text]):
                    complete[text].set()

        started = time.perf_counter()
        gate = asyncio.Semaphore(args.connect_at_once)
        failures = []

        async def arrive(learner: Learner):
            async with gate:
                try:
                    await asyncio.wait_for(learner.join(), REQUEST.total)
                    await asyncio.wait_for(learner.connect(on_broadcast), REQUEST.total)
                except Exception as exc:  # noqa: BLE001 - counted and said (a timeout too)
                    failures.append(f"{learner.name} on {learner.instance.name}: {type(exc).__name__}: {exc}")
        await asyncio.gather(*(arrive(learner) for learner in learners))
        joined = time.perf_counter() - started
        connected = [le for le in learners if le.sio is not None and le.sio.connected]
        print(f"{label}: {len(connected)}/{n} learners joined and connected in {joined:.1f} s "
              f"({len(workshops)} workshops; {', '.join(f'{i.name} {sum(1 for le in connected if le.instance is i)}' for i in instances)})",
              flush=True)
        if failures:
            print(f"  {len(failures)} failed, e.g. {failures[:3]}", flush=True)
            if len(failures) > n // 10:
                raise Abort(f"{label}: {len(failures)} of {n} learners could not join or connect")

        # (b) needs: the dashboards, and learners with a simulated sandbox and a step run
        watched = workshops[0]
        on_dash = instances if len(instances) > 1 else instances * 2
        dashboards = [Dashboard(f"dashboard {k + 1} on {i.name}", i, token) for k, i in enumerate(on_dash)]
        for dashboard in dashboards:
            await dashboard.watch(watched["id"])
        by_instance = [[le for le in connected if le.workshop is watched and le.instance is i] for i in instances]
        checkers = [le for turn in itertools.zip_longest(*by_instance) for le in turn if le][:args.checks]
        for learner in checkers:
            await learner.post(f"/api/lessons/{SLUG}/sandbox", {}, f"sandbox of {learner.name}")
            await learner.post(f"/api/lessons/{SLUG}/steps/{STEP}/run", {"block": 0}, f"run of {learner.name}")
        await asyncio.sleep(1.0)
        # idle: every page connected, nothing happening (Engine.IO's pings every 25 s)
        before = {i.name: i.usage().get("cpu", 0.0) for i in instances}
        await asyncio.sleep(args.idle)
        idle = {i.name: (i.usage().get("cpu", 0.0) - before[i.name]) * 60 / args.idle for i in instances}
        lag.take()

        # (a) the broadcasts
        broadcast: dict[str, list[float]] = {i.name: [] for i in instances}
        missing = 0
        lags = []
        posts = []  # the broadcast request, sent to answered (the app's emits are made within it)
        for r in range(args.broadcasts):
            for w, workshop in enumerate(workshops):
                text = f"web scale {label} {r + 1}.{w + 1} {secrets.token_hex(4)}"
                members = [le for le in connected if le.workshop is workshop]
                expected[text] = {le.index for le in members}
                arrived[text] = {}
                complete[text] = asyncio.Event()
                sent = time.perf_counter()
                async with trainer.post(f"{a.url}/api/workshops/{workshop['id']}/broadcast",
                                        json={"message": text}, timeout=REQUEST) as answer:
                    await checked(answer, "broadcast")
                posts.append((time.perf_counter() - sent) * 1000)
                try:
                    await asyncio.wait_for(complete[text].wait(), WAIT_SECONDS)
                except asyncio.TimeoutError:
                    pass
                missing += len(expected[text]) - len(arrived[text])
                for le in members:
                    if le.index in arrived[text]:
                        broadcast[le.instance.name].append((arrived[text][le.index] - sent) * 1000)
                lags.append(lag.take())
                await asyncio.sleep(0.5)

        # (b) the dashboards: joins and checks, on A and B in turn
        actions = [("join", k) for k in range(args.joins)] + [("check", k) for k in range(len(checkers))]
        random.Random(7).shuffle(actions)
        by_action: dict[str, list[float]] = {"join": [], "check": []}
        newcomers = []
        unseen = 0
        for number, (kind, k) in enumerate(actions):
            key = f"{kind}-{k}"
            if kind == "join":
                newcomer = Learner(n + k, instances[number % len(instances)], watched)
                newcomer.http = new_session()
                newcomers.append(newcomer)
                async with newcomer.http.get(f"{newcomer.instance.url}/", timeout=REQUEST) as answer:
                    await checked(answer, f"GET / for {newcomer.name}")
                shows = (lambda name: lambda roster: row_of(roster, name) is not None)(newcomer.name)
                request = newcomer.post("/api/join", {"code": watched["code"], "name": newcomer.name},
                                        f"join of {newcomer.name}")
            else:
                learner = checkers[k]
                shows = (lambda name: lambda roster: (row_of(roster, name) or {}).get("passed", 0) >= 1)(learner.name)
                request = learner.post(f"/api/lessons/{SLUG}/steps/{STEP}/check", {}, f"check of {learner.name}")
            sent = time.perf_counter()
            for dashboard in dashboards:
                dashboard.pending[key] = (sent, shows)
            await request
            deadline = time.monotonic() + WAIT_SECONDS
            while any(key in d.pending for d in dashboards) and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            for dashboard in dashboards:
                if dashboard.pending.pop(key, None) is not None:
                    unseen += 1
                elif key in dashboard.seen:
                    by_action[kind].append(dashboard.seen[key])
            await asyncio.sleep(random.Random(number).uniform(0.4, 0.8))  # apart from the last redraw
        learners += newcomers

        dropped = {i.name: sum(1 for le in connected if le.instance is i and le.dropped) for i in instances}
        usage = {i.name: i.usage() for i in instances}
        redis_cpu = subscribers = None
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            info = client.info("cpu")
            redis_cpu = info["used_cpu_user"] + info["used_cpu_sys"]
            # one Socket.IO listener per instance is expected (each instance's python-socketio
            # subscribes once, at its first connection): a sanity check that both listen
            subscribers = dict(client.pubsub_numsub("webscale:socketio"))[b"webscale:socketio"]
            client.close()
        return {"label": label, "n": n, "connected": len(connected), "joined_seconds": joined,
                "workshops": len(workshops), "broadcast": broadcast, "missing": missing, "lag": lags, "posts": posts,
                "roster_kib": max(d.size for d in dashboards) / 1024,
                "dashboards": {d.label: sorted(d.seen.values()) for d in dashboards}, "by_action": by_action,
                "unseen": unseen, "dropped": dropped, "usage": usage, "redis_cpu": redis_cpu,
                "subscribers": subscribers, "idle": idle, "failures": len(failures)}
    finally:
        lag.task.cancel()
        await asyncio.gather(*(d.close() for d in dashboards), return_exceptions=True)
        gate = asyncio.Semaphore(50)  # a few at a time: a thousand server threads woken at once is a load spike

        async def close(learner):
            async with gate:
                await learner.close()
        closing = asyncio.gather(*(close(le) for le in learners), return_exceptions=True)
        try:
            await asyncio.wait_for(closing, 120)
        except asyncio.TimeoutError:
            pass
        await trainer.close()
        for instance in instances:
            instance.stop()
            if args.logs:
                shutil.copy(instance.log, args.logs)


def run(coroutine) -> dict:
    """asyncio.run, with SIGTERM cancelling the phase as Ctrl-C does (its clean-up runs)."""
    async def guarded():
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
        return await coroutine
    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


def report(result: dict, floor: dict | None) -> None:
    print(f"\n{result['label']}: {result['connected']} learners' pages over {len(result['usage'])} instance(s), "
          f"{result['workshops']} workshops; joined and connected in {result['joined_seconds']:.1f} s")
    every = [v for values in result["broadcast"].values() for v in values]
    print(f"  broadcast (POST sent -> page's `broadcast` event), ms: all {summary(every)}"
          + (f"; MISSING {result['missing']}" if result["missing"] else ""))
    if len(result["broadcast"]) > 1:
        for name, values in result["broadcast"].items():
            how = "the POST's own instance" if name == "A" else "through Redis from A"
            print(f"    pages on {name} ({how}): {summary(values)}")
    print(f"  the broadcast request itself (sent -> answered; the emits are made within it), ms: "
          f"{summary(result['posts'])}")
    print(f"  this client's worst loop lag per broadcast, ms: median {statistics.median(result['lag']):.0f}, "
          f"max {max(result['lag']):.0f}")
    print(f"  dashboard (action sent -> first `roster` showing it; includes ROSTER_DELAY {ROSTER_DELAY * 1000:.0f} ms), "
          f"ms (the largest roster: {result['roster_kib']:.0f} KiB of JSON):"
          + (f" UNSEEN {result['unseen']}" if result["unseen"] else ""))
    for label, values in result["dashboards"].items():
        print(f"    {label}: {summary(values)}")
    for kind, values in result["by_action"].items():
        print(f"    by action, {kind}: {summary(values)}")
    if any(result["dropped"].values()):
        print(f"  pages whose socket the server closed: {result['dropped']}")
    for name, use in result["usage"].items():
        if use:
            print(f"  instance {name}: worker CPU {use['cpu']:.1f} s in all, {result['idle'][name]:.1f} s a minute "
                  f"while every page idles; RSS {use['rss']:.0f} MiB, {use['threads']} threads")
    if result["redis_cpu"] is not None:
        print(f"  Redis CPU {result['redis_cpu']:.1f} s; subscribers of the Socket.IO channel: {result['subscribers']}"
              + ("" if result["subscribers"] == len(result["usage"]) else
                 f" (NOT one per instance: {len(result['usage'])} expected)"))
    if floor is not None:
        mine = [v for values in result["broadcast"].values() for v in values]
        low = [v for values in floor["broadcast"].values() for v in values]
        dash = [v for values in result["dashboards"].values() for v in values]
        dash_low = [v for values in floor["dashboards"].values() for v in values]
        if mine and low and dash and dash_low:
            print(f"  ratio to the floor ({floor['connected']} pages on one instance, no Redis): broadcast "
                  f"p50 {statistics.median(mine) / statistics.median(low):.2f}x p95 "
                  f"{percentile(mine, 0.95) / percentile(low, 0.95):.2f}x; dashboard p50 "
                  f"{statistics.median(dash) / statistics.median(dash_low):.2f}x p95 "
                  f"{percentile(dash, 0.95) / percentile(dash_low, 0.95):.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="learners' pages (default 1000)")
    parser.add_argument("--broadcasts", type=int, default=5, help="broadcast rounds (one per workshop each)")
    parser.add_argument("--joins", type=int, default=10, help="learners who join while the dashboards watch")
    parser.add_argument("--checks", type=int, default=10, help="learners who check a step while they watch")
    parser.add_argument("--floor-n", type=int, default=0,
                        help="pages in the floor (default N, or N/2 when one instance cannot hold N connections)")
    parser.add_argument("--capacity", type=int, default=0,
                        help="each workshop's capacity (default: its learners; more makes each instance's "
                             "pool reserve the places not taken, simulated sandboxes)")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--no-cluster", action="store_true")
    parser.add_argument("--connect-at-once", type=int, default=20, help="learners arriving at once")
    parser.add_argument("--idle", type=float, default=30, help="seconds of idle pages whose CPU is measured")
    parser.add_argument("--logs", metavar="DIR", help="copy each instance's log (serve-NAME.log) to DIR")
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix="labapp-webscale-")

    def stop(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    token = secrets.token_urlsafe(24)
    lessons = os.path.join(root, "lessons")
    os.makedirs(lessons)
    with open(os.path.join(lessons, f"{SLUG}.en.md"), "w", encoding="utf-8") as f:
        f.write(LESSON)
    count = max(1, math.ceil((args.n + args.joins) / WORKSHOP_MAX))  # workshops, in both phases
    base = {**os.environ, "LABAPP_BACKEND": "loadtest", "LABAPP_LESSONS_DIR": lessons,
            "LABAPP_SECRET_KEY": secrets.token_hex(32), "LABAPP_TRAINER_TOKEN": token,
            "LABAPP_POOL_SIZE": "0", "LABAPP_SANDBOXES_PER_ADDRESS": "0",
            # simulated sandboxes: the workshops' capacity is only a number to admit
            "LABAPP_MAX_SANDBOXES": str(max(args.n + args.joins, args.capacity * count) + 16),
            # every learner here comes from 127.0.0.1: the per-address rates a sandbox and a
            # check count against are off (joins with the right code and pages are not limited)
            "LABAPP_RATE_SANDBOXES": "", "LABAPP_RATE_COMMANDS": "",
            "LABAPP_CLUSTER_NAME": "webscale"}
    floor_n = args.floor_n or (args.n if args.n + 2 * args.joins + 16 <= CONNECTIONS else args.n // 2)
    code = 0
    started = time.time()
    try:
        print(f"web scale: {args.n} learners, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
              f"at the start, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
        floor = None
        if not args.no_floor:
            if floor_n < args.n:
                print(f"floor: {floor_n} pages (one instance's share, in the same {count} workshops), not {args.n}: "
                      f"one instance holds at most {CONNECTIONS} connections, WebSockets included "
                      "(labapp/cli/production.py CONNECTIONS, Gunicorn's worker_connections)", flush=True)
            with postgres_server(root) as database:
                single = Instance("floor", root, {**base, "LABAPP_DATABASE_URL": database},
                                  threads=max(256, floor_n + THREADS_KEPT_FOR_REQUESTS + 32))
                floor = run(phase("floor", [single], floor_n, count, args, token, None))
            report(floor, None)
        if args.no_cluster:
            return code
        per = math.ceil(args.n / 2) + args.joins
        with redis_server(root) as queue, postgres_server(root) as database:
            env = {**base, "LABAPP_DATABASE_URL": database, "LABAPP_MESSAGE_QUEUE": queue}
            pair = [Instance(name, root, env, threads=max(256, per + THREADS_KEPT_FOR_REQUESTS + 32))
                    for name in ("A", "B")]
            cluster = run(phase("cluster", pair, args.n, count, args, token, queue))
        report(cluster, floor)
        use = resource.getrusage(resource.RUSAGE_SELF)
        print(f"\nthis client (one asyncio process): CPU {use.ru_utime + use.ru_stime:.1f} s, max RSS "
              f"{use.ru_maxrss / 1024:.0f} MiB; wall {time.time() - started:.0f} s; load average "
              f"{os.getloadavg()[0]:.1f} at the end")
        if cluster["missing"] or cluster["unseen"] or cluster["failures"] or cluster["subscribers"] != 2:
            code = 1
    except Abort as exc:
        print(f"web scale: {exc}", file=sys.stderr)
        code = 1
    except (asyncio.TimeoutError, aiohttp.ClientError, socketio.exceptions.ConnectionError) as exc:
        print(f"web scale: gave up: {type(exc).__name__}: {exc} (a server that does not answer; "
              "--logs DIR keeps the instances' logs)", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("web scale: interrupted; everything is being stopped", file=sys.stderr)
        code = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for instance in INSTANCES:  # stopped already, unless interrupted
            instance.stop()
        shutil.rmtree(root, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
