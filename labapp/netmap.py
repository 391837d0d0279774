"""The network map: a picture of a sandbox's swarm, read through each node's docker SDK."""
from __future__ import annotations

from .sandbox.base import Sandbox

_HIDDEN = {"host", "none"}


def network_map(sandbox: Sandbox) -> dict:
    """Nodes; networks (driver, scope, subnet, attachable, encrypted); services with their
    tasks per node; standalone containers and the networks each is attached to."""
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
        tasks = [{"node": hostnames.get(t.get("NodeID"), "?"), "state": t["Status"]["State"]}
                 for t in svc.tasks(filters={"desired-state": "running"})]
        services.append({
            "name": svc.name,
            "replicas": (spec.get("Mode", {}).get("Replicated") or {}).get("Replicas"),
            "networks": [ids.get(n["Target"], n["Target"]) for n in spec["TaskTemplate"].get("Networks") or []],
            "endpoint_mode": (spec.get("EndpointSpec") or {}).get("Mode", "vip"),
            "tasks": sorted(tasks, key=lambda t: t["node"]),
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
            containers.append({"name": container.name, "node": node.name, "running": container.status == "running",
                               "networks": sorted((container.attrs["NetworkSettings"].get("Networks") or {}).keys())})
    return {"nodes": nodes, "networks": sorted(networks.values(), key=lambda n: (n["scope"] != "swarm", n["name"])),
            "services": services, "containers": containers}
