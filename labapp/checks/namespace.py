"""Checks inside an overlay's own network namespace on a node: its VXLAN device and VNI, and
the forwarding and neighbour entries that send a peer's traffic to the node holding it. They
run their node tools as root of the node's own user namespace (ctx.sh(..., root=True),
sandbox/nodeexec.py as_node_root); every value that reaches the shell is quoted."""
from __future__ import annotations

import json
import shlex

import docker.errors

from ..i18n import msg
from .base import _STR, Param, check
from .state import _network


_VXLAN_ID = "com.docker.network.driver.overlay.vxlanid_list"


def _sections(stdout: str) -> list:
    """The JSON answers of a vxlan check's line, one per '---'-separated section."""
    parts = []
    for text in stdout.split("\n---\n"):
        try:
            parts.append(json.loads(text.strip() or "[]"))
        except ValueError:
            parts.append(None)
    return parts


@check("vxlan", "state", "network", network=Param(_STR, True), node=Param(_STR), peer=Param(_STR),
       peer_node=Param(_STR))
def _vxlan(ctx, args):
    """NODE has the overlay's own namespace with a VXLAN device whose VNI is the one Docker
    gave the network; with PEER: its forwarding table sends PEER's MAC to PEER_NODE's address
    over VXLAN and its neighbour table maps PEER's address to that MAC."""
    name, node = args["network"], args.get("node") or ctx.default_node()
    net = _network(ctx.engine(node), name)
    if net is None:
        return False, msg("network {network} is not on {node} yet: a node sets an overlay up when the first "
                          "container or task of it starts there", network=name, node=node)
    if net.attrs.get("Driver") != "overlay":
        return False, msg("network {network} uses the {driver} driver; it needs overlay", network=name,
                          driver=net.attrs.get("Driver"))
    vni = (net.attrs.get("Options") or {}).get(_VXLAN_ID, "")
    key = shlex.quote(net.id[:10])
    line = (f"ns=$(ls -d /run/docker/netns/*-{key} 2>/dev/null | head -n 1); "
            "[ -n \"$ns\" ] || exit 3; echo \"$ns\"; echo ---; "
            "nsenter --net=\"$ns\" ip -j -d link show type vxlan; echo; echo ---; "
            "nsenter --net=\"$ns\" bridge -j fdb show; echo; echo ---; "
            "nsenter --net=\"$ns\" ip -j neigh show")
    out = ctx.sh(node, line, root=True)
    if out.exit_code == 3:
        return False, msg("{node} has no namespace for {network} yet: a node makes it when the first container or "
                          "task of the network starts there", node=node, network=name)
    if out.exit_code != 0:
        lines = (out.stderr or out.stdout).strip().splitlines()
        said = lines[-1] if lines else f"exit {out.exit_code}"
        return False, msg("cannot look inside {network}'s namespace on {node}: {said}", network=name, node=node,
                          said=said)
    parts = out.stdout.split("\n---\n", 1)
    namespace = parts[0].strip().rsplit("/", 1)[-1]
    links, fdb, neigh = (_sections(parts[1]) + [None, None, None])[:3] if len(parts) > 1 else (None, None, None)
    devices = [(link.get("ifname"), str(((link.get("linkinfo") or {}).get("info_data") or {}).get("id")))
               for link in links or []]
    if not devices:
        return False, msg("{node}'s namespace for {network} ({namespace}) has no VXLAN device", node=node,
                          network=name, namespace=namespace)
    device, kernel_vni = devices[0]
    if vni and kernel_vni not in vni.split(","):
        return False, msg("the VXLAN device {device} in {node}'s namespace for {network} has VNI {kernel}, but Docker "
                          "gave the network {docker}", device=device, node=node, network=name, kernel=kernel_vni,
                          docker=vni)
    said = msg("{node}'s namespace for {network} ({namespace}) has {device} with VNI {vni}, the one Docker gave it",
               node=node, network=name, namespace=namespace, device=device, vni=kernel_vni)
    if "peer" not in args:
        return True, said
    peer, peer_node = args["peer"], args["peer_node"]
    if peer_node == node:
        return False, msg("{container} runs on {node} itself: only containers of other nodes are reached over "
                          "VXLAN", container=peer, node=node)
    try:
        container = ctx.engine(peer_node).containers.get(peer)
    except docker.errors.NotFound:
        return False, msg("there is no container {container} on {node}", container=peer, node=peer_node)
    settings = (container.attrs["NetworkSettings"].get("Networks") or {}).get(name)
    if not settings:
        return False, msg("{container} is not attached to {network}", container=peer, network=name)
    mac, address = (settings.get("MacAddress") or "").lower(), settings.get("IPAddress")
    peer_address = ctx.sandbox.node(peer_node).address
    sends = [e for e in fdb or [] if (e.get("mac") or "").lower() == mac and e.get("dst")]
    if not sends:
        # the peer is attached: the nodes' gossip brings its entries (a learner cannot remove them)
        return None, msg("{node}'s forwarding table (bridge fdb) in {network}'s namespace has no entry for "
                          "{container}'s MAC {mac}: the node does not know where {container} is", node=node,
                          network=name, container=peer, mac=mac)
    if sends[0].get("dst") != peer_address:
        return False, msg("{node}'s forwarding table sends {container}'s MAC {mac} to {dst}, not to {peer_node} "
                          "({address})", node=node, container=peer, mac=mac, dst=sends[0].get("dst"),
                          peer_node=peer_node, address=peer_address)
    known = [e for e in neigh or [] if e.get("dst") == address and (e.get("lladdr") or "").lower() == mac]
    if not known:
        return None, msg("{node}'s neighbour table in {network}'s namespace does not map {address} to {mac}",
                          node=node, network=name, address=address, mac=mac)
    return True, msg("{said}; it sends {container}'s MAC {mac} over VXLAN to {peer_node} ({address}) and maps "
                     "{ip} to that MAC", said=said, container=peer, mac=mac, peer_node=peer_node,
                     address=peer_address, ip=address)
