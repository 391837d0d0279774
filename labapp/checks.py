"""Named checks over what the learner saw (output) and the sandbox's state (read through the
docker SDK from the nodes' engines, and node tools such as ss and ip). A check reads; it
never changes anything. Each result says why, in words a learner can act on."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import docker.errors

from .engine import CONNECTION_ERRORS
from .errors import LabappError
from .i18n import N_, and_list, msg
from .lesson.model import CheckSpec
from .sandbox.base import ExecResult


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    passed: bool
    reason: str

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "passed": self.passed, "reason": self.reason}


class CheckContext:
    """What a check may look at: the step's command results and the sandbox."""

    def __init__(self, sandbox, outputs: list[ExecResult] | None = None, kernel: dict | None = None):
        self.sandbox = sandbox
        self.outputs = list(outputs or [])
        self.kernel = kernel or {}

    def engine(self, node: str):
        return self.sandbox.engine(node)

    def default_node(self) -> str:
        return self.sandbox.nodes[0].name

    def sh(self, node: str, line: str, timeout: float = 20) -> ExecResult:
        return self.sandbox.exec(node, line, timeout=timeout)


@dataclass(frozen=True)
class Param:
    types: tuple
    required: bool = False


@dataclass(frozen=True)
class Kind:
    fn: Callable[[CheckContext, dict], tuple[bool, str]]
    params: dict[str, Param]
    reads: str  # "output" or "state"
    subject: str  # the argument that names what is checked, for the result's name


CHECKS: dict[str, Kind] = {}
_STR, _BOOL, _INT, _LIST = (str,), (bool,), (int,), (list,)


def check(kind: str, reads: str, subject: str, **params: Param):
    def register(fn):
        CHECKS[kind] = Kind(fn, params, reads, subject)
        return fn
    return register


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
    if spec.kind == "output_matches" and isinstance(spec.args.get("value"), str):
        try:
            re.compile(spec.args["value"])
        except re.error as exc:
            problems.append(f"check 'output_matches': not a regular expression ({exc})")
    return problems


def reads_state(spec: CheckSpec) -> bool:
    return CHECKS[spec.kind].reads == "state"


