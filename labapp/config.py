"""Settings: defaults, overridable by environment variables (LABAPP_*)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields

from .errors import LabappError


class ConfigError(LabappError):
    """A setting has a value labapp cannot use."""


_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_bytes(text) -> int:
    """'512m' -> 536870912; '1g', '1GiB', '1.5g' work too; plain numbers are bytes."""
    match = _SIZE.match(str(text))
    if not match or float(match[1]) <= 0:
        raise ConfigError(f"'{text}' is not a size; write it like 512m, 1g or 1073741824")
    return int(float(match[1]) * _UNITS[match[2].lower()])


@dataclass(frozen=True)
class NodeLimits:
    """Per-node resource limits on the host engine."""

    memory: int = 512 * 1024**2  # bytes
    pids: int = 2048
    cpus: float = 1.0
    cpu_shares: int = 1024  # the weight against other containers when CPU is short (Docker's default)

    def __post_init__(self):
        if self.memory < 128 * 1024**2:
            raise ConfigError(f"node memory {self.memory} bytes is too small; a node needs at least 128m")
        if self.pids < 256:
            raise ConfigError(f"node pids limit {self.pids} is too small; a node needs at least 256")
        if not 0 < self.cpus <= 64:
            raise ConfigError(f"node cpus {self.cpus} must be above 0 and at most 64")


@dataclass(frozen=True)
class Settings:
    """Everything labapp reads from its environment."""

    node_memory: str = "512m"
    node_pids: str = "2048"
    node_cpus: str = "1.0"
    node_disk: str = "256m"  # the engine's data in a node: a tmpfs of this size (counts as memory)
    subnet_pool: str = "172.29.0.0/16"
    subnet_prefix: str = "28"
    node_memory_plan: str = "192m"  # what a node of a working learner takes (capacity planning)
    sandboxes_per_core: str = "6"  # learners' sandboxes one core carries all working at once (measured: 12 on 2)
    debian_suite: str = "bookworm"
    debian_mirror: str = ""
    cache_dir: str = os.path.join(os.path.expanduser("~"), ".cache", "labapp")

    @classmethod
    def from_env(cls, environ=None) -> "Settings":
        """Settings with each field overridden by LABAPP_<FIELD> where set."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            key = "LABAPP_" + f.name.upper()
            if environ.get(key):
                values[f.name] = environ[key]
        return cls(**values)

    def limits(self) -> NodeLimits:
        """The node limits these settings describe."""
        try:
            pids = int(self.node_pids)
            cpus = float(self.node_cpus)
        except ValueError:
            raise ConfigError(
                f"LABAPP_NODE_PIDS={self.node_pids!r} / LABAPP_NODE_CPUS={self.node_cpus!r}: "
                "write a whole number of pids and a decimal number of cpus"
            ) from None
        return NodeLimits(memory=parse_bytes(self.node_memory), pids=pids, cpus=cpus)
