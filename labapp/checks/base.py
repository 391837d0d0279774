"""The check machinery: results, what a check may look at (CheckContext), the registry of
kinds (@check), validation of a lesson's check arguments and run_check. The kinds themselves
are in the sibling modules, by what they read."""
from __future__ import annotations

import collections
import hashlib
import ipaddress
import os
import re
import shlex
import threading
import time
from dataclasses import dataclass
from typing import Callable

import docker.errors

from ..engine import CONNECTION_ERRORS
from ..capacity import load_per_core
from ..errors import LabappError
from ..filters import sandbox as filters_sandbox
from ..i18n import msg, said
from ..lesson.model import CheckSpec
from ..sandbox.base import ExecResult
from ..sandbox.nodeexec import as_node_root


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    passed: bool
    reason: str
    rule: bool = False  # a rule of the step (holds before it as after it)
    waited: float = 0.0  # seconds the check waited for the swarm to converge
    uncertain: bool = False  # still converging at the deadline: no verdict on the answer

    def as_dict(self) -> dict:
        data = {"name": self.name, "kind": self.kind, "passed": self.passed, "reason": self.reason}
        if self.rule:
            data["rule"] = True
        if self.waited >= 0.5:
            data["waited"] = round(self.waited, 1)
        if self.uncertain:
            data["uncertain"] = True
        return data


# How long a check waits for state that converges (tasks starting, names and routes spreading
# between nodes): PATIENCE seconds on an idle host, times the host's load per core (1 to
# MAX_STRETCH). A check waits only while it sees the swarm still moving (a kind returns None
# for "not yet"); a wrong answer fails at once.
PATIENCE = 10.0
MAX_STRETCH = 4.0


def load_stretch(per_core: Callable[[], float] | None = None) -> float:
    """The host's CPU contention per core (PER_CORE: capacity.load_per_core, from CPU pressure
    where the kernel has it), between 1 and MAX_STRETCH."""
    return min(MAX_STRETCH, max(1.0, (per_core or load_per_core)()))


class CheckContext:
    """What a check may look at: the step's command results and the sandbox."""

    def __init__(self, sandbox, outputs: list[ExecResult] | None = None, kernel: dict | None = None,
                 setup_state: dict | None = None, patience: float | None = None):
        """PATIENCE: the seconds a check may wait for converging state (None: PATIENCE
        stretched by the host's load now, see load_stretch)."""
        self.sandbox = sandbox
        self.patience = PATIENCE * load_stretch() if patience is None else patience
        self.outputs = list(outputs or [])
        self.kernel = kernel or {}
        # What the step's setup left (ids of services and containers, see remember()); None
        # when no record was found.
        self.setup_state = setup_state

    def engine(self, node: str):
        return self.sandbox.engine(node)

    def default_node(self) -> str:
        return self.sandbox.nodes[0].name

    def sh(self, node: str, line: str, timeout: float = 20, root: bool = False) -> ExecResult:
        """Run LINE (the check's own, values quoted) on NODE; ROOT: as root of the node's user
        namespace, for what looks inside a network namespace."""
        return self.sandbox.exec(node, as_node_root(line) if root else line, timeout=timeout)

    def in_container_netns(self, node: str, container: str, line: str, timeout: float = 20) -> ExecResult:
        """Run LINE (node tools, values quoted: see towards() and lookup_line()) in CONTAINER's
        network namespace on NODE, as root of the node's user namespace (netns_line). Nothing of
        the container's own files runs, so nothing its learner wrote there can answer for it.
        A container that is gone or not running, or whose namespace cannot be entered, is a
        LabappError (the check fails with it, whatever it expected)."""
        try:
            found = self.engine(node).containers.get(container)
        except docker.errors.NotFound:
            raise LabappError(msg("there is no container {container} on {node}", container=container,
                                  node=node)) from None
        if found.status != "running":
            raise LabappError(msg("container {container} on {node} is not running ({status})",
                                  container=container, node=node, status=found.status))
        out = self.sh(node, netns_line(container, line), timeout=timeout, root=True)
        if out.exit_code == NETNS_UNREACHABLE:
            said = (out.stderr or out.stdout).strip().splitlines()
            raise LabappError(msg("container {container} on {node} is not running ({status})",
                                  container=container, node=node, status=said[-1] if said else "?"))
        return out