def run_check(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    """Evaluate SPEC; an error reading the state is a failed check with its reason."""
    kind = CHECKS[spec.kind]
    subject = spec.args.get(kind.subject)
    name = f"{spec.kind} {subject}" if subject is not None else spec.kind
    try:
        passed, reason = kind.fn(ctx, spec.args)
    except LabappError as exc:  # a dead node, a node that is not there: its own words
        passed, reason = False, exc.args[0]
    except docker.errors.APIError as exc:
        passed, reason = False, msg("the node's engine refused the question: {answer}",
                                    answer=exc.explanation or str(exc))
    except CONNECTION_ERRORS:
        node = spec.args.get("node") or ctx.default_node()
        passed, reason = False, msg("the engine on {node} does not answer (has the node died?)", node=node)
    return CheckResult(name, spec.kind, passed, reason)


# --- on the output the learner saw ---------------------------------------------------

def _all_output(ctx: CheckContext) -> str:
    return "".join(r.output for r in ctx.outputs)


_NOTHING_RAN = N_("nothing has run yet: run the step's commands first")


@check("exit", "output", "value", value=Param(_STR + _INT, True))
def _exit(ctx, args):
    if not ctx.outputs:
        return False, msg(_NOTHING_RAN)
    code = ctx.outputs[-1].exit_code
    want = args["value"]
    if ctx.outputs[-1].timed_out:
        return False, msg("the last command was stopped by its time limit")
    if want == "zero":
        return code == 0, (msg("the last command succeeded (exit 0)") if code == 0
                           else msg("the last command failed (exit {code}); it should succeed", code=code))
    if want == "nonzero":
        return code not in (0, None), (msg("the last command failed as expected (exit {code})", code=code) if code
                                       else msg("the last command succeeded; this step expects it to fail"))
    return code == want, msg("the last command exited {code}; expected {expected}", code=code, expected=want)


@check("output_contains", "output", "value", value=Param(_STR, True))
def _contains(ctx, args):
    if not ctx.outputs:
        return False, msg(_NOTHING_RAN)
    text = args["value"]
    found = text in _all_output(ctx)
    return found, (msg("the output shows '{text}'", text=text) if found
                   else msg("the output does not show '{text}'", text=text))


@check("output_matches", "output", "value", value=Param(_STR, True))
def _matches(ctx, args):
    if not ctx.outputs:
        return False, msg(_NOTHING_RAN)
    found = re.search(args["value"], _all_output(ctx), re.M) is not None
    return found, (msg("the output matches") if found
                   else msg("the output does not match /{pattern}/", pattern=args["value"]))


# --- on the swarm's state --------------------------------------------------------------

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


def _network_names(engine) -> dict[str, str]:
    return {n.id: n.name for n in engine.networks.list()}


def _missing_extra(have: list[str], need: list[str], avoid: list[str]):
    return [n for n in need if n not in have], [n for n in avoid if n in have]


def _on(names: list[str]) -> str:
    """'a and b' (a Message), or 'no network'."""
    return and_list(names, msg("no network"))


@check("service", "state", "name", name=Param(_STR, True), node=Param(_STR), replicas=Param(_INT),
       networks=Param(_LIST), not_networks=Param(_LIST), endpoint_mode=Param(_STR), exists=Param(_BOOL))
def _service_check(ctx, args):
    name, node = args["name"], args.get("node") or ctx.default_node()
    engine = ctx.engine(node)
    svc = _service(engine, name)
    if args.get("exists", True) is False:
        return svc is None, (msg("there is no service {service}", service=name) if svc is None
                             else msg("service {service} still exists", service=name))
    if svc is None:
        return False, msg("there is no service {service} (create it with docker service create --name {service} ...)",
                          service=name)
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
    if "replicas" in args and len(running) != args["replicas"]:
        return False, msg("service {service} has {running} of {wanted} tasks running", service=name,
                          running=len(running), wanted=args["replicas"])
    return True, msg("service {service}: {running} tasks running on {networks}", service=name, running=len(running),
                     networks=_on(have))


@check("container", "state", "name", name=Param(_STR, True), node=Param(_STR), networks=Param(_LIST),
       not_networks=Param(_LIST), running=Param(_BOOL), exists=Param(_BOOL))
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
        return False, msg("there is no container {container} on {node}", container=name, node=node)
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
    return True, msg("{container} on {node} is attached to {networks}", container=name, node=node,
                     networks=_on(have))


def _container_exists(ctx, node, name) -> str | None:
    try:
        ctx.engine(node).containers.get(name)
        return None
    except docker.errors.NotFound:
        return msg("there is no container {container} on {node}", container=name, node=node)


@check("resolves", "state", "name", container=Param(_STR, True), name=Param(_STR, True),
       node=Param(_STR), expect=Param(_BOOL))
def _resolves(ctx, args):
    node, container, name = args.get("node") or ctx.default_node(), args["container"], args["name"]
    missing = _container_exists(ctx, node, container)
    if missing:
        return False, missing
    out = ctx.sh(node, f"docker exec {container} nslookup {name}", timeout=20)
    answers = re.findall(r"^Address:\s*(\S+)", out.stdout.split("Name:", 1)[-1], re.M) \
        if "Name:" in out.stdout else []
    resolved = out.exit_code == 0 and bool(answers)
    want = args.get("expect", True)
    if resolved:
        reason = msg("{name} resolves from {container} to {addresses}", name=name, container=container,
                     addresses=", ".join(answers))
    else:
        reason = msg("{name} does not resolve from {container} (no network they share serves that name)", name=name,
                     container=container)
    return resolved == want, reason


@check("reaches", "state", "target", container=Param(_STR, True), target=Param(_STR, True),
       node=Param(_STR), port=Param(_INT), expect=Param(_BOOL))
def _reaches(ctx, args):
    node, container, target = args.get("node") or ctx.default_node(), args["container"], args["target"]
    missing = _container_exists(ctx, node, container)
    if missing:
        return False, missing
    port = args.get("port")
    if port:
        out = ctx.sh(node, f"docker exec {container} nc -w 2 {target} {port} </dev/null", timeout=20)
        what = f"{target}:{port}"
    else:
        # one packet, answered in well under a millisecond inside a sandbox or given up after
        # 1 s; once more before calling the target unreachable
        probe = f"ping -c 1 -W 1 {target}"
        out = ctx.sh(node, f"docker exec {container} sh -c '{probe} || {probe}'", timeout=20)
        what = target
    reached = out.exit_code == 0
    want = args.get("expect", True)
    if reached:
        reason = msg("{container} reaches {target}", container=container, target=what)
    else:
        detail = (out.stdout + out.stderr).strip().splitlines()
        reason = (msg("{container} cannot reach {target} ({detail})", container=container, target=what,
                      detail=detail[-1]) if detail
                  else msg("{container} cannot reach {target}", container=container, target=what))
    return reached == want, reason


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
    return len(ready) == args["value"], msg("{ready} of {nodes} nodes are Ready ({names})", ready=len(ready),
                                            nodes=len(nodes), names=", ".join(sorted(ready)))
