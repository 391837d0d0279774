"""Console filters: the app's own filters against the same lines run by `sh -c` on this host
(GNU grep/coreutils/jq, LC_ALL=C.UTF-8), for a small and a 200 KiB input; then three ways
to isolate jq (the fork server the app uses, one process per call, one persistent worker
without fork), in ms per call and memory. Prints figures; never passes or fails on time.
Usage: python bench/filters.py [REPEATS]
"""
from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from labapp import filters as F  # noqa: E402
from labapp.filters import sandbox as S  # noqa: E402
from labapp.filters.jail import jqrun  # noqa: E402

HOST_ENV = {"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"}


def service_rows(n: int, rng: random.Random) -> str:
    names = ["web", "db", "api", "cache", "웹서버", "디비", "queue", "proxy"]
    states = ["Running", "Shutdown", "Failed", "Pending"]
    rows = ["ID            NAME        IMAGE            NODE      DESIRED   CURRENT STATE      ERROR"]
    for i in range(n):
        rows.append(f"{rng.getrandbits(48):012x}  {rng.choice(names)}.{i}  nginx:1.{rng.randint(1, 25)}  "
                    f"manager{rng.randint(1, 3)}  {rng.choice(states)}  {rng.choice(states)} {rng.randint(1, 59)} "
                    f"minutes ago  10.0.{rng.randint(0, 9)}.{rng.randint(2, 250)}")
    return "\n".join(rows) + "\n"


def inspect_doc(n: int, rng: random.Random) -> str:
    items = []
    for i in range(n):
        items.append({
            "Id": f"{rng.getrandbits(128):032x}", "Name": f"/web.{i}", "이름": "웹서버",
            "Config": {"Image": "nginx:latest", "Env": [f"K{j}=v{j}" for j in range(6)],
                       "Labels": {"com.docker.swarm.service.name": "web", "labapp.sandbox": "x"}},
            "NetworkSettings": {"IPAddress": f"10.0.0.{i % 250 + 2}", "Networks": {
                "test-net": {"IPAddress": f"10.0.1.{i % 250 + 2}", "Aliases": ["web", f"w{i}"],
                             "IPAMConfig": None, "Gateway": "10.0.1.1"}}},
            "State": {"Running": i % 3 != 0, "Pid": 1000 + i, "StartedAt": "2024-05-01T10:00:00.123456789Z"},
            "Mounts": [], "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(30000 + i)}]},
        })
    return json.dumps(items, indent=4, ensure_ascii=False) + "\n"


def sized(make, target: int) -> str:
    n = 1
    while len(make(n, random.Random(1)).encode()) < target:
        n *= 2
    lo, hi = n // 2, n
    while lo < hi:
        mid = (lo + hi) // 2
        if len(make(mid, random.Random(1)).encode()) < target:
            lo = mid + 1
        else:
            hi = mid
    return make(lo, random.Random(1))


TEXT_LINES = [
    "grep Running", "grep -c -i WEB", "grep -oE '10\\.0\\.[0-9]+\\.[0-9]+'", "grep -v Shutdown | wc -l",
    "head -n 5", "tail -n 5", "wc", "sort -k2,2 -k5", "sort -u -k3,3", "cut -d ' ' -f1,3",
    "grep Running | sort -k2 | head -n 3",
]
JSON_LINES = [
    "jq .", "jq -c '.[] | {n: .Name, ip: .NetworkSettings.IPAddress}'", "jq -r '.[].Name'",
    "jq '.[0].NetworkSettings'", "jq 'map(select(.State.Running)) | length'", "jq -r '.[].Name' | sort | head -n 3",
]


def app_run(line: str, text: str) -> str:
    import shlex
    words, segments = shlex.split(line), [[]]
    for word in words:
        if word == "|":
            segments.append([])
        else:
            segments[-1].append(word)
    filters = [F.parse(segment) for segment in segments]
    pipe = F.Pipeline(filters)
    out = []
    for i in range(0, len(text), 65536):   # the console gets output in pieces
        out.append(pipe.feed(text[i:i + 65536]))
    out.append(pipe.close())
    return "".join(out)


def host_run(line: str, text: str) -> str:
    got = subprocess.run(["sh", "-c", line], input=text.encode(), capture_output=True, env=HOST_ENV)
    return got.stdout.decode("utf-8", "replace")