# Probes from a container run in its network namespace with the node's own tools (busybox
# applets: the same busybox as the lesson images, so the same output), never a binary of the
# container: a learner is root in their containers and may replace any file there.
EMBEDDED_DNS = "127.0.0.11"  # Docker's DNS server, inside a container's network namespace
NETNS_UNREACHABLE = 125  # netns_line's exit code when it cannot enter the namespace


def netns_line(container: str, line: str) -> str:
    """The node shell line (to run as root of the node's user namespace) that runs LINE in
    CONTAINER's network namespace: the namespace Docker made for it (its SandboxKey, or its
    first process's when it has none), entered with the node's nsenter. Only the network
    namespace changes: LINE's programs are the node's own. Exit NETNS_UNREACHABLE (and why,
    on stderr) when the container does not run or its namespace cannot be entered."""
    return ("set -f; info=$(docker inspect --type container "
            "-f '{{.State.Pid}} {{.State.Status}} {{.NetworkSettings.SandboxKey}}' -- "
            f"{shlex.quote(container)}) || exit {NETNS_UNREACHABLE}; "
            "set -- $info; "
            f'[ "${{1:-0}}" -gt 0 ] 2>/dev/null || {{ echo "${{2:-gone}}" >&2; exit {NETNS_UNREACHABLE}; }}; '
            'ns=${3:-/proc/$1/ns/net}; '
            f'nsenter --net="$ns" -- true || exit {NETNS_UNREACHABLE}; '
            f'exec nsenter --net="$ns" -- sh -c {shlex.quote(line)}')


def lookup_line(name: str, timeout: int = 2) -> str:
    """busybox nslookup of NAME asking Docker's embedded DNS (never the node's resolver)."""
    return f"busybox nslookup -timeout={int(timeout)} {shlex.quote(name)} {EMBEDDED_DNS}"


def _is_address(target: str) -> bool:
    try:
        ipaddress.ip_address(target)
        return True
    except ValueError:
        return False


def towards(target: str, program: str, args: str) -> str:
    """The line (for in_container_netns) that runs `busybox PROGRAM ARGS`, ARGS naming the
    target as "$addr": TARGET itself when it is an IP address, else the first address Docker's
    embedded DNS gives for it (the node's own resolver knows no name of the sandbox). A name
    with no address fails as busybox does: "PROGRAM: bad address 'TARGET'"."""
    if _is_address(target):
        return f"addr={shlex.quote(target)}; busybox {program} {args}"
    return (f"t={shlex.quote(target)}; "
            f"addr=$(busybox nslookup -timeout=2 \"$t\" {EMBEDDED_DNS} 2>/dev/null | "
            "busybox awk '/^Name:/ {n = 1} n && /^Address:/ {print $2; exit}'); "
            f'[ -n "$addr" ] || {{ echo "{program}: bad address \'$t\'" >&2; exit 1; }}; '
            f"busybox {program} {args}")


@dataclass(frozen=True)
class Param:
    types: tuple
    required: bool = False


@dataclass(frozen=True)
class Kind:
    # (passed, reason); passed is None for "not yet": the state is still converging towards
    # what the check wants (evidence of it: tasks starting, a name the container's networks
    # should serve), so run_check asks again until the context's patience runs out
    fn: Callable[[CheckContext, dict], tuple[bool | None, str]]
    params: dict[str, Param]
    reads: str  # "output" or "state"
    subject: str  # the argument that names what is checked, for the result's name
    # What to record after the step's setup, for `same_as_setup` (None: nothing to record)
    remember: Callable[[CheckContext, dict], tuple[str, str] | None] | None = None
    # Run alone, not beside other checks: a capture must not see the traffic they make
    alone: bool = False


CHECKS: dict[str, Kind] = {}
_STR, _BOOL, _INT, _LIST, _DICT = (str,), (bool,), (int,), (list,), (dict,)


def check(kind: str, reads: str, subject: str, remember=None, alone=False, **params: Param):
    def register(fn):
        CHECKS[kind] = Kind(fn, params, reads, subject, remember, alone)
        return fn
    return register


