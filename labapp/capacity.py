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


def load_per_core() -> float:
    """The host's 1-minute load average per core (what admission's overload compares)."""
    try:
        return os.getloadavg()[0] / max(1, os.cpu_count() or 1)
    except OSError:
        return 0.0
