"""Settings: one object, read in one place. Each field's default is here; LABAPP_<FIELD> in
the environment overrides it (docs/settings: README's list). The CLI and the web app both
build their services from Settings.from_env(); tests build Settings(...) directly."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace

from .errors import LabappError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    """Everything labapp reads from its environment (LABAPP_<FIELD>), with its default."""

    # --- the nodes (docs/sandbox.md)
    node_memory: str = "512m"
    node_pids: int = 2048
    node_cpus: float = 1.0
    node_disk: str = "256m"  # the engine's data in a node: a tmpfs of this size (counts as memory)
    swarm_store: str = "384m"  # a manager's swarm store on the host's disk (idle: 123m, two raft log files)
    subnet_pool: str = "172.29.0.0/16"
    subnet_prefix: int = 28
    node_memory_plan: str = "192m"  # what a node of a working learner takes (capacity planning)
    sandboxes_per_core: float = 6  # learners' sandboxes one core carries all working at once (measured: 12 on 2)
    allow_weak_nodes: bool = False  # serve where nodes cannot be hardened (docs/security.md)
    debian_suite: str = "bookworm"
    debian_mirror: str = ""
    cache_dir: str = os.path.join(os.path.expanduser("~"), ".cache", "labapp")
    engines: str = ""  # several engines (docs/scale.md): unix:///..., tcp://host:2376, ssh://user@host; empty: DOCKER_HOST
    engine_tls_dir: str = ""  # ca.pem, cert.pem, key.pem for tcp:// engines (or one folder per host inside)
    backend: str = "swarm"  # swarm: real sandboxes; loadtest: simulated ones, for load tests only (sandbox/loadtest.py)
    # --- the app instance (docs/web.md, docs/workshops.md)
    data_dir: str = os.path.join(ROOT, ".labapp")  # the database, the session secret, the instance id
    database_url: str = ""  # any SQLAlchemy URL; default: SQLite in the data directory
    secret_key: str = ""  # default: random, kept in the data directory (several instances: set the same one)
    message_queue: str = ""  # several instances (docs/scale.md): a Redis URL (redis://host:6379/0); empty: one instance
    cluster_name: str = "labapp"  # the prefix of the cluster's Redis keys and channels
    cluster_dead_seconds: float = 60  # an instance silent this long is dead: a survivor reaps its sandboxes
    trainer_token: str = ""  # default: random, kept in the data directory, printed by serve
    idle_minutes: float = 30
    max_minutes: float = 180  # a sandbox's longest life (0: no limit)
    warn_minutes: float = 5  # how long before the end a learner is warned
    pool_size: int = 1  # ready sandboxes per lesson shape
    max_sandboxes: int = 0  # 0: computed from the host (labapp/capacity.py)
    creates_per_hour: int = 20  # sandboxes one learner may make in an hour
    check_patience: float = 10  # seconds a check waits for converging state on an idle host (x the CPU contention, up to 4)
    overload_per_core: float = 0  # CPU contention (capacity.load_per_core: from CPU pressure, 1 when idle) at which
    # self-paced learners get no new sandbox (0: off; docs/workshops.md)
    sandboxes_at_once: int = 0  # sandboxes made at the same time, the rest wait their turn (0: one per core, at least 2)
    stuck_minutes: float = 10  # the dashboard's stuck mark: this long on one step
    stuck_failures: int = 3  # ... or this many failed checks in a row
    # --- the web layer's limits (labapp/web/guard.py): per learner, per address; an empty
    # rate switches that limit off
    commands_in_flight: int = 2
    rate_sandboxes: str = "60/minute;300/hour"  # per address: sandboxes made
    rate_commands: str = "1500/minute"  # per address: commands that reach a node
    rate_commands_per_learner: str = "120/minute"  # per learner: every command, refused ones too
    rate_joins: str = "60/minute;300/hour"  # per address: wrong join codes (the right one always gets through)
    rate_joins_per_learner: str = "10/minute;30/hour"  # per learner: every join
    rate_signins: str = "20/minute;100/hour"  # per address: wrong trainer tokens (the right one always gets in)
    sandboxes_per_address: int = 3  # self-paced sandboxes held at once per address (a begun workshop's: not counted)
    workshop_only: bool = False  # sandboxes only for learners of a workshop that has begun
    rate_limit_storage: str = "memory://"
    throttle_free: int = 5  # wrong trainer tokens before waiting
    throttle_max_seconds: float = 300
    join_throttle_free: int = 20  # wrong join codes before waiting
    join_throttle_max_seconds: float = 60
    trusted_proxies: int = 0
    secure_cookies: str = "auto"  # on, off or auto
    hsts_seconds: int = 31536000

    @classmethod
    def from_env(cls, environ=None, **overrides) -> "Settings":
        """Settings with each field overridden by LABAPP_<FIELD> where set (a number or a
        flag must be well formed: the error names the variable), then by OVERRIDES."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            key = "LABAPP_" + f.name.upper()
            raw = environ.get(key)
            if raw is None or (raw.strip() == "" and f.type != "str"):
                continue
            values[f.name] = _convert(key, f.type, raw)
        return cls(**{**values, **overrides})

    def replace(self, **changes) -> "Settings":
        return replace(self, **changes)

    @property
    def database(self) -> str:
        """The store's URL or SQLite file path."""
        return self.database_url or os.path.join(self.data_dir, "labapp.db")

    def limits(self) -> NodeLimits:
        """The node limits these settings describe."""
        return NodeLimits(memory=parse_bytes(self.node_memory), pids=self.node_pids, cpus=self.node_cpus)


def _convert(key: str, kind: str, raw: str):
    text = raw.strip()
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a {'whole ' if kind == 'int' else ''}number") from None
    if kind == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key}={raw!r}: write 1 or 0")
    return raw
