"""Checks on names and reachability seen from a container: what a name resolves to (and
whether those addresses are a service's own), and whether a target answers (ping, or a
TCP connection to a port). The probes run in the container's network namespace with the
node's own busybox (CheckContext.in_container_netns), never a program of the container."""
from __future__ import annotations

import re
import time

import docker.errors

from ..engine import CONNECTION_ERRORS
from ..errors import LabappError
from ..i18n import msg
from .base import _BOOL, _INT, _STR, Param, _is_address, check, lookup_line, towards
from .state import _service, converging


SETTLED_RETRIES = 2  # probes again of a converged target that did not answer


def _nslookup_answers(stdout: str) -> list[str]:
    """The addresses in busybox nslookup's answer (its first Address: line, before any
    Name:, is the DNS server's own)."""
    if "Name:" not in stdout:
        return []
    return re.findall(r"^Address:\s*(\S+)", stdout.split("Name:", 1)[1], re.M)


def _bare(address: str) -> str:
    return address.split("/", 1)[0]


def _service_addresses(ctx, name: str, networks: set[str]) -> tuple[object, set[str], set[str]]:
    """(service or None, its VIPs and its running tasks' addresses on NETWORKS, by id: the
    networks the probing container is on, the container IDs of all its tasks). The same
    address on another network is another endpoint: a learner can make a bridge with the
    overlay's subnet and a container there at a task's address, and it answers to the name
    from a container on that bridge. The tasks' containers are known by the IDs swarm
    reports (a label such as com.docker.swarm.service.id is anyone's to set on their own
    container); every task counts, a task being replaced still holds its address."""
    svc = _service(ctx.engine(ctx.default_node()), name)
    if svc is None:
        return None, set(), set()
    found = {_bare(v["Addr"]) for v in (svc.attrs.get("Endpoint") or {}).get("VirtualIPs") or []
             if v.get("Addr") and v.get("NetworkID") in networks}
    tasks = svc.tasks()
    for task in tasks:
        if task.get("DesiredState") != "running" or task["Status"]["State"] != "running":
            continue
        for attachment in task.get("NetworksAttachments") or []:
            if ((attachment.get("Network") or {}).get("ID")) in networks:
                found |= {_bare(a) for a in attachment.get("Addresses") or []}
    containers = {((t.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID") for t in tasks} - {None}
    return svc, found, containers


def _endpoints(ctx):
    """Every running container's endpoints in the sandbox: (node, container, network name,
    its settings); a node that does not answer is passed over."""
    for node in ctx.sandbox.nodes:
        try:
            containers = ctx.engine(node.name).containers.list()
        except (docker.errors.APIError, LabappError, *CONNECTION_ERRORS):
            continue
        for container in containers:
            for network, settings in (container.attrs["NetworkSettings"].get("Networks") or {}).items():
                yield node, container, network, settings or {}


def _holder(node, container, network):
    service = (container.attrs["Config"].get("Labels") or {}).get("com.docker.swarm.service.name")
    if service:
        return msg("a task of service {service} on {network}", service=service, network=network)
    return msg("container {container} on {network} (node {node})", container=container.name, network=network,
               node=node.name)


def _impostor(ctx, tasks: set[str], networks: set[str], addresses: set[str]):
    """Who else than the containers TASKS (a service's tasks, by ID) holds one of ADDRESSES
    on one of NETWORKS (by id): a container there at a task's address answers in its place.
    None when nobody does."""
    for node, container, network, settings in _endpoints(ctx):
        if (settings.get("NetworkID") in networks and settings.get("IPAddress") in addresses
                and container.id not in tasks):
            return _holder(node, container, network)
    return None


def _owner_of(ctx, address: str, networks: set[str] = frozenset()):
    """Who holds ADDRESS in the sandbox, for a reason: 'container NAME on NETWORK (node NODE)'.
    An endpoint on one of NETWORKS (by id: the prober's) first: the same address on another
    network is not the one that answered."""
    held = [(settings.get("NetworkID") not in networks, node, container, network)
            for node, container, network, settings in _endpoints(ctx) if settings.get("IPAddress") == address]
    if not held:
        return None
    _, node, container, network = min(held, key=lambda h: h[0])
    return _holder(node, container, network)


def _network_ids(container) -> set[str]:
    """The networks CONTAINER is attached to whose embedded DNS serves names (not the default
    bridge), by id: a local network of the same name on another node is another network."""
    networks = container.attrs["NetworkSettings"].get("Networks") or {}
    return {(s or {}).get("NetworkID") for n, s in networks.items() if n not in ("bridge", "host", "none")} - {None, ""}


def _should_serve(ctx, node: str, container: str, name: str) -> tuple[bool, int]:
    """(whether CONTAINER on NODE shares a network, by id, with NAME's tasks or container, so
    that its embedded DNS and routes will serve NAME once the swarm has converged; how many
    of service NAME's tasks are still starting). A service counts only with tasks running or
    starting (one scaled to nothing serves no address), a container only while it runs: a
    failure is then "not yet", not "wrong"."""
    try:
        mine = _network_ids(ctx.engine(node).containers.get(container))
    except docker.errors.NotFound:
        return False, 0
    if not mine:
        return False, 0
    svc = _service(ctx.engine(ctx.default_node()), name.removeprefix("tasks."))
    if svc is not None:
        shared = mine & {n["Target"] for n in svc.attrs["Spec"]["TaskTemplate"].get("Networks") or []}
        starting, broken = converging(svc)
        live = starting or any(t["Status"]["State"] == "running" for t in svc.tasks(filters={"desired-state": "running"}))
        return bool(shared) and live and not broken, starting
    for other in ctx.sandbox.nodes:
        try:
            found = ctx.engine(other.name).containers.get(name)
        except (docker.errors.NotFound, docker.errors.APIError, LabappError, *CONNECTION_ERRORS):
            continue
        if found.status == "running" and mine & _network_ids(found):
            return True, 0
    return False, 0


@check("resolves", "state", "name", container=Param(_STR, True), name=Param(_STR, True),
       node=Param(_STR), expect=Param(_BOOL), service=Param(_STR))
def _resolves(ctx, args):
    node, container, name = args.get("node") or ctx.default_node(), args["container"], args["name"]
    # busybox nslookup waits 5 s for a name nobody answers (the embedded DNS forwards it to
    # the node's resolver); the embedded DNS answers a name it knows in well under a second
    out = ctx.in_container_netns(node, container, lookup_line(name), timeout=20)
    answers = _nslookup_answers(out.stdout)
    resolved = out.exit_code == 0 and bool(answers)
    want = args.get("expect", True)
    if not resolved:
        if want and _should_serve(ctx, node, container, name)[0]:
            return None, msg("{name} does not resolve from {container} yet, although they share a network",
                             name=name, container=container)
        return not want, msg("{name} does not resolve from {container} (no network they share serves that name)",
                             name=name, container=container)
    reason = msg("{name} resolves from {container} to {addresses}", name=name, container=container,
                 addresses=", ".join(answers))
    if "service" not in args or not want:
        return want, reason
    try:
        mine = _network_ids(ctx.engine(node).containers.get(container))
    except docker.errors.NotFound:
        return False, msg("there is no container {container} on {node}", container=container, node=node)
    svc, owned, tasks = _service_addresses(ctx, args["service"], mine)
    if svc is None:
        return False, msg("{name} resolves from {container}, but there is no service {service}", name=name,
                          container=container, service=args["service"])
    strangers = [a for a in answers if a not in owned]
    if strangers and converging(svc)[0]:
        return None, msg("{name} resolves from {container} to {address} while service {service}'s tasks are still "
                         "starting", name=name, container=container, address=strangers[0], service=args["service"])
    if strangers:
        owner = _owner_of(ctx, strangers[0], mine)
        if owner:
            return False, msg("{name} resolves from {container} to {address}, which belongs to {owner}, not to "
                              "service {service}", name=name, container=container, address=strangers[0],
                              service=args["service"], owner=owner)
        return False, msg("{name} resolves from {container} to {address}, which is not an address of service "
                          "{service}", name=name, container=container, address=strangers[0],
                          service=args["service"])
    impostor = _impostor(ctx, tasks, mine, set(answers))
    if impostor:
        return False, msg("{name} resolves from {container} to {address}, which {owner} holds as well: the answer "
                          "may not come from service {service}", name=name, container=container,
                          address=", ".join(answers), owner=impostor, service=args["service"])
    return True, msg("{name} resolves from {container} to {addresses}: tasks or virtual IPs of service {service} "
                     "only", name=name, container=container, service=args["service"], addresses=", ".join(answers))


@check("reaches", "state", "target", container=Param(_STR, True), target=Param(_STR, True),
       node=Param(_STR), port=Param(_INT), expect=Param(_BOOL))
def _reaches(ctx, args):
    node, container, target = args.get("node") or ctx.default_node(), args["container"], args["target"]
    port = args.get("port")
    if port:
        line = towards(target, "nc", f'-w 2 "$addr" {int(port)} </dev/null')
        what = f"{target}:{port}"
    else:
        # one packet, answered in well under a millisecond inside a sandbox or given up after
        # 1 s; once more before calling the target unreachable
        line = towards(target, "ping", '-c 1 -W 1 "$addr" || busybox ping -c 1 -W 1 "$addr"')
        what = target
    want = args.get("expect", True)
    for attempt in range(1 + SETTLED_RETRIES):
        out = ctx.in_container_netns(node, container, line, timeout=20)
        reached = out.exit_code == 0
        if reached:
            return want, msg("{container} reaches {target}", container=container, target=what)
        detail = (out.stdout + out.stderr).strip().splitlines()
        reason = (msg("{container} cannot reach {target} ({detail})", container=container, target=what,
                      detail=detail[-1]) if detail
                  else msg("{container} cannot reach {target}", container=container, target=what))
        if not want or _is_address(target):
            break
        shared, starting = _should_serve(ctx, node, container, target)
        if not shared:
            break
        if starting or "bad address" in (detail[-1] if detail else ""):
            # tasks still starting, or the name not spread to this node's DNS yet: not yet
            return None, msg("{reason}, although they share a network", reason=reason)
        # Converged, and yet no answer: on a loaded host a probe may time out; asked again a
        # few times, then it is wrong (a wrong port, a VIP without IPVS), never "uncertain".
        if attempt < SETTLED_RETRIES:
            time.sleep(1.0)
    return (not want) if not reached else want, reason