def runs_alone(spec: CheckSpec) -> bool:
    """True for a check that must not run beside others (it watches the wire)."""
    return CHECKS[spec.kind].alone


def needs_setup_state(spec: CheckSpec) -> bool:
    """True when SPEC compares with what the step's setup left (same_as_setup: true)."""
    return bool(spec.args.get("same_as_setup")) and CHECKS[spec.kind].remember is not None


def remember(specs, ctx: CheckContext) -> dict:
    """What SPECS that compare with the setup need recorded now, right after it: {key: id}."""
    state = {}
    for spec in specs:
        if needs_setup_state(spec):
            found = CHECKS[spec.kind].remember(ctx, spec.args)
            if found:
                state[found[0]] = found[1]
    return state


def validate_check(spec: CheckSpec, node_names: list[str] | None = None) -> list[str]:
    """Every problem with SPEC's kind and arguments (empty when it is well formed)."""
    kind = CHECKS.get(spec.kind)
    if kind is None:
        return [f"unknown check kind '{spec.kind}' (known: {', '.join(sorted(CHECKS))})"]
    problems = []
    for name, value in spec.args.items():
        param = kind.params.get(name)
        if param is None:
            problems.append(f"unknown argument '{name}' for check '{spec.kind}' (known: {', '.join(kind.params)})")
        elif not isinstance(value, param.types) or (param.types == _INT and isinstance(value, bool)):
            problems.append(f"check '{spec.kind}': '{name}' must be {' or '.join(t.__name__ for t in param.types)}, not {value!r}")
        elif name == "node" and node_names and value not in node_names:
            problems.append(f"check '{spec.kind}': unknown node '{value}' (this lesson's nodes: {', '.join(node_names)})")
    for name, param in kind.params.items():
        if param.required and name not in spec.args:
            problems.append(f"check '{spec.kind}' needs '{name}'")
    if spec.kind == "exit" and not (spec.args.get("value") in ("zero", "nonzero") or isinstance(spec.args.get("value"), int)):
        problems.append("check 'exit' is zero, nonzero or an exit code")
    pattern = {"output_matches": "value", "capture": "match"}.get(spec.kind)
    if pattern and isinstance(spec.args.get(pattern), str):
        try:
            re.compile(spec.args[pattern])
        except re.error as exc:
            problems.append(f"check '{spec.kind}': not a regular expression ({exc})")
    if spec.kind == "capture" and isinstance(spec.args.get("during"), dict):
        during = spec.args["during"]
        for key in during:
            if key not in ("container", "target", "node", "port"):
                problems.append(f"check 'capture': unknown argument 'during.{key}' (known: container, target, "
                                "node, port)")
        for key in ("container", "target"):
            if not isinstance(during.get(key), str):
                problems.append(f"check 'capture': 'during' needs '{key}' (a name)")
        if "node" in during and node_names and during["node"] not in node_names:
            problems.append(f"check 'capture': unknown node '{during['node']}' (this lesson's nodes: "
                            f"{', '.join(node_names)})")
        if "port" in during and (not isinstance(during["port"], int) or isinstance(during["port"], bool)):
            problems.append("check 'capture': 'during.port' must be int")
    if spec.kind == "vxlan" and "peer" in spec.args and "peer_node" not in spec.args:
        problems.append("check 'vxlan': 'peer' needs 'peer_node' (the node the peer container runs on)")
    if spec.kind == "vxlan" and "peer_node" in spec.args and \
            spec.args["peer_node"] == (spec.args.get("node") or (node_names or [None])[0]):
        problems.append("check 'vxlan': the peer must run on another node than the one whose tables are read")
    if spec.kind == "vxlan" and node_names and spec.args.get("peer_node") not in (None, *node_names):
        problems.append(f"check 'vxlan': unknown node '{spec.args['peer_node']}' (this lesson's nodes: "
                        f"{', '.join(node_names)})")
    if spec.kind == "resolves" and "service" in spec.args and spec.args.get("expect") is False:
        problems.append("check 'resolves': 'service' says whose addresses the name must give; it goes with "
                        "a name that resolves, not with expect: false")
    return problems


