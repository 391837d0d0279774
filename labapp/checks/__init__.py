"""Named checks over what the learner saw (output) and the sandbox's state (read through the
docker SDK from the nodes' engines, and node tools such as ss, ip and tcpdump). A check
reads; it never changes anything. Each result says why, in words a learner can act on.

Most state checks run their node tools as the app's user on the node; the few that look
inside a network namespace (`vxlan`, namespace.py; `resolves`, `reaches` and `capture`'s
traffic, from a container's namespace: base.py in_container_netns) run them as root of the
node's own user namespace (sandbox/nodeexec.py as_node_root), and never a program of a
learner's container. Their arguments come from a lesson file only, and every value that
reaches a shell is quoted.

The kinds, by what they read: output.py (the learner's output), state.py (networks,
services, containers, ports, xfrm), names.py (names and reachability from a container),
wire.py (a packet capture), namespace.py (inside an overlay's namespace); base.py holds
the registry, validation and run_check."""

from __future__ import annotations

from .base import (CHECKS, CheckContext, CheckResult, Kind, Param, check, needs_setup_state, reads_state,
                   remember, run_check, runs_alone, validate_check)
# Each module registers its kinds in CHECKS as it is imported.
from . import namespace, names, output, state, wire  # noqa: F401  (isort: the registry needs them all)

__all__ = ["CHECKS", "CheckContext", "CheckResult", "Kind", "Param", "check", "needs_setup_state",
           "reads_state", "remember", "run_check", "runs_alone", "validate_check"]
