"""The host's wall against its own sandboxes: nothing from a sandbox's bridge reaches the
host itself.

A sandbox's network is `internal`, and Docker's isolation rules drop what would leave its
bridge for another network; but a packet addressed to the host's own addresses (the
bridge's gateway, docker0, the host's LAN address: every port the host listens on) is
input to the host, which those rules do not cover, and a node is root of its own network
namespace (it may add any route). So one rule drops all input from every sandbox bridge:
they are all named labapp-<id> (swarm._create_network). It is installed on demand, when
labapp can (root, and the engine on this machine), and `labapp doctor` says when it is not.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading

from ..engine import engine_address

BRIDGES = "labapp-+"  # iptables' wildcard for every sandbox bridge
_RULE = ["INPUT", "-i", BRIDGES, "-m", "comment", "--comment", "labapp: sandboxes never reach the host",
         "-j", "DROP"]
_lock = threading.Lock()
_state: dict[str, str | None] = {}


def ensure_host_wall() -> str | None:
    """Install the rule (iptables and ip6tables) if it is missing; None when it is in place,
    else the reason it cannot be (remembered: asked once per process)."""
    with _lock:
        if "result" not in _state:
            _state["result"] = _install()
        return _state["result"]


def _tool(name: str) -> str | None:
    """The path of iptables or ip6tables (on PATH, or in sbin when PATH lacks it), or None."""
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.path.exists(p)), None)


def _install() -> str | None:
    address = engine_address()
    if not address.startswith("unix://"):
        return f"the engine is not on this machine ({address}): install the rule on the engine's host"
    if os.geteuid() != 0:
        return "labapp does not run as root, so it cannot add the rule"
    missing = []
    for tool in ("iptables", "ip6tables"):
        path = _tool(tool)
        if path is None:
            if tool == "iptables":
                return "iptables is not installed"
            continue
        check = subprocess.run([path, "-w", "-C", *_RULE], capture_output=True)
        if check.returncode == 0:
            continue
        added = subprocess.run([path, "-w", "-I", *_RULE[:1], "1", *_RULE[1:]], capture_output=True, text=True)
        if added.returncode != 0:
            missing.append(f"{tool}: {added.stderr.strip() or added.returncode}")
    return "; ".join(missing) or None


def host_wall_status() -> str | None:
    """For `labapp doctor`: None when the rule is in place, else why it is not."""
    return ensure_host_wall()


# More than one engine on this machine (LABAPP_ENGINES, sandbox/multi.py): an engine started
# with --iptables=false installs none of Docker's rules for its networks, so the host's own
# FORWARD chain decides what its sandboxes' bridges carry (on this host: policy DROP with
# br_netfilter, which even dropped the frames between a sandbox's own nodes, so no swarm
# formed; and an engine with iptables lets its ordinary bridges route to any other bridge,
# a sandbox's too). These rules make every sandbox bridge an island whatever the engine
# does: frames that stay on one bridge (a sandbox's nodes among themselves) pass, anything
# routed out of or into a labapp-* bridge is dropped. They go first in DOCKER-USER where an
# engine with iptables made it (Docker puts its own rules above anything else in FORWARD
# whenever it makes a network, and never above DOCKER-USER), else first in FORWARD. With the
# INPUT rule above, a sandbox reaches neither the host, nor another sandbox, nor anything the
# host routes to, and nothing reaches it (tests/integration/test_engines.py).
_BRIDGE_RULES = [
    ["FORWARD", "-i", BRIDGES, "-m", "physdev", "--physdev-is-bridged", "-m", "comment", "--comment",
     "labapp: a sandbox's nodes reach each other", "-j", "ACCEPT"],
    ["FORWARD", "-i", BRIDGES, "-m", "comment", "--comment", "labapp: nothing is routed out of a sandbox",
     "-j", "DROP"],
    ["FORWARD", "-o", BRIDGES, "-m", "comment", "--comment", "labapp: nothing is routed into a sandbox",
     "-j", "DROP"],
]


def ensure_bridge_wall() -> str | None:
    """Install the FORWARD rules (iptables, and ip6tables where it is) in this order at the top
    of the chain if they are missing; None when in place, else the reason they cannot be."""
    with _lock:
        if "bridges" not in _state:
            _state["bridges"] = _install_bridge_rules()
        return _state["bridges"]


def _install_bridge_rules() -> str | None:
    if os.geteuid() != 0:
        return "labapp does not run as root, so it cannot add the rules"
    problems = []
    for tool in ("iptables", "ip6tables"):
        path = _tool(tool)
        if path is None:
            if tool == "iptables":
                return "iptables is not installed"
            continue
        chain = "DOCKER-USER" if subprocess.run([path, "-w", "-S", "DOCKER-USER"],
                                                capture_output=True).returncode == 0 else "FORWARD"
        for position, rule in enumerate(_BRIDGE_RULES, start=1):
            if subprocess.run([path, "-w", "-C", chain, *rule[1:]], capture_output=True).returncode == 0:
                continue
            added = subprocess.run([path, "-w", "-I", chain, str(position), *rule[1:]], capture_output=True,
                                   text=True)
            if added.returncode != 0:
                problems.append(f"{tool}: {added.stderr.strip() or added.returncode}")
                break
    return "; ".join(problems) or None


def bridge_wall_status() -> str | None:
    """For `labapp doctor` with several engines: None when the FORWARD rules are in place."""
    return ensure_bridge_wall()
