"""The real sandbox: N node containers on the host engine, each a dockerd, formed into a swarm."""
from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import docker
import docker.errors

from ..config import NodeLimits, Settings
from ..engine import CONNECTION_ERRORS
from ..errors import LabappError, SandboxCreateError, SandboxError, SandboxNotFound
from .base import (LABEL, LABEL_CREATED, LABEL_NODE, LABEL_OWNER, LABEL_POOL, LABEL_ROLE, ExecResult, Node,
                   NodeState, Sandbox, SandboxState, node_plan)
from .images import node_image_ref, require_images
from .nodeclient import node_client
from .nodeexec import LEARNER_USER, NodeExecution, NodeTty
from .probe import RECIPES, SWARM_STATE, NodeRecipe, host_config, node_security, node_tmpfs

LABEL_ADDRESS = "labapp.address"
LABEL_SUBNET = "labapp.subnet"
LABEL_RECIPE = "labapp.recipe"  # how the node was started (probe.RECIPES): who runs commands in it
NAME_PREFIX = "labapp-"
# The raft log is compacted into a snapshot every this many entries (Docker's default is
# 10000): with the node engines' cap on what one request stores (authz RAFT_BODY), a
# manager's log between snapshots stays a few MiB (docs/sandbox.md, "The swarm's store").
SNAPSHOT_INTERVAL = 500
_alloc_lock = threading.Lock()

Progress = Callable[[str], None]


def node_names(count: int, managers: int) -> list[tuple[str, str]]:
    """[(name, role)] for a sandbox of COUNT nodes with MANAGERS managers."""
    if count < 1:
        raise SandboxError(f"a sandbox needs at least one node, not {count}")
    if not 1 <= managers <= count:
        raise SandboxError(f"managers must be between 1 and the node count ({count}), not {managers}")
    if count > 9:
        raise SandboxError(f"{count} nodes is more than a lesson needs; the most is 9")
    return node_plan(count, managers)


def new_sandbox_id() -> str:
    return secrets.token_hex(4)


def choose_subnet(pool: str, prefix: int, used: Sequence[str]) -> ipaddress.IPv4Network:
    """The first /PREFIX in POOL that overlaps none of the USED subnets."""
    taken = [ipaddress.ip_network(u, strict=False) for u in used]
    for candidate in ipaddress.ip_network(pool).subnets(new_prefix=prefix):
        if not any(candidate.overlaps(t) for t in taken if t.version == 4):
            return candidate
    raise SandboxCreateError(f"no free /{prefix} subnet left in {pool}",
                             hint="set LABAPP_SUBNET_POOL to a larger range or remove old sandboxes")


