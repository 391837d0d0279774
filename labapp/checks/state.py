"""Checks on the swarm's state: networks, services, containers (read through the docker
SDK from the nodes' engines), the nodes' listening ports and xfrm tables."""
from __future__ import annotations

import docker.errors

from ..i18n import N_, and_list, msg
from .base import _BOOL, _INT, _LIST, _STR, Param, check


def _network(engine, name):
    for net in engine.networks.list(names=[name]):
        if net.name == name:
            return net
    return None


@check("network", "state", "name", name=Param(_STR, True), node=Param(_STR), driver=Param(_STR),
       scope=Param(_STR), attachable=Param(_BOOL), encrypted=Param(_BOOL), subnet=Param(_STR),
       exists=Param(_BOOL))
def _network_check(ctx, args):
    name, node = args["name"], args.get("node") or ctx.default_node()
    net = _network(ctx.engine(node), name)
    if args.get("exists", True) is False:
        return net is None, (msg("there is no network {network}", network=name) if net is None
                             else msg("network {network} still exists on {node}", network=name, node=node))
    if net is None:
        names = sorted(n.name for n in ctx.engine(node).networks.list())
        return False, msg("there is no network {network} on {node} (it has {networks})", network=name, node=node,
                          networks=", ".join(names))
    attrs = net.attrs
    driver, scope = attrs.get("Driver"), attrs.get("Scope")
    attachable = bool(attrs.get("Attachable"))
    encrypted = "encrypted" in (attrs.get("Options") or {})
    subnets = [c.get("Subnet") for c in (attrs.get("IPAM") or {}).get("Config") or []]
    if "driver" in args and driver != args["driver"]:
        return False, msg("network {network} uses the {driver} driver; it needs {wanted}", network=name,
                          driver=driver, wanted=args["driver"])
    if "scope" in args and scope != args["scope"]:
        return False, msg("network {network} has scope {scope}; it needs {wanted}", network=name, scope=scope,
                          wanted=args["scope"])
    if "attachable" in args and attachable != args["attachable"]:
        return False, (msg("network {network} is not attachable: a standalone container cannot join it "
                           "(create it with --attachable)", network=name) if args["attachable"]
                       else msg("network {network} is attachable; this step needs one that is not", network=name))
    if "encrypted" in args and encrypted != args["encrypted"]:
        return False, (msg("network {network} is not encrypted (create it with --opt encrypted)", network=name)
                       if args["encrypted"]
                       else msg("network {network} is encrypted; this step needs a plain one", network=name))
    if "subnet" in args and args["subnet"] not in subnets:
        have = ", ".join(filter(None, subnets)) or msg("none")
        return False, msg("network {network} has subnet {subnet}; it needs {wanted}", network=name, subnet=have,
                          wanted=args["subnet"])
    traits = [driver, scope] + (["attachable"] if attachable else []) + (["encrypted"] if encrypted else [])
    traits += [s for s in subnets if s]
    return True, msg("network {network}: {traits}", network=name, traits=", ".join(filter(None, traits)))


def _service(engine, name):
    for svc in engine.services.list(filters={"name": name}):
        if svc.name == name:
            return svc
    return None


# A task on its way to running (docker's task states before "running")
STARTING = {"new", "pending", "assigned", "accepted", "ready", "preparing", "starting"}
_BROKEN = {"failed", "rejected"}


RESTARTS = 2  # failed tasks in one slot: a task that fails again after swarm replaced it


def converging(svc) -> tuple[int, str | None]:
    """(how many of SVC's tasks are still starting, or 1 while an update rolls; the error that
    says the service will not converge, if any: a slot whose newest task failed or was
    rejected and is not replaced yet, a slot whose tasks failed RESTARTS times (swarm keeps
    replacing them), or a task that no node can take). One failed task that swarm already
    replaced is not evidence: on a loaded host a task may fail to start once."""
    tasks = svc.tasks()
    slots: dict[object, list[dict]] = {}
    for task in tasks:
        slots.setdefault(task.get("Slot") or task.get("NodeID") or task.get("ID"), []).append(task)
    for slot in slots.values():
        slot.sort(key=lambda t: t.get("UpdatedAt") or t.get("CreatedAt") or "")
        failed = [t for t in slot if t["Status"]["State"] in _BROKEN]
        newest = slot[-1]
        if newest["Status"]["State"] in _BROKEN or len(failed) >= RESTARTS:
            said = failed[-1]["Status"]
            return 0, said.get("Err") or said["State"]
        if newest["Status"]["State"] == "pending" and "no suitable node" in (newest["Status"].get("Err") or ""):
            return 0, newest["Status"]["Err"]
    starting = sum(1 for t in tasks if t.get("DesiredState") == "running" and t["Status"]["State"] in STARTING)
    update = (svc.attrs.get("UpdateStatus") or {}).get("State")
    updating = update in ("updating", "rollback_started") and not _slow_update(svc, update)
    return max(starting, 1 if updating else 0), None


SLOW_UPDATE_SECONDS = 30  # a rolling update that waits this long between tasks is not waited for