def timed(fn, repeats: int) -> float:
    fn()  # warm up (the sandbox starts on first use)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_lines(repeats: int) -> None:
    small_text = F_SMALL_TEXT
    big_text = sized(service_rows, 200 * 1024)
    small_json = inspect_doc(2, random.Random(1))
    big_json = sized(inspect_doc, 200 * 1024)
    print(f"{'console line':58} {'input':>7} {'app ms':>8} {'sh -c ms':>9} {'ratio':>6}  same output")
    for lines, small, big in ((TEXT_LINES, small_text, big_text), (JSON_LINES, small_json, big_json)):
        for line in lines:
            if line.startswith("jq") and not shutil.which("jq"):
                continue
            for label, text in (("small", small), ("200KiB", big)):
                reps = repeats if label == "small" else max(3, repeats // 3)
                app = timed(lambda: app_run(line, text), reps)
                host = timed(lambda: host_run(line, text), reps)
                same = app_run(line, text) == host_run(line, text)
                print(f"{line:58} {label:>7} {app:8.1f} {host:9.1f} {app / host:6.2f}  {'yes' if same else 'NO'}")


F_SMALL_TEXT = service_rows(8, random.Random(2))


# --- three ways to isolate jq ----------------------------------------------------------

def jq_job(text: str, program: str) -> dict:
    opts = {"raw": False, "join": False, "ascii": False, "compact": False, "sort": False, "mono": False,
            "null": False, "slurp": False, "rawin": False, "exit": False, "indent": 2}
    return {"op": "jq", "program": program, "named": {}, "opts": opts, "text": text, "cap": F.MAX_OUTPUT,
            "seconds": F.JQ_SECONDS}


def fork_server(job: dict) -> dict:
    return S.server().run(job, F.JQ_SECONDS)


def per_call_process(job: dict) -> tuple[dict, int]:
    """Start the sandbox server for this call only (interpreter + libjq load), run one job."""
    jq_dir = os.path.dirname(importlib.util.find_spec("jq").origin)
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    user = "%d:%d" % S.nobody() if os.geteuid() == 0 else "-"
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-B", S.PROGRAM, "--sandbox-server", jq_dir, user],
                            stdin=child, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={}, cwd="/")
    child.close()
    parent.recv(65536)
    mine, theirs = socket.socketpair()
    socket.send_fds(parent, [json.dumps({"seconds": 3, "cpu": 3, "memory": F.JQ_MEMORY}).encode()],
                    [theirs.fileno()])
    theirs.close()
    reply = S.ForkServer.exchange(mine, job, 3, F.JQ_MEMORY, last=True)
    mine.close()
    parent.close()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return reply, usage.ru_maxrss


PERSISTENT = r"""
import json, os, struct, sys, importlib.util
sys.path.insert(0, sys.argv[1])
spec = importlib.util.spec_from_file_location("labapp_filters_worker", sys.argv[2])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
import jq
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = inp.read(4)
    if len(head) < 4:
        break
    job = json.loads(inp.read(struct.unpack(">I", head)[0]))
    data = json.dumps(mod.answer(job)).encode()
    out.write(struct.pack(">I", len(data)) + data); out.flush()
"""


class Persistent:
    """One worker process that runs jq jobs itself, one after another (no fork per call)."""

    def __init__(self) -> None:
        jq_dir = os.path.dirname(importlib.util.find_spec("jq").origin)
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", PERSISTENT, jq_dir, jqrun.__file__],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={}, cwd="/")

    def __call__(self, job: dict) -> dict:
        data = json.dumps(job).encode()
        self.proc.stdin.write(len(data).to_bytes(4, "big") + data)
        self.proc.stdin.flush()
        size = int.from_bytes(self.proc.stdout.read(4), "big")
        return json.loads(self.proc.stdout.read(size))

    def rss_kib(self) -> int:
        return rss_kib(self.proc.pid)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bench_isolation(repeats: int) -> None:
    small = inspect_doc(2, random.Random(1))
    big = sized(inspect_doc, 200 * 1024)
    print()
    print(f"jq isolation, ms per call (median of {repeats}); memory in MiB")
    print(f"{'design':34} {'program':22} {'small':>8} {'200KiB':>8}  memory")
    worker = Persistent()
    try:
        for program in (".[] | .Name", "."):
            rows = []
            fs = [timed(lambda: fork_server(jq_job(t, program)), repeats) for t in (small, big)]
            child_rss = fork_server(jq_job(big, program)).get("maxrss_kib", 0)
            server_rss = rss_kib(S.server()._proc.pid)
            rows.append(("fork server (the app's design)", fs,
                         f"server {server_rss / 1024:.0f} resident; a child peaks at {child_rss / 1024:.0f} "
                         "(pages shared with the server)"))
            pc = [timed(lambda: per_call_process(jq_job(t, program)), max(3, repeats // 3)) for t in (small, big)]
            _, peak = per_call_process(jq_job(big, program))
            rows.append(("one process per call", pc, f"peaks at {peak / 1024:.0f} per call, nothing between calls"))
            pw = [timed(lambda: worker(jq_job(t, program)), repeats) for t in (small, big)]
            rows.append(("persistent worker, no fork", pw, f"{worker.rss_kib() / 1024:.0f} resident, always"))
            for name, (a, b), memory in rows:
                print(f"{name:34} {program:22} {a:8.1f} {b:8.1f}  {memory}")
    finally:
        worker.close()


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    print(f"host: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; jq CLI: "
          f"{subprocess.run(['jq', '--version'], capture_output=True, text=True).stdout.strip() if shutil.which('jq') else 'none'}")
    bench_lines(repeats)
    bench_isolation(repeats)
    F.shutdown()


if __name__ == "__main__":
    main()