class SwarmSandbox(Sandbox):
    """A sandbox whose nodes are containers on the host engine running their own dockerd."""

    def __init__(self, client: docker.DockerClient, sandbox_id: str, nodes: Sequence[Node],
                 created: float | None = None, recipe: str = "hardened"):
        self.client = client
        self.id = sandbox_id
        self.nodes = tuple(nodes)
        self.created = created
        self.recipe = recipe
        self._engines: dict[str, docker.DockerClient] = {}
        self._engines_lock = threading.Lock()

    # --- making and finding sandboxes -----------------------------------------------

    @classmethod
    def create(cls, client: docker.DockerClient, settings: Settings | None = None, *,
               nodes: int = 3, managers: int = 1, limits: NodeLimits | None = None,
               progress: Progress | None = None, sandbox_id: str | None = None,
               labels: dict[str, str] | None = None,
               avoid: Callable[[], Sequence[str]] | None = None) -> "SwarmSandbox":
        """Make a ready swarm: nodes up, lesson images loaded, swarm formed, all nodes Ready.
        AVOID(): subnets to keep clear of besides the engine's own (other engines' here).

        On any failure everything made so far is removed and SandboxCreateError says
        which node and what the engine said.
        """
        settings = settings or Settings.from_env()
        limits = limits or settings.limits()
        say = progress or (lambda message: None)
        plan = node_names(nodes, managers)
        require_images(client, settings)
        image = node_image_ref(settings)
        recipe = node_security(client, image, settings)
        sid = sandbox_id or new_sandbox_id()
        created = time.time()
        labels = {**(labels or {}), LABEL: sid, LABEL_CREATED: str(int(created)), LABEL_RECIPE: recipe.name}
        sandbox = cls(client, sid, [], created, recipe.name)
        try:
            say("network")
            network, subnet = _create_network(client, settings, sid, labels, avoid)
            hosts = subnet.hosts()
            next(hosts)  # the gateway
            sandbox.nodes = tuple(
                Node(name, role, str(next(hosts)), f"{NAME_PREFIX}{sid}-{name}") for name, role in plan)
            say("nodes starting")
            with ThreadPoolExecutor(max_workers=len(plan)) as pool:
                list(pool.map(lambda n: _start_node(client, image, n, network, labels, limits,
                                                    recipe, settings.node_disk), sandbox.nodes))
            say("swarm forming")
            sandbox._form_swarm(say)
            say("ready")
        except BaseException as exc:
            try:
                sandbox.destroy()
                left = "nothing was left behind"
            except (docker.errors.APIError, *CONNECTION_ERRORS):
                left = f"some of it may remain: 'labapp sandbox down {sid}' removes it"
            if isinstance(exc, LabappError):
                raise
            if isinstance(exc, docker.errors.APIError):
                raise SandboxCreateError(
                    f"sandbox {sid} could not be made: {exc.explanation or exc}; {left}") from None
            if isinstance(exc, CONNECTION_ERRORS):
                raise SandboxCreateError(
                    f"the engine went away while sandbox {sid} was being made; {left}") from None
            raise
        return sandbox

    @classmethod
    def attach(cls, client: docker.DockerClient, sandbox_id: str) -> "SwarmSandbox":
        """The existing sandbox SANDBOX_ID, found by its labels, or SandboxNotFound."""
        containers = client.api.containers(all=True, filters={"label": f"{LABEL}={sandbox_id}"})
        nodes = [_node_from_labels(c) for c in containers if c["Labels"].get(LABEL_NODE)]
        if not nodes:
            raise SandboxNotFound(f"no sandbox has the id '{sandbox_id}'")
        nodes.sort(key=lambda n: (n.role != "manager", n.name))
        created = min(float(c["Labels"].get(LABEL_CREATED, 0) or 0) for c in containers)
        recipes = {c["Labels"].get(LABEL_RECIPE, "wide") for c in containers if c["Labels"].get(LABEL_NODE)}
        return cls(client, sandbox_id, nodes, created, "hardened" if recipes == {"hardened"} else "wide")

    @classmethod
    def list(cls, client: docker.DockerClient) -> list[dict]:
        """Every sandbox on the engine: id, created, and each node with its status."""
        by_id: dict[str, dict] = {}
        for c in client.api.containers(all=True, filters={"label": LABEL_NODE}):
            sid = c["Labels"].get(LABEL)
            entry = by_id.setdefault(sid, {"id": sid, "created": None, "nodes": [], "labels": {
                k: v for k, v in c["Labels"].items() if k in (LABEL_OWNER, LABEL_POOL)}})
            created = float(c["Labels"].get(LABEL_CREATED, 0) or 0)
            entry["created"] = min(filter(None, (entry["created"], created)), default=created)
            node = _node_from_labels(c)
            entry["nodes"].append({"name": node.name, "role": node.role, "address": node.address,
                                   "status": c["State"]})
        for entry in by_id.values():
            entry["nodes"].sort(key=lambda n: (n["role"] != "manager", n["name"]))
        return sorted(by_id.values(), key=lambda e: e["created"] or 0)

    @classmethod
    def destroy_all(cls, client: docker.DockerClient) -> list[str]:
        """Remove every object carrying the sandbox label; return the sandbox ids removed."""
        ids = {c["Labels"].get(LABEL) for c in client.api.containers(all=True, filters={"label": LABEL})}
        ids |= {n["Labels"].get(LABEL) for n in client.api.networks(filters={"label": LABEL})}
        ids |= {v["Labels"].get(LABEL) for v in (client.api.volumes(filters={"label": LABEL}).get("Volumes") or [])}
        ids.discard(None)
        for sid in sorted(ids):
            cls(client, sid, []).destroy()
        return sorted(ids)

    # --- the swarm --------------------------------------------------------------------

    def _form_swarm(self, say: Progress) -> None:
        leader = self.nodes[0]
        init = self._must(leader, (
            "labapp-wait-ready && "
            f"docker swarm init --advertise-addr {leader.address} --listen-addr {leader.address}:2377 "
            f"--snapshot-interval {SNAPSHOT_INTERVAL} > /dev/null && docker swarm join-token -q worker && docker swarm join-token -q manager"),
            "start its engine and init the swarm")
        worker_token, manager_token = init.stdout.split()[:2]
        join = "labapp-wait-ready && docker swarm join --token {token} " + f"{leader.address}:2377"
        others = self.nodes[1:]
        # Managers join one at a time (each changes the raft membership); workers at once.
        for node in (n for n in others if n.role == "manager"):
            self._must(node, join.format(token=manager_token), "join the swarm as a manager")
        workers = [n for n in others if n.role == "worker"]
        if workers:
            with ThreadPoolExecutor(max_workers=len(workers)) as pool:
                list(pool.map(lambda n: self._must(n, join.format(token=worker_token),
                                                   "join the swarm as a worker"), workers))
        self._must(leader, (
            f"for i in $(seq 1 300); do n=$(docker node ls --format '{{{{.Status}}}}' | grep -c Ready); "
            f"[ \"$n\" -ge {len(self.nodes)} ] && exit 0; sleep 0.1; done; docker node ls; exit 1"),
            "see every node Ready")

    def _must(self, node: Node, line: str, what: str, timeout: float = 90) -> ExecResult:
        result = self.exec(node.name, line, timeout=timeout)
        if not result.ok:
            reason = (result.stderr.strip() or result.stdout.strip() or
                      ("timed out" if result.timed_out else f"exit {result.exit_code}"))
            raise SandboxCreateError(
                f"node {node.name} of sandbox {self.id} could not {what}: {reason.splitlines()[-1]}")
        return result

    # --- the Sandbox interface --------------------------------------------------------

    @property
    def app_user(self) -> str:
        """The user the app's own commands run as on this sandbox's nodes."""
        return next(r.user for r in RECIPES if r.name == self.recipe) if self.recipe in {
            r.name for r in RECIPES} else "0"

    def user_for(self, learner: bool) -> str:
        return LEARNER_USER if learner else self.app_user

    def exec_stream(self, node: str, cmd: Sequence[str] | str, *, timeout: float | None = None,
                    learner: bool = False) -> "NodeExecution":
        target = self.node(node)
        return NodeExecution(self, target, cmd, timeout, learner)

    def open_tty(self, node: str, argv: Sequence[str], *, cols: int = 80, rows: int = 24) -> "NodeTty":
        return NodeTty(self, self.node(node), argv, cols, rows)

    def engine(self, node: str) -> docker.DockerClient:
        """A docker SDK client for NODE's own engine (tunnelled; see nodeclient)."""
        target = self.node(node)
        with self._engines_lock:
            if node not in self._engines:
                self._engines[node] = node_client(self.client, target.container)
            return self._engines[node]

    def state(self) -> SandboxState:
        states = {}
        for n in self.nodes:
            try:
                status = self.client.api.inspect_container(n.container)["State"]["Status"]
            except docker.errors.NotFound:
                status = "removed"
            states[n.name] = {"running": status == "running",
                              "error": None if status == "running" else f"container {status}"}
        swarm: dict[str, str] = {}
        for manager in (n for n in self.nodes if n.role == "manager" and states[n.name]["running"]):
            result = self.exec(manager.name, "docker node ls --format '{{.Hostname}} {{.Status}}'",
                               timeout=15)
            if result.ok:
                for line in result.stdout.splitlines():
                    host, _, status = line.partition(" ")
                    swarm[host] = status.strip().lower()
                break
        return SandboxState(self.id, tuple(
            NodeState(n.name, n.role, n.address, states[n.name]["running"], swarm.get(n.name),
                      states[n.name]["error"]) for n in self.nodes))

    def destroy(self) -> None:
        """Remove the sandbox's containers, volumes and network (found by label)."""
        with self._engines_lock:
            for engine in self._engines.values():
                engine.close()
            self._engines.clear()
        api = self.client.api
        flt = {"label": f"{LABEL}={self.id}"}
        containers = api.containers(all=True, filters=flt)
        if containers:
            with ThreadPoolExecutor(max_workers=min(8, len(containers))) as pool:
                list(pool.map(lambda c: _ignore_missing(api.remove_container, c["Id"], force=True),
                              containers))
        for volume in api.volumes(filters=flt).get("Volumes") or []:
            _ignore_missing(api.remove_volume, volume["Name"], force=True)
        for network in api.networks(filters=flt):
            _remove_network(api, network["Id"])