def _slow_update(svc, update: str) -> bool:
    """Whether SVC's rolling update (or rollback) waits SLOW_UPDATE_SECONDS or more between
    tasks (--update-delay, --update-monitor): it will not finish while a check waits, so the
    service is judged as it is (else a learner could keep a wrong answer "not judged yet"
    for as long as they like)."""
    spec = svc.attrs.get("Spec") or {}
    config = spec.get("RollbackConfig" if update == "rollback_started" else "UpdateConfig") or {}
    pause = (config.get("Delay") or 0) + (config.get("Monitor") or 0)  # nanoseconds
    return pause >= SLOW_UPDATE_SECONDS * 1e9


def _network_names(engine) -> dict[str, str]:
    return {n.id: n.name for n in engine.networks.list()}


def _missing_extra(have: list[str], need: list[str], avoid: list[str]):
    return [n for n in need if n not in have], [n for n in avoid if n in have]


def _on(names: list[str]) -> str:
    """'a and b' (a Message), or 'no network'."""
    return and_list(names, msg("no network"))


def _remember_service(ctx, args):
    svc = _service(ctx.engine(args.get("node") or ctx.default_node()), args["name"])
    return (f"service {args['name']}", svc.id) if svc is not None else None


_NO_RECORD = N_("there is no record of this step's setup on the sandbox (reset the sandbox to start the "
                "step again)")


@check("service", "state", "name", remember=_remember_service, name=Param(_STR, True), node=Param(_STR),
       replicas=Param(_INT), networks=Param(_LIST), not_networks=Param(_LIST), endpoint_mode=Param(_STR),
       exists=Param(_BOOL), same_as_setup=Param(_BOOL))
def _service_check(ctx, args):
    name, node = args["name"], args.get("node") or ctx.default_node()
    engine = ctx.engine(node)
    svc = _service(engine, name)
    if args.get("exists", True) is False:
        return svc is None, (msg("there is no service {service}", service=name) if svc is None
                             else msg("service {service} still exists", service=name))
    if svc is None:
        if args.get("same_as_setup"):
            return False, msg("there is no service {service}: it was removed (the rules keep it)", service=name)
        return False, msg("there is no service {service} (create it with docker service create --name {service} ...)",
                          service=name)
    if args.get("same_as_setup"):
        if ctx.setup_state is None:
            return False, msg(_NO_RECORD)
        if ctx.setup_state.get(f"service {name}") != svc.id:
            return False, msg("service {service} was removed and created again (its ID is not the one it had "
                              "when the step began); the rules keep the service running", service=name)
    spec = svc.attrs["Spec"]
    ids = _network_names(engine)
    have = [ids.get(n["Target"], n["Target"]) for n in spec["TaskTemplate"].get("Networks") or []]
    missing, extra = _missing_extra(have, args.get("networks", []), args.get("not_networks", []))
    if missing:
        return False, msg("service {service} is on {networks} only; it needs {wanted}", service=name,
                          networks=_on(have), wanted=_on(missing))
    if extra:
        return False, msg("service {service} is still on {networks}", service=name, networks=_on(extra))
    mode = (spec.get("EndpointSpec") or {}).get("Mode", "vip")
    if "endpoint_mode" in args and mode != args["endpoint_mode"]:
        return False, msg("service {service} uses endpoint mode {mode}; it needs {wanted}", service=name, mode=mode,
                          wanted=args["endpoint_mode"])
    running = [t for t in svc.tasks(filters={"desired-state": "running"})
               if t["Status"]["State"] == "running"]
    asked = (spec.get("Mode", {}).get("Replicated") or {}).get("Replicas")
    if "replicas" in args and asked is not None and asked != args["replicas"]:
        return False, msg("service {service} is set to {asked} replicas; it needs {wanted}", service=name, asked=asked,
                          wanted=args["replicas"])
    if "replicas" in args and len(running) != args["replicas"]:
        starting, failed = converging(svc)
        if failed:
            return False, msg("service {service} has {running} of {wanted} tasks running; its tasks fail: {error}",
                              service=name, running=len(running), wanted=args["replicas"], error=failed)
        if starting:
            return None, msg("service {service} has {running} of {wanted} tasks running and {starting} starting",
                             service=name, running=len(running), wanted=args["replicas"], starting=starting)
        return False, msg("service {service} has {running} of {wanted} tasks running", service=name,
                          running=len(running), wanted=args["replicas"])
    if args.get("same_as_setup"):
        return True, msg("service {service} is the one the step began with: {running} tasks running on {networks}",
                         service=name, running=len(running), networks=_on(have))
    return True, msg("service {service}: {running} tasks running on {networks}", service=name, running=len(running),
                     networks=_on(have))


def _remember_container(ctx, args):
    node = args.get("node") or ctx.default_node()
    try:
        container = ctx.engine(node).containers.get(args["name"])
    except docker.errors.NotFound:
        return None
    return f"container {args['name']}@{node}", container.id