def reads_state(spec: CheckSpec) -> bool:
    return CHECKS[spec.kind].reads == "state"


_PATTERN_VERDICTS: "collections.OrderedDict[tuple, object]" = collections.OrderedDict()
_PATTERN_VERDICTS_KEPT = 256
_PATTERN_LOCK = threading.Lock()


def pattern_hits(pattern: str, flags: int, texts: list[str]) -> list[int] | None:
    """The indexes of the TEXTS (a learner's output) that a lesson's PATTERN matches, found in
    the filters' sandbox within its time limit (filters_sandbox.search), under the learner's
    one job at a time (the caller's filters.owned_by). A pattern that did not finish is a
    LabappError that says why (the check fails: output crafted to make a pattern backtrack
    for hours is not judged); that verdict (it spent its CPU time, whatever the host's load)
    and a match are kept for the same pattern and output, so a learner pressing Check again
    costs the jail nothing. None ("not yet": asked again) when the jail had no free slot, ran
    out of wall clock before CPU time (a busy host) or could not answer now: the lab's
    trouble, not the learner's answer."""
    digest = hashlib.sha256("\0".join(texts).encode("utf-8", "surrogatepass")).hexdigest()
    key = (pattern, int(flags), len(texts), digest)
    with _PATTERN_LOCK:
        kept = _PATTERN_VERDICTS.get(key)
        if kept is not None:
            _PATTERN_VERDICTS.move_to_end(key)
    if kept is None:
        try:
            kept = filters_sandbox.search(pattern, flags, texts)
        except filters_sandbox.Overran as exc:
            kept = msg("the output could not be checked against /{pattern}/ ({why}): output this long or this "
                       "unusual is not judged; run the step's commands as written and check again",
                       pattern=pattern, why=said(exc))
        except filters_sandbox.JobFailed:  # busy, slow (TimedOut), or the jail could not start: ask again
            return None
        with _PATTERN_LOCK:
            _PATTERN_VERDICTS[key] = kept
            while len(_PATTERN_VERDICTS) > _PATTERN_VERDICTS_KEPT:
                _PATTERN_VERDICTS.popitem(last=False)
    if isinstance(kept, list):
        return list(kept)
    raise LabappError(kept)


def run_check(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    """Evaluate SPEC; an error reading the state is a failed check with its reason. While the
    kind says "not yet" (the swarm is still converging) it is asked again, with pauses, up to
    the context's patience; a check still converging then is uncertain (no verdict on the
    learner's answer), and one that passed after waiting says how long it waited."""
    kind = CHECKS[spec.kind]
    subject = spec.args.get(kind.subject)
    name = f"{spec.kind} {subject}" if subject is not None else spec.kind
    started, pause, tries = time.monotonic(), 0.5, 0
    while True:
        passed, reason = _evaluate(kind, spec, ctx)
        tries += 1
        waited = time.monotonic() - started
        if passed is not None:
            break
        if waited + pause > ctx.patience:
            return CheckResult(name, spec.kind, False, msg(
                "not judged yet: the lab is slow and the swarm is still converging ({reason}); this says nothing "
                "about your answer, so it is checked again", reason=reason), spec.rule, waited, uncertain=True)
        time.sleep(pause)
        pause = min(pause * 1.5, 3.0)
    if passed and tries > 1:
        reason = msg("{reason} (passed after {seconds} s: the swarm was still converging)", reason=reason,
                     seconds=max(1, round(waited)))
    return CheckResult(name, spec.kind, passed, reason, spec.rule, waited if tries > 1 else 0.0)


def _evaluate(kind: Kind, spec: CheckSpec, ctx: CheckContext) -> tuple[bool | None, str]:
    try:
        return kind.fn(ctx, spec.args)
    except LabappError as exc:  # a dead node, a node that is not there: its own words
        return False, exc.args[0]
    except docker.errors.APIError as exc:
        return False, msg("the node's engine refused the question: {answer}", answer=exc.explanation or str(exc))
    except CONNECTION_ERRORS:
        node = spec.args.get("node") or ctx.default_node()
        return False, msg("the engine on {node} does not answer (has the node died?)", node=node)