def used_subnets(client) -> list[str]:
    """Every subnet of every network on the host engine."""
    return [cfg["Subnet"] for net in client.api.networks()
            for cfg in ((net.get("IPAM") or {}).get("Config") or []) if cfg.get("Subnet")]


def _create_network(client, settings: Settings, sid: str, labels: dict, avoid=None):
    """The sandbox's private network: internal (no way out), a subnet of its own, its
    bridge named after it (labapp-<id>), so that the host's wall can name every sandbox's
    bridge at once (sandbox/hostwall.py)."""
    from .hostwall import ensure_host_wall

    ensure_host_wall()
    prefix = int(settings.subnet_prefix)
    for _attempt in range(5):
        with _alloc_lock:
            subnet = choose_subnet(settings.subnet_pool, prefix,
                                   used_subnets(client) + list(avoid() if avoid else []))
            pool = docker.types.IPAMPool(subnet=str(subnet))
            try:
                net = client.api.create_network(
                    f"{NAME_PREFIX}{sid}", driver="bridge", internal=True, check_duplicate=True,
                    labels={**labels, LABEL_SUBNET: str(subnet)},
                    options={"com.docker.network.bridge.name": f"{NAME_PREFIX}{sid}"[:15]},
                    ipam=docker.types.IPAMConfig(pool_configs=[pool]))
                return net["Id"], subnet
            except docker.errors.APIError as exc:
                if "overlap" not in str(exc).lower():
                    raise
                time.sleep(0.1)  # another process took it first: choose again
    raise SandboxCreateError("could not find a free subnet for the sandbox network after 5 tries")


