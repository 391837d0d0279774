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


def _install() -> str | None:
    address = engine_address()
    if not address.startswith("unix://"):
        return f"the engine is not on this machine ({address}): install the rule on the engine's host"
    if os.geteuid() != 0:
        return "labapp does not run as root, so it cannot add the rule"
    missing = []
    for tool in ("iptables", "ip6tables"):
        path = shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}") if os.path.exists(p)), None)
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