@check("container", "state", "name", remember=_remember_container, name=Param(_STR, True), node=Param(_STR),
       networks=Param(_LIST), not_networks=Param(_LIST), running=Param(_BOOL), exists=Param(_BOOL),
       same_as_setup=Param(_BOOL))
def _container_check(ctx, args):
    name, node = args["name"], args.get("node") or ctx.default_node()
    try:
        container = ctx.engine(node).containers.get(name)
    except docker.errors.NotFound:
        container = None
    if args.get("exists", True) is False:
        return container is None, (msg("there is no container {container} on {node}", container=name, node=node)
                                   if container is None
                                   else msg("container {container} still exists on {node}", container=name,
                                            node=node))
    if container is None:
        if args.get("same_as_setup"):
            return False, msg("there is no container {container} on {node}: it was removed (the rules keep it)",
                              container=name, node=node)
        return False, msg("there is no container {container} on {node}", container=name, node=node)
    if args.get("same_as_setup"):
        if ctx.setup_state is None:
            return False, msg(_NO_RECORD)
        if ctx.setup_state.get(f"container {name}@{node}") != container.id:
            return False, msg("container {container} on {node} was removed and created again (its ID is not the "
                              "one it had when the step began); the rules keep it", container=name, node=node)
    running = container.attrs["State"]["Running"]
    if args.get("running", True) and not running:
        return False, msg("container {container} on {node} is not running ({status})", container=name, node=node,
                          status=container.status)
    have = sorted((container.attrs["NetworkSettings"].get("Networks") or {}).keys())
    missing, extra = _missing_extra(have, args.get("networks", []), args.get("not_networks", []))
    if missing:
        return False, msg("{container} is attached to {networks} only; it needs {wanted}", container=name,
                          networks=_on(have), wanted=_on(missing))
    if extra:
        return False, msg("{container} is attached to {networks}; it should not be", container=name,
                          networks=_on(extra))
    if args.get("same_as_setup"):
        return True, msg("{container} on {node} is the container the step began with, attached to {networks}",
                         container=name, node=node, networks=_on(have))
    return True, msg("{container} on {node} is attached to {networks}", container=name, node=node,
                     networks=_on(have))


def _container_exists(ctx, node, name) -> str | None:
    try:
        ctx.engine(node).containers.get(name)
        return None
    except docker.errors.NotFound:
        return msg("there is no container {container} on {node}", container=name, node=node)


def _listening(ctx, node) -> set[str]:
    out = ctx.sh(node, "ss -lntuH")
    found = set()
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0] in ("tcp", "udp"):
            found.add(f"{fields[4].rsplit(':', 1)[-1]}/{fields[0]}")
    return found


@check("ports", "state", "node", node=Param(_STR, True), listening=Param(_LIST, True))
def _ports(ctx, args):
    node = args["node"]
    have = _listening(ctx, node)
    missing = [p for p in args["listening"] if p not in have]
    if missing:
        shown = sorted(p for p in have if p.split("/")[0] in {"2377", "7946", "4789"})
        if shown:
            return False, msg("{node} does not listen on {ports} (its swarm ports now: {now})", node=node,
                              ports=", ".join(missing), now=", ".join(shown))
        return False, msg("{node} does not listen on {ports}", node=node, ports=", ".join(missing))
    return True, msg("{node} listens on {ports}", node=node, ports=", ".join(args["listening"]))


@check("xfrm", "state", "node", node=Param(_STR, True), policies=Param(_BOOL), states=Param(_BOOL))
def _xfrm(ctx, args):
    node = args["node"]
    policies = ctx.sh(node, "ip xfrm policy").stdout.count("proto esp")
    states = ctx.sh(node, "ip xfrm state").stdout.count("proto esp")
    if "policies" in args and (policies > 0) != args["policies"]:
        return False, (msg("{node} holds no ESP xfrm policy yet: encryption starts once containers of "
                           "the encrypted network run on two nodes", node=node) if args["policies"]
                       else msg("{node} holds {policies} ESP xfrm policies", node=node, policies=policies))
    if "states" in args and (states > 0) != args["states"]:
        return False, (msg("{node} holds no ESP security association (ip xfrm state is empty)", node=node)
                       if args["states"]
                       else msg("{node} holds {states} ESP security associations", node=node, states=states))
    return True, msg("{node} holds {policies} ESP policies and {states} ESP security associations", node=node,
                     policies=policies, states=states)


@check("nodes_ready", "state", "value", value=Param(_INT, True), node=Param(_STR))
def _nodes_ready(ctx, args):
    node = args.get("node") or ctx.default_node()
    nodes = ctx.engine(node).nodes.list()
    ready = [n.attrs["Description"]["Hostname"] for n in nodes if n.attrs["Status"]["State"] == "ready"]
    # a node that joined is "unknown" until its first heartbeat; a "down" one is evidence
    joining = len(ready) < args["value"] and any(n.attrs["Status"]["State"] == "unknown" for n in nodes)
    return None if joining else len(ready) == args["value"], msg("{ready} of {nodes} nodes are Ready ({names})", ready=len(ready),
                                            nodes=len(nodes), names=", ".join(sorted(ready)))
