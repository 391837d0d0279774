"""The network map: a picture of a sandbox's swarm, read through each node's docker SDK."""
from __future__ import annotations

from .sandbox.base import Sandbox

_HIDDEN = {"host", "none"}


def _task_networks(task: dict, ids: dict) -> dict[str, str]:
    """The networks a task is attached to, each with its address (without the prefix length):
    what the swarm allocated for this task (ingress too, for a published port)."""
    attached = {}
    for attachment in task.get("NetworksAttachments") or []:
        net = attachment.get("Network") or {}
        name = (net.get("Spec") or {}).get("Name") or ids.get(net.get("ID"), net.get("ID"))
        if name and name not in _HIDDEN:
            attached[name] = ((attachment.get("Addresses") or [""])[0] or "").split("/")[0]
    return attached


def network_map(sandbox: Sandbox) -> dict:
    """Nodes; networks (driver, scope, subnet, attachable, encrypted); services with their
    tasks per node (each task's slot, networks and addresses: what the swarm gave it, which
    during a rolling update may differ from the service's spec); standalone containers, the
    networks each is attached to and its address on each."""
    manager = next(n.name for n in sandbox.nodes if n.role == "manager")
    engine = sandbox.engine(manager)
    hostnames = {}
    nodes = []
    for node in engine.nodes.list():
        host = node.attrs["Description"]["Hostname"]
        hostnames[node.id] = host
        nodes.append({"name": host, "role": node.attrs["Spec"]["Role"], "state": node.attrs["Status"]["State"]})
    nodes.sort(key=lambda n: (n["role"] != "manager", n["name"]))
    networks: dict[str, dict] = {}

    def add_network(net, node=None):
        attrs = net.attrs
        if net.name in _HIDDEN:
            return
        key = net.name if attrs.get("Scope") == "swarm" else f"{net.name}@{node}"
        subnets = [c.get("Subnet") for c in (attrs.get("IPAM") or {}).get("Config") or [] if c.get("Subnet")]
        networks.setdefault(key, {
            "name": net.name, "driver": attrs.get("Driver"), "scope": attrs.get("Scope"),
            "node": None if attrs.get("Scope") == "swarm" else node, "subnet": ", ".join(subnets),
            "attachable": bool(attrs.get("Attachable")), "encrypted": "encrypted" in (attrs.get("Options") or {}),
        })

    ids = {}
    for net in engine.networks.list():
        ids[net.id] = net.name
        add_network(net, manager)
    services = []
    for svc in engine.services.list():
        spec = svc.attrs["Spec"]
        wanted = [ids.get(n["Target"], n["Target"]) for n in spec["TaskTemplate"].get("Networks") or []]
        tasks = []
        for t in svc.tasks(filters={"desired-state": "running"}):
            attached = _task_networks(t, ids)
            tasks.append({"node": hostnames.get(t.get("NodeID"), "?"), "state": t["Status"]["State"],
                          "slot": t.get("Slot"),
                          # not yet allocated (a pending task): the networks its service asks for
                          "networks": sorted(attached) or sorted(wanted),
                          "addresses": attached})
        services.append({
            "name": svc.name,
            "replicas": (spec.get("Mode", {}).get("Replicated") or {}).get("Replicas"),
            "networks": wanted,
            "endpoint_mode": (spec.get("EndpointSpec") or {}).get("Mode", "vip"),
            "tasks": sorted(tasks, key=lambda t: (t["node"], t["slot"] or 0)),
        })
    containers = []
    for node in sandbox.nodes:
        node_engine = sandbox.engine(node.name)
        if node.name != manager:
            for net in node_engine.networks.list():
                add_network(net, node.name)
        for container in node_engine.containers.list(all=True):
            if "com.docker.swarm.task.id" in (container.attrs["Config"].get("Labels") or {}):
                continue  # a task: shown under its service
            attached = container.attrs["NetworkSettings"].get("Networks") or {}
            containers.append({"name": container.name, "node": node.name, "running": container.status == "running",
                               "networks": sorted(attached),
                               "addresses": {name: (ep or {}).get("IPAddress") or "" for name, ep in attached.items()}})
    return {"nodes": nodes, "networks": sorted(networks.values(), key=lambda n: (n["scope"] != "swarm", n["name"])),
            "services": services, "containers": containers}
