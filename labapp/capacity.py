"""How many sandboxes this host holds, from its memory and CPU and the per-sandbox figures,
and the sentence that explains the number (shown when a workshop does not fit)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from .config import ConfigError, Settings, parse_bytes

USABLE_MEMORY = 0.8  # the rest is for the host, the engine and the app


@dataclass(frozen=True)
class Capacity:
    sandboxes: int  # the most at once
    by_memory: int
    by_cpu: int
    memory: int  # bytes of host memory
    cores: int
    per_sandbox: int  # planned bytes per sandbox
    per_core: float
    override: int = 0  # LABAPP_MAX_SANDBOXES, when set
    engines: int = 1  # the engines summed (LABAPP_ENGINES; sandbox/multi.py)

    def explain(self) -> str:
        if self.override:
            return f"this lab holds {self.sandboxes} sandboxes at once (LABAPP_MAX_SANDBOXES)"
        gib = 1024**3
        where = "this host holds" if self.engines == 1 else f"these {self.engines} engines hold"
        return (f"{where} {self.sandboxes} sandboxes at once: by memory "
                f"{USABLE_MEMORY * self.memory / gib:.1f} GiB usable / {self.per_sandbox / 1024**2:.0f} MiB "
                f"per sandbox = {self.by_memory}; by CPU {self.cores} cores x {self.per_core:g} per core "
                f"= {self.by_cpu}")


def host_capacity(settings: Settings, nodes: int = 3, override: int = 0, memory: int | None = None,
                  cores: int | None = None) -> Capacity:
    """The host's capacity for sandboxes of NODES nodes (OVERRIDE wins when above 0)."""
    if memory is None:
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            memory = 4 * 1024**3
    if not cores:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_node = parse_bytes(settings.node_memory_plan)
    per_core = float(settings.sandboxes_per_core)
    if per_core <= 0:
        raise ConfigError("LABAPP_SANDBOXES_PER_CORE must be above 0")
    per_sandbox = nodes * per_node
    by_memory = int(USABLE_MEMORY * memory // per_sandbox)
    by_cpu = int(cores * per_core)
    total = override if override > 0 else max(1, min(by_memory, by_cpu))
    return Capacity(total, by_memory, by_cpu, memory, cores, per_sandbox, per_core, override if override > 0 else 0)


PRESSURE = "/proc/pressure/cpu"


def cpu_pressure(path: str = PRESSURE) -> float | None:
    """The share (0 to 1) of the last minute in which some task waited for a CPU, from the
    kernel's pressure stall information (PSI); None where the kernel has none."""
    try:
        with open(path, encoding="ascii") as found:
            for line in found:
                if line.startswith("some "):
                    fields = dict(part.split("=", 1) for part in line.split()[1:])
                    return min(1.0, max(0.0, float(fields["avg60"]) / 100))
    except (OSError, ValueError, KeyError):
        return None
    return None


def load_per_core(pressure=cpu_pressure, loadavg=os.getloadavg, cores: int | None = None) -> float:
    """How contended the host's CPUs are, as a load per core (what admission's overload and
    the checks' patience read). From CPU pressure where the kernel reports it: 1 / (1 - P),
    P the share of the last minute in which some task waited for a CPU (1 on an idle host, 2
    when tasks waited half the time, 4 at three quarters). Else the 1-minute load average
    per core. The load average also counts tasks blocked in I/O, which a learner can make
    by the hundred in their own sandbox without using the CPU; CPU pressure counts only
    tasks that want a CPU, and a learner's CPU is capped by their sandbox's cgroup."""
    share = pressure()
    if share is not None:
        return 1 / max(0.01, 1 - share)
    try:
        return loadavg()[0] / max(1, cores or os.cpu_count() or 1)
    except OSError:
        return 0.0