def _start_node(client, image: str, node: Node, network: str, labels: dict, limits: NodeLimits,
                recipe: NodeRecipe, disk: str) -> None:
    api = client.api
    node_labels = {**labels, LABEL_NODE: node.name, LABEL_ROLE: node.role, LABEL_ADDRESS: node.address}
    volume = api.create_volume(name=f"{node.container}-swarm", labels=node_labels)
    config = host_config(
        api, recipe, tmpfs=node_tmpfs(disk), binds={volume["Name"]: {"bind": SWARM_STATE, "mode": "rw"}},
        mem_limit=limits.memory, memswap_limit=limits.memory, pids_limit=limits.pids,
        nano_cpus=int(limits.cpus * 1e9), cpu_shares=limits.cpu_shares, cgroupns="private", init=False,
        network_mode=network)
    networking = api.create_networking_config({network: api.create_endpoint_config(ipv4_address=node.address)})
    container = api.create_container(image, name=node.container, hostname=node.name, user=recipe.user,
                                     labels=node_labels, host_config=config,
                                     networking_config=networking, detach=True)
    api.start(container["Id"])


def _node_from_labels(container: dict) -> Node:
    labels = container["Labels"]
    name = (container.get("Names") or ["/?"])[0].lstrip("/")
    return Node(labels.get(LABEL_NODE, "?"), labels.get(LABEL_ROLE, "worker"),
                labels.get(LABEL_ADDRESS, ""), name)


def _remove_network(api, net_id: str, tries: int = 20, pause: float = 0.25) -> None:
    """Remove a sandbox network whose containers were just removed. The engine can still
    count an endpoint for a container it has removed (measured in a CI run: 'has active
    endpoints' right after every container was gone); such an endpoint is disconnected by
    force, and the removal tried again for up to about 5 s before the error is raised."""
    for attempt in range(tries):
        try:
            _ignore_missing(api.remove_network, net_id)
            return
        except docker.errors.APIError as exc:
            if "active endpoints" not in str(exc) or attempt == tries - 1:
                raise
        try:
            attached = api.inspect_network(net_id).get("Containers") or {}
        except docker.errors.NotFound:
            return
        for container in attached:
            try:
                api.disconnect_container_from_network(container, net_id, force=True)
            except docker.errors.APIError:
                pass  # gone meanwhile, or disconnected by the engine itself: tried again below
        time.sleep(pause)


def _ignore_missing(call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc) and "No such" not in str(exc):
            raise
