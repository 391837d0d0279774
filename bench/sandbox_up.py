"""From nothing to a ready 3-node swarm with the lesson images loaded: labapp against a floor.

The floor is bench/floor_sandbox_up.sh, the same steps as plain docker CLI commands, with
the node recipe as it was before the node's walls (root, all capabilities but
SYS_RESOURCE, no seccomp, nothing masked, no user namespace, a volume for the engine's
data), so that the cost of the walls shows in the ratio. The two run alternately in this
one process, RUNS times each; the medians and their ratio are printed, and the memory each
idle node uses and the CPU it burns while nobody types (IDLE seconds, read from each node's own
cgroup). Usage: python bench/sandbox_up.py [RUNS]
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from labapp.config import Settings
from labapp.engine import connect
from labapp.sandbox import LABEL, SwarmSandbox
from labapp.sandbox.images import node_image_ref, require_images
from labapp.sandbox.probe import node_security
from labapp.sandbox.swarm import choose_subnet, new_sandbox_id, used_subnets

HERE = os.path.dirname(os.path.abspath(__file__))
# The recipe before the walls, as docker CLI flags (the node image runs it as root).
WIDE_FLAGS = ["--user=0", "--cap-add=ALL", "--cap-drop=SYS_RESOURCE", "--security-opt=seccomp=unconfined",
              "--security-opt=apparmor=unconfined", "--security-opt=systempaths=unconfined"]


def node_memory_mib(client, sandbox) -> list[float]:
    """Each node's memory use without its page cache (tmpfs counts), read from its own memory
    cgroup (the engine's stats API reports nothing for a hardened node on cgroup v1)."""
    line = ("echo $(cat /sys/fs/cgroup/memory/memory.usage_in_bytes) "
            "$(sed -n 's/^total_inactive_file //p' /sys/fs/cgroup/memory/memory.stat)")
    values = []
    for node in sandbox.nodes:
        exec_id = client.api.exec_create(node.container, ["sh", "-c", line])["Id"]
        usage, inactive = (int(v) for v in client.api.exec_start(exec_id).split())
        values.append((usage - inactive) / 2**20)
    return values


IDLE = 30  # seconds of idle CPU measured on the last run's nodes
CPU_LINE = ("cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null "
            "|| sed -n 's/^usage_usec \\([0-9]*\\)/\\1000/p' /sys/fs/cgroup/cpu.stat")


def _node_cpu_ns(client, sandbox) -> list[int]:
    values = []
    for node in sandbox.nodes:
        exec_id = client.api.exec_create(node.container, ["sh", "-c", CPU_LINE])["Id"]
        values.append(int(client.api.exec_start(exec_id).split()[0]))
    return values


def idle_cpu_per_minute(client, sandbox, seconds: int = IDLE) -> list[float]:
    """CPU-seconds a minute each node burns while nobody types, from its own cgroup's
    accounting over SECONDS (the engines' swarm heartbeats, containerd, the authz plugin)."""
    before = _node_cpu_ns(client, sandbox)
    time.sleep(seconds)
    after = _node_cpu_ns(client, sandbox)
    return [(b - a) / 1e9 * 60 / seconds for a, b in zip(before, after)]


def _idle(client, sandbox) -> tuple[list[float], list[float]]:
    time.sleep(5)  # let the nodes settle before reading their idle memory and CPU
    return node_memory_mib(client, sandbox), idle_cpu_per_minute(client, sandbox)


def _figures(values: list[float], unit: str, fmt: str = ".0f") -> str:
    mean = statistics.mean(values) if values else 0
    return f"{', '.join(format(v, fmt) for v in values)} {unit} (mean {mean:{fmt}} {unit})"


def main(runs: int) -> None:
    settings = Settings.from_env()
    client = connect()
    require_images(client, settings)
    image = node_image_ref(settings)
    recipe = node_security(client, image, settings)
    print(f"node recipe: {recipe.name}")
    labapp_times, floor_times = [], []
    memory, floor_memory, cpu, floor_cpu = [], [], [], []
    for i in range(runs):
        started = time.monotonic()
        sandbox = SwarmSandbox.create(client, settings, nodes=3)
        labapp_times.append(time.monotonic() - started)
        try:
            if i == runs - 1:
                memory, cpu = _idle(client, sandbox)
        finally:
            sandbox.destroy()

        sid = new_sandbox_id()
        subnet = choose_subnet(settings.subnet_pool, int(settings.subnet_prefix), used_subnets(client))
        started = time.monotonic()
        proc = subprocess.run([os.path.join(HERE, "floor_sandbox_up.sh"), sid, image,
                               str(subnet), *WIDE_FLAGS], capture_output=True, text=True)
        floor_times.append(time.monotonic() - started)
        try:
            if i == runs - 1 and proc.returncode == 0:
                floor_memory, floor_cpu = _idle(client, SwarmSandbox.attach(client, sid))
        finally:
            SwarmSandbox(client, sid, []).destroy()
        if proc.returncode != 0:
            sys.exit(f"the floor script failed: {proc.stderr.strip()}")
        print(f"run {i + 1}: labapp {labapp_times[-1]:.2f} s, floor {floor_times[-1]:.2f} s", flush=True)
    lab, floor = statistics.median(labapp_times), statistics.median(floor_times)
    print(f"sandbox up (3 nodes, images loaded, swarm Ready), median of {runs}:")
    print(f"  labapp {lab:.2f} s   floor {floor:.2f} s   ratio {lab / floor:.2f} (target <= 1.3)")
    print(f"  memory per idle node: labapp {_figures(memory, 'MiB')}; floor {_figures(floor_memory, 'MiB')}")
    print(f"  CPU per idle node over {IDLE} s: labapp {_figures(cpu, 's/min', '.2f')}; "
          f"floor {_figures(floor_cpu, 's/min', '.2f')}")
    leftovers = client.api.containers(all=True, filters={"label": LABEL})
    if leftovers:
        print(f"  warning: {len(leftovers)} labelled containers remain on the engine")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
