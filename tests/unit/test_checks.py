"""Each check kind against fake output and fake swarm state: passes, and fails with a reason."""
import threading
import time

import pytest

from labapp.checks import CheckContext, run_check, validate_check
from labapp.checks.base import netns_line
from labapp.lesson.model import CheckSpec
from labapp.sandbox.base import ExecResult
from labapp.sandbox.nodeexec import as_node_root

from .fakes import FakeEngine, FakeSandbox, container, fail, network, ok, service, swarm_node


def check(kind, args, sandbox=None, outputs=(), **kw):
    spec = CheckSpec(kind, args if isinstance(args, dict) else {"value": args})
    assert validate_check(spec) == []
    return run_check(spec, CheckContext(sandbox or FakeSandbox(), list(outputs), kw.get("kernel"),
                                        kw.get("setup_state")))


def probe(container, line):
    """What a probe from CONTAINER runs on its node: LINE in the container's network namespace,
    as the node's root (checks/base.py netns_line)."""
    return as_node_root(netns_line(container, line))


LOOKUP = ("t={target}; addr=$(busybox nslookup -timeout=2 \"$t\" 127.0.0.11 2>/dev/null | "
          "busybox awk '/^Name:/ {{n = 1}} n && /^Address:/ {{print $2; exit}}'); "
          "[ -n \"$addr\" ] || {{ echo \"{program}: bad address '$t'\" >&2; exit 1; }}; ")


def test_exit_zero_nonzero_and_code():
    assert check("exit", "zero", outputs=[ok()]).passed
    result = check("exit", "zero", outputs=[ok(), fail(2)])
    assert not result.passed and "failed (exit 2); it should succeed" in result.reason
    assert check("exit", "nonzero", outputs=[fail(1)]).passed
    assert "expects it to fail" in check("exit", "nonzero", outputs=[ok()]).reason
    assert check("exit", 3, outputs=[fail(3)]).passed


def test_output_checks_need_something_to_have_run():
    result = check("output_contains", "x")
    assert not result.passed and "run the step's commands first" in result.reason


def test_output_contains_and_matches_read_stdout_and_stderr_of_every_command():
    outputs = [ok("first\n"), fail(1, stderr="ping: bad address 'my-nginx'\n")]
    assert check("output_contains", "bad address 'my-nginx'", outputs=outputs).passed
    assert check("output_matches", r"^first$", outputs=outputs).passed
    missing = check("output_contains", "Ready", outputs=outputs)
    assert not missing.passed and missing.reason == "the output does not show 'Ready'"


def test_output_matches_waits_when_the_pattern_sandbox_is_busy_and_fails_when_it_overruns(monkeypatch):
    """The pattern runs in the filters' sandbox (tests/security/test_check_patterns.py tries
    it for real): no free slot, or a jail that cannot answer now, is "not yet" (asked again,
    then uncertain); a pattern stopped by its limits is a failure that says so, and the same
    pattern over the same output is not run again."""
    import collections

    from labapp.checks import base
    from labapp.filters import sandbox as filters_sandbox

    monkeypatch.setattr(base, "_PATTERN_VERDICTS", collections.OrderedDict())
    asked = []

    def trouble(error):
        def search(*a, **kw):
            asked.append(error)
            raise error
        return search
    spec = CheckSpec("output_matches", {"value": "x"})
    for error in (filters_sandbox.Busy("busy"), filters_sandbox.JobFailed("the sandbox is not available"),
                  filters_sandbox.TimedOut("stopped: it ran longer than 12 s")):  # a busy host, not the output
        monkeypatch.setattr(base.filters_sandbox, "search", trouble(error))
        result = run_check(spec, CheckContext(FakeSandbox(), [ok("x\n")], patience=1.0))
        assert result.uncertain and not result.passed and "could not match the output just now" in result.reason
    monkeypatch.setattr(base.filters_sandbox, "search", trouble(filters_sandbox.Overran("stopped: it used up its CPU time")))
    asked.clear()
    for _ in range(3):
        result = run_check(spec, CheckContext(FakeSandbox(), [ok("x\n")]))
        assert not result.passed and not result.uncertain
        assert "could not be checked against /x/ (stopped: it used up its CPU time)" in result.reason
    assert len(asked) == 1  # kept: Check pressed again costs the jail nothing
    other = run_check(spec, CheckContext(FakeSandbox(), [ok("x and more\n")]))
    assert not other.passed and len(asked) == 2  # another output is another question


ENGINE = FakeEngine(
    networks=[network("test-cluster-net2"), network("test-cluster-net", attachable=True),
              network("secure", attachable=True, encrypted=True, subnet="10.0.3.0/24"),
              network("test-net", driver="bridge", scope="local")],
    services=[service("my-nginx", ["test-cluster-net2"], running=3)],
    containers=[container("alpine1", ["test-net"]), container("gone", running=False)],
    nodes=[swarm_node("manager1"), swarm_node("worker1"), swarm_node("worker2", "down")],
)


@pytest.fixture
def box():
    return FakeSandbox(ENGINE)


def test_network_passes_with_its_traits(box):
    result = check("network", {"name": "secure", "driver": "overlay", "attachable": True,
                               "encrypted": True, "subnet": "10.0.3.0/24"}, box)
    assert result.passed and result.name == "network secure"
    assert result.reason == "network secure: overlay, swarm, attachable, encrypted, 10.0.3.0/24"


@pytest.mark.parametrize("args,reason", [
    ({"name": "nope"}, "there is no network nope on manager1 (it has secure, test-cluster-net, test-cluster-net2, test-net)"),
    ({"name": "test-net", "driver": "overlay"}, "network test-net uses the bridge driver; it needs overlay"),
    ({"name": "test-cluster-net2", "attachable": True}, "network test-cluster-net2 is not attachable"),
    ({"name": "test-cluster-net", "encrypted": True}, "is not encrypted (create it with --opt encrypted)"),
    ({"name": "secure", "subnet": "10.9.0.0/24"}, "has subnet 10.0.3.0/24; it needs 10.9.0.0/24"),
    ({"name": "secure", "exists": False}, "network secure still exists"),
])
def test_network_failures_say_why(box, args, reason):
    result = check("network", args, box)
    assert not result.passed and reason in result.reason


def test_service_replicas_networks_and_mode(box):
    result = check("service", {"name": "my-nginx", "replicas": 5}, box)
    assert not result.passed and result.reason == "service my-nginx has 3 of 5 tasks running"
    result = check("service", {"name": "my-nginx", "networks": ["test-cluster-net"]}, box)
    assert result.reason == "service my-nginx is on test-cluster-net2 only; it needs test-cluster-net"
    result = check("service", {"name": "my-nginx", "not_networks": ["test-cluster-net2"]}, box)
    assert result.reason == "service my-nginx is still on test-cluster-net2"
    assert not check("service", {"name": "my-nginx", "endpoint_mode": "dnsrr"}, box).passed
    assert check("service", {"name": "my-nginx", "replicas": 3, "networks": ["test-cluster-net2"]}, box).passed
    assert "there is no service web" in check("service", {"name": "web"}, box).reason
    assert check("service", {"name": "web", "exists": False}, box).passed


def test_container_networks_with_an_actionable_reason(box):
    result = check("container", {"name": "alpine1", "networks": ["test-net", "test-cluster-net"]}, box)
    assert not result.passed
    assert result.reason == "alpine1 is attached to test-net only; it needs test-cluster-net"
    assert check("container", {"name": "alpine1", "networks": ["test-net"]}, box).passed
    assert "is not running (exited)" in check("container", {"name": "gone"}, box).reason
    assert check("container", {"name": "ghost"}, box).reason == "there is no container ghost on manager1"


def test_resolves_reads_nslookup_and_fails_without_the_container():
    answer = ok("Server:\t127.0.0.11\nAddress:\t127.0.0.11:53\n\nName:\tmy-nginx\nAddress: 10.0.2.5\n")
    box = FakeSandbox(ENGINE, script=[(r"nslookup -timeout=2 my-nginx", answer), (r"nslookup", fail(1, "** server can't find"))])
    result = check("resolves", {"container": "alpine1", "name": "my-nginx"}, box)
    assert result.passed and result.reason == "my-nginx resolves from alpine1 to 10.0.2.5"
    assert check("resolves", {"container": "alpine1", "name": "other", "expect": False}, box).passed
    missing = check("resolves", {"container": "ghost", "name": "x", "expect": False}, box)
    assert not missing.passed and missing.reason == "there is no container ghost on manager1"
    assert ("manager1", probe("alpine1", "busybox nslookup -timeout=2 my-nginx 127.0.0.11")) in box.ran


def test_reaches_by_ping_or_tcp_port():
    box = FakeSandbox(ENGINE, script=[
        (r"t=up;.*busybox ping -c 1 -W 1", ok("1 packets received")),
        (r"ping", fail(1, "1 packets transmitted, 0 packets received, 100% packet loss")),
        (r"t=web;.*busybox nc -w 2 \"\$addr\" 80", ok()),
    ])
    assert check("reaches", {"container": "alpine1", "target": "up"}, box).passed
    down = check("reaches", {"container": "alpine1", "target": "down"}, box)
    assert not down.passed and down.reason == ("alpine1 cannot reach down "
                                               "(1 packets transmitted, 0 packets received, 100% packet loss)")
    assert check("reaches", {"container": "alpine1", "target": "down", "expect": False}, box).passed
    assert check("reaches", {"container": "alpine1", "target": "web", "port": 80}, box).reason == "alpine1 reaches web:80"
    ping = 'busybox ping -c 1 -W 1 "$addr" || busybox ping -c 1 -W 1 "$addr"'
    assert box.ran[0] == ("manager1", probe("alpine1", LOOKUP.format(target="up", program="ping") + ping))
    assert box.ran[-1] == ("manager1", probe("alpine1", LOOKUP.format(target="web", program="nc")
                                             + 'busybox nc -w 2 "$addr" 80 </dev/null'))
    # an address is used as it is, never looked up
    check("reaches", {"container": "alpine1", "target": "10.0.2.5"}, box)
    assert box.ran[-1] == ("manager1", probe("alpine1", "addr=10.0.2.5; " + ping))


SS = """udp   UNCONN 0      0                  *:7946             *:*
udp   UNCONN 0      0            0.0.0.0:4789       0.0.0.0:*
tcp   LISTEN 0      4096               *:2377             *:*
tcp   LISTEN 0      4096               *:7946             *:*
"""


def test_ports_lists_what_is_missing():
    box = FakeSandbox(ENGINE, script=[(r"ss -lntu", ok(SS))])
    assert check("ports", {"node": "manager1", "listening": ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp"]}, box).passed
    result = check("ports", {"node": "worker1", "listening": ["4789/tcp"]}, box)
    assert not result.passed
    assert result.reason == "worker1 does not listen on 4789/tcp (its swarm ports now: 2377/tcp, 4789/udp, 7946/tcp, 7946/udp)"


def test_xfrm_policies_and_states():
    policy = "src 172.29.0.3/32 dst 172.29.0.2/32 proto udp dport 4789\n\tdir out priority 0\n\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto esp spi 0x1 reqid 1 mode transport\n"
    box = FakeSandbox(ENGINE, script=[(r"ip xfrm policy", ok(policy)), (r"ip xfrm state", ok(""))])
    assert check("xfrm", {"node": "worker1", "policies": True, "states": False}, box).passed
    result = check("xfrm", {"node": "worker1", "states": True}, box)
    assert not result.passed and "no ESP security association" in result.reason
    empty = FakeSandbox(ENGINE, script=[(r"ip xfrm", ok(""))])
    assert "no ESP xfrm policy yet" in check("xfrm", {"node": "worker1", "policies": True}, empty).reason


def test_nodes_ready_counts_ready_nodes(box):
    result = check("nodes_ready", 3, box)
    assert not result.passed and result.reason == "2 of 3 nodes are Ready (manager1, worker1)"
    assert check("nodes_ready", 2, box).passed


def test_a_dead_node_is_a_failed_check_with_its_reason():
    from labapp.errors import NodeDead

    class Dead(FakeSandbox):
        def engine(self, node):
            raise NodeDead(f"node {node} of sandbox fake is not running")

    result = check("network", {"name": "x", "node": "worker1"}, Dead(ENGINE))
    assert not result.passed and result.reason == "node worker1 of sandbox fake is not running"


# --- the checks of issue 12: rules, service identity, the wire, inside the namespace ----

import json  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from labapp.sandbox.base import Node  # noqa: E402


def svc(name, sid, networks=(), tasks=(), vips=()):
    """A service with an ID, running TASKS ([(state, address), ...]) and virtual IPS."""
    net = f"id-{networks[0]}" if networks else None  # tasks and VIPs are on the first network
    made = [{"DesiredState": "running" if state in ("running", "starting") else "shutdown",
             "Status": {"State": state, "ContainerStatus": {"ContainerID": f"c-task-{addr}"}},
             "NetworksAttachments": [{"Network": {"ID": net}, "Addresses": [f"{addr}/24"]}]}
            for state, addr in tasks]
    return SimpleNamespace(name=name, id=sid, attrs={
        "Spec": {"TaskTemplate": {"Networks": [{"Target": f"id-{n}"} for n in networks]},
                 "EndpointSpec": {"Mode": "vip" if vips else "dnsrr"}},
        "Endpoint": {"VirtualIPs": [{"NetworkID": net, "Addr": f"{v}/24"} for v in vips]}},
        tasks=lambda filters=None: made)


def box_container(name, cid, networks, service=None, service_id=None):
    """A container with an ID and, per network (its id: id-NAME), (ip, mac)."""
    labels = {"com.docker.swarm.service.name": service} if service else {}
    if service_id:
        labels["com.docker.swarm.service.id"] = service_id
    return SimpleNamespace(name=name, id=cid, status="running", attrs={
        "State": {"Running": True}, "Config": {"Labels": labels},
        "NetworkSettings": {"Networks": {n: {"NetworkID": f"id-{n}", "IPAddress": ip, "MacAddress": mac}
                                         for n, (ip, mac) in networks.items()}}})


API = svc("api", "svc-api-1", ["shop-net"], tasks=[("running", "10.0.4.3"), ("running", "10.0.4.4")])
LEGACY = box_container("legacy", "c-legacy-1", {"legacy-net": ("172.20.0.2", "02:42:ac:14:00:02"),
                                                "shop-net": ("10.0.4.9", "02:42:0a:00:04:09"),
                                                "web-net": ("10.0.2.9", "02:42:0a:00:02:09")})
IMPOSTOR = box_container("impostor", "c-impostor", {"legacy-net": ("172.20.0.3", "02:42:ac:14:00:03")})
RULES = FakeEngine(networks=[network("shop-net"), network("legacy-net", driver="bridge", scope="local")],
                   services=[API], containers=[LEGACY, IMPOSTOR])


def test_same_as_setup_passes_for_the_service_and_container_the_setup_made():
    state = {"service api": "svc-api-1", "container legacy@manager1": "c-legacy-1"}
    result = check("service", {"name": "api", "replicas": 2, "same_as_setup": True}, FakeSandbox(RULES),
                   setup_state=state)
    assert result.passed and result.reason == "service api is the one the step began with: 2 tasks running on shop-net"
    assert check("container", {"name": "legacy", "same_as_setup": True}, FakeSandbox(RULES), setup_state=state).passed


def test_same_as_setup_fails_for_a_service_removed_and_created_again():
    state = {"service api": "svc-api-0", "container legacy@manager1": "c-legacy-1"}
    result = check("service", {"name": "api", "replicas": 2, "same_as_setup": True}, FakeSandbox(RULES),
                   setup_state=state)
    assert not result.passed
    assert result.reason.startswith("service api was removed and created again (its ID is not the one it had")
    gone = check("service", {"name": "gone", "same_as_setup": True}, FakeSandbox(RULES), setup_state=state)
    assert gone.reason == "there is no service gone: it was removed (the rules keep it)"


def test_same_as_setup_fails_for_a_recreated_container_and_without_a_record():
    state = {"container legacy@manager1": "c-legacy-0"}
    result = check("container", {"name": "legacy", "same_as_setup": True}, FakeSandbox(RULES), setup_state=state)
    assert not result.passed and result.reason.startswith("container legacy on manager1 was removed and created again")
    blind = check("container", {"name": "legacy", "same_as_setup": True}, FakeSandbox(RULES), setup_state=None)
    assert not blind.passed and "no record of this step's setup" in blind.reason


def test_same_as_setup_still_counts_the_tasks():
    one_task = svc("api", "svc-api-1", ["shop-net"], tasks=[("running", "10.0.4.3"), ("failed", "10.0.4.4")])
    box = FakeSandbox(FakeEngine(networks=[network("shop-net")], services=[one_task]))
    result = check("service", {"name": "api", "replicas": 2, "same_as_setup": True}, box,
                   setup_state={"service api": "svc-api-1"})
    # a task that failed is evidence the service will not converge: no waiting, and the reason says so
    assert not result.passed and not result.uncertain
    assert result.reason == "service api has 1 of 2 tasks running; its tasks fail: failed"


def _nslookup(*addresses):
    return ok("Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\nNon-authoritative answer:\n"
              + "".join(f"Name:\tapi\nAddress: {a}\n" for a in addresses) + "\n")


def test_resolves_to_the_service_own_tasks_passes():
    box = FakeSandbox(RULES, script=[(r"nslookup -timeout=2 api", _nslookup("10.0.4.3", "10.0.4.4"))])
    result = check("resolves", {"container": "legacy", "name": "api", "service": "api"}, box)
    assert result.passed
    assert result.reason == "api resolves from legacy to 10.0.4.3, 10.0.4.4: tasks or virtual IPs of service api only"


def test_resolves_to_a_container_with_the_name_fails_naming_it():
    box = FakeSandbox(RULES, script=[(r"nslookup -timeout=2 api", _nslookup("172.20.0.3"))])
    result = check("resolves", {"container": "legacy", "name": "api", "service": "api"}, box)
    assert not result.passed
    assert result.reason == ("api resolves from legacy to 172.20.0.3, which belongs to container impostor on "
                             "legacy-net (node manager1), not to service api")


def test_resolves_to_the_service_and_an_alias_fails_too():
    """An alias added beside the real tasks (DNS answers both) is no better than a fake."""
    box = FakeSandbox(RULES, script=[(r"nslookup -timeout=2 api", _nslookup("10.0.4.3", "172.20.0.3"))])
    assert "belongs to container impostor" in check("resolves", {"container": "legacy", "name": "api",
                                                                 "service": "api"}, box).reason


def test_resolves_to_a_task_address_on_a_network_the_prober_is_not_on_fails():
    """The impostor of the challenges: a bridge made with the overlay's subnet, a container
    there at a task's address, and the probing container on that bridge only. The address
    is a task's, but on another network: not the service."""
    copy = box_container("api", "c-copy", {"copy-net": ("10.0.4.3", "02:42:0a:00:04:03")})
    prober = box_container("client", "c-client", {"copy-net": ("10.0.4.2", "02:42:0a:00:04:02")})
    box = FakeSandbox(FakeEngine(services=[API], containers=[copy, prober]),
                      script=[(r"nslookup -timeout=2 api", _nslookup("10.0.4.3"))])
    result = check("resolves", {"container": "client", "name": "api", "service": "api"}, box)
    assert not result.passed and not result.uncertain
    assert result.reason == ("api resolves from client to 10.0.4.3, which belongs to container api on copy-net "
                             "(node manager1), not to service api")


def test_resolves_fails_when_another_endpoint_holds_the_task_address_on_a_shared_network():
    """The prober on the service's network and on the copy's: the answer is a task's address
    on a network they share, but a container holds it too, so it may answer instead."""
    copy = box_container("api", "c-copy", {"copy-net": ("10.0.4.3", "02:42:0a:00:04:03")})
    task = box_container("api.1.x", "c-task-10.0.4.3", {"shop-net": ("10.0.4.3", "02:42:0a:00:04:13")},
                         service="api", service_id="svc-api-1")
    prober = box_container("client", "c-client", {"copy-net": ("10.0.4.2", "02:42:0a:00:04:02"),
                                                  "shop-net": ("10.0.4.7", "02:42:0a:00:04:07")})
    copy.attrs["NetworkSettings"]["Networks"]["copy-net"]["NetworkID"] = "id-shop-net"  # same id: the worst case
    box = FakeSandbox(FakeEngine(services=[API], containers=[copy, task, prober]),
                      script=[(r"nslookup -timeout=2 api", _nslookup("10.0.4.3"))])
    result = check("resolves", {"container": "client", "name": "api", "service": "api"}, box)
    assert not result.passed
    assert "which container api on copy-net (node manager1) holds as well" in result.reason
    honest = FakeSandbox(FakeEngine(services=[API], containers=[task, prober]),
                         script=[(r"nslookup -timeout=2 api", _nslookup("10.0.4.3"))])
    assert check("resolves", {"container": "client", "name": "api", "service": "api"}, honest).passed
    # the copy labelled as a task of the service, as `docker run --label` lets anyone: still not one
    copy.attrs["Config"]["Labels"]["com.docker.swarm.service.id"] = "svc-api-1"
    box = FakeSandbox(FakeEngine(services=[API], containers=[copy, task, prober]),
                      script=[(r"nslookup -timeout=2 api", _nslookup("10.0.4.3"))])
    assert not check("resolves", {"container": "client", "name": "api", "service": "api"}, box).passed


def test_resolves_counts_the_vip_and_ignores_the_server_line():
    web = svc("web", "svc-web", ["web-net"], tasks=[("running", "10.0.2.3")], vips=["10.0.2.2"])
    box = FakeSandbox(FakeEngine(services=[web], containers=[LEGACY]),
                      script=[(r"nslookup -timeout=2 web", _nslookup("10.0.2.2"))])
    assert check("resolves", {"container": "legacy", "name": "web", "service": "web"}, box).passed
    # a task that stopped is not the service any more
    stopped = svc("web", "svc-web", ["web-net"], tasks=[("shutdown", "10.0.2.3")])
    box = FakeSandbox(FakeEngine(services=[stopped], containers=[LEGACY]),
                      script=[(r"nslookup -timeout=2 web", _nslookup("10.0.2.3"))])
    result = check("resolves", {"container": "legacy", "name": "web", "service": "web"}, box)
    assert not result.passed and "which is not an address of service web" in result.reason


def test_resolves_with_a_service_that_is_gone():
    box = FakeSandbox(FakeEngine(containers=[LEGACY]), script=[(r"nslookup -timeout=2 api", _nslookup("10.0.4.3"))])
    assert check("resolves", {"container": "legacy", "name": "api", "service": "api"}, box).reason == \
        "api resolves from legacy, but there is no service api"


def test_resolves_quotes_what_reaches_the_shell():
    box = FakeSandbox(RULES, script=[(r"nslookup", fail(1))])
    check("resolves", {"container": "legacy", "name": "api; touch /x", "expect": False}, box)
    assert box.ran[-1][1] == probe("legacy", "busybox nslookup -timeout=2 'api; touch /x' 127.0.0.11")


def test_reaches_on_a_port_fails_when_nothing_listens():
    box = FakeSandbox(RULES, script=[(r"t=api;.*busybox nc -w 2", fail(1, stderr="nc: can't connect to remote host "
                                                                     "(10.0.4.3): Connection refused\n"))])
    result = check("reaches", {"container": "legacy", "target": "api", "port": 80}, box)
    assert not result.passed and result.reason.endswith("Connection refused)")


# --- the probes from a container run the node's own tools in its network namespace ---------

import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402

HOSTILE = "x'; touch {dir}/pwned; echo '$(touch {dir}/pwned2)`touch {dir}/pwned3`"


def test_probes_never_run_a_program_of_the_container():
    """A learner is root in their container and may write over /bin/nslookup, ping or nc
    there: no probe may run anything of the container (no `docker exec`); each enters its
    network namespace as the node's root and runs the node's busybox."""
    engine = FakeEngine(containers=[container("alpine1", ["net"])])
    box = FakeSandbox(engine, script=[(r"nslookup", _nslookup("10.0.4.3")), (r"tcpdump", ok("", TCPDUMP_HEAD))])
    check("resolves", {"container": "alpine1", "name": "api"}, box)
    check("reaches", {"container": "alpine1", "target": "api"}, box)
    check("reaches", {"container": "alpine1", "target": "api", "port": 80}, box)
    check("capture", {"node": "manager1", "filter": "icmp", "during": {"container": "alpine1", "target": "api"}}, box)
    check("capture", {"node": "manager1", "filter": "tcp", "during": {"container": "alpine1", "target": "api",
                                                                      "port": 80}}, box)
    probes = [line for _, line in box.ran if "tcpdump" not in line]
    assert len(probes) == 5
    for line in probes:
        assert "docker exec" not in line and "docker run" not in line
        assert "nsenter --user=/proc/1/ns/user" in line  # as the node's root
        assert "exec nsenter --net=" in line
        runs = re.findall(r"([\w/]+) (nslookup|ping|nc) -", line)
        assert runs and all(before == "busybox" for before, _ in runs), runs  # the node's busybox, by name


@pytest.fixture
def node_tools(tmp_path, monkeypatch):
    """Stand-ins for a node's docker, nsenter and busybox (each logs its argv), and a sandbox
    whose node runs a check's line in a real shell with them; as_node_root is left out (it
    needs a node's user namespace)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    tools = {
        "docker": 'echo "$STUB_PID $STUB_STATUS $STUB_NS"',
        "nsenter": 'shift; [ "$1" = -- ] && shift; exec "$@"',
        "busybox": ('case "$1" in nslookup) [ "$3" = known ] || exit 1; '
                    'printf "Server:\\t\\t127.0.0.11\\nAddress:\\t127.0.0.11:53\\n\\nName:\\tknown\\n'
                    'Address: 10.9.8.7\\n\\n";; awk) shift; exec awk "$@";; esac'),
    }
    for name, body in tools.items():
        path = bin_dir / name
        # One write per call (the members of a pipeline run at once: written piecewise,
        # their argv would interleave in the log).
        path.write_text(f'#!/bin/sh\nrecord=$(for a in "$@"; do printf "%s\\037" "$a"; done; echo {name})\n'
                        f'printf "%s\\n" "$record" >> {log}\n{body}\n')
        path.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_PID": "4242", "STUB_STATUS": "running",
           "STUB_NS": "/run/docker/netns/abc123"}
    monkeypatch.setattr("labapp.checks.base.as_node_root", lambda line: line)

    def run(node, line):
        done = subprocess.run(["sh", "-c", line], env=env, capture_output=True, text=True, cwd=tmp_path,
                              timeout=20)
        return ExecResult(done.returncode, done.stdout, done.stderr)

    def calls():
        return [line.split("\037") for line in log.read_text().splitlines()] if log.exists() else []

    return run, calls, tmp_path, env


def test_probe_lines_quote_hostile_values_and_use_the_embedded_dns(node_tools):
    run, calls, where, _ = node_tools
    hostile = HOSTILE.format(dir=where)
    engine = FakeEngine(containers=[container(hostile, ["net"])])
    box = FakeSandbox(engine, script=[(r".", run)])
    result = check("resolves", {"container": hostile, "name": hostile, "expect": False}, box)
    assert result.passed, result.reason
    result = check("reaches", {"container": hostile, "target": hostile, "port": 80, "expect": False}, box)
    assert result.passed and result.reason.endswith(f"(nc: bad address '{hostile}')"), result.reason
    assert not any(name.startswith("pwned") for name in os.listdir(where))
    seen = calls()
    docker = [argv for argv in seen if argv[-1] == "docker"]
    assert docker and all(argv[:-1] == ["inspect", "--type", "container", "-f", "{{.State.Pid}} {{.State.Status}} "
                                        "{{.NetworkSettings.SandboxKey}}", "--", hostile] for argv in docker)
    assert ["--net=/run/docker/netns/abc123", "--", "true", "nsenter"] in seen
    lookups = [argv for argv in seen if argv[-1] == "busybox" and argv[0] != "awk"]
    assert lookups == [["nslookup", "-timeout=2", hostile, "127.0.0.11", "busybox"]] * 2


def test_reaches_looks_the_name_up_then_probes_the_address(node_tools):
    run, calls, _, _ = node_tools
    box = FakeSandbox(FakeEngine(containers=[container("alpine1", ["net"])]), script=[(r".", run)])
    result = check("reaches", {"container": "alpine1", "target": "known"}, box)
    assert result.passed and result.reason == "alpine1 reaches known"
    assert calls()[-1] == ["ping", "-c", "1", "-W", "1", "10.9.8.7", "busybox"]
    assert check("resolves", {"container": "alpine1", "name": "known"}, box).reason == \
        "known resolves from alpine1 to 10.9.8.7"
    down = check("reaches", {"container": "alpine1", "target": "nowhere"}, box)
    assert not down.passed and down.reason == "alpine1 cannot reach nowhere (ping: bad address 'nowhere')"
    assert not any(argv[0] == "ping" for argv in calls()[-2:])
    check("reaches", {"container": "alpine1", "target": "10.0.2.5", "port": 80}, box)
    assert calls()[-1] == ["nc", "-w", "2", "10.0.2.5", "80", "busybox"]  # an address is not looked up


def test_the_namespace_is_docker_s_own_or_the_first_process_s(node_tools):
    """The SandboxKey Docker gives the container, else its first process's namespace; a
    container that stopped between the engine's answer and the probe is no answer."""
    run, calls, _, env = node_tools
    box = FakeSandbox(FakeEngine(containers=[container("alpine1", ["net"])]), script=[(r".", run)])
    env["STUB_NS"] = ""
    assert check("resolves", {"container": "alpine1", "name": "known"}, box).passed
    assert ["--net=/proc/4242/ns/net", "--", "true", "nsenter"] in calls()
    env.update(STUB_PID="0", STUB_STATUS="exited")
    result = check("resolves", {"container": "alpine1", "name": "known", "expect": False}, box)
    assert not result.passed and result.reason == "container alpine1 on manager1 is not running (exited)"


def test_a_probe_that_cannot_enter_the_container_fails_whatever_it_expects():
    """A container that is not running, or whose namespace the node cannot enter, is no
    answer: `expect: false` does not pass on it."""
    engine = FakeEngine(containers=[container("alpine1", ["net"]), container("gone", running=False)])
    result = check("reaches", {"container": "gone", "target": "web", "expect": False}, FakeSandbox(engine))
    assert not result.passed and result.reason == "container gone on manager1 is not running (exited)"
    box = FakeSandbox(engine, script=[(r"nsenter", fail(125, stderr="nsenter: cannot open /proc/42/ns/net: "
                                                                    "Permission denied\n"))])
    result = check("resolves", {"container": "alpine1", "name": "web", "expect": False}, box)
    assert not result.passed
    assert result.reason == ("container alpine1 on manager1 is not running (nsenter: cannot open /proc/42/ns/net: "
                             "Permission denied)")


TCPDUMP_HEAD = ("tcpdump: verbose output suppressed, use -v[v]... for full protocol decode\n"
                "listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n")
VXLAN_PACKETS = (
    "01:22:08.305168 IP 172.29.0.18.36735 > 172.29.0.19.4789: VXLAN, flags [I] (0x08), vni 4098\n"
    "IP 10.0.2.16 > 10.0.2.17: ICMP echo request, id 13, seq 0, length 64\n"
    "01:22:08.305271 IP 172.29.0.19.36735 > 172.29.0.18.4789: VXLAN, flags [I] (0x08), vni 4098\n"
    "IP 10.0.2.17 > 10.0.2.16: ICMP echo reply, id 13, seq 0, length 64\n")
SECURE = FakeEngine(containers=[box_container("secure-a", "c-a", {})])
CAPTURE = {"node": "manager1", "filter": "udp port 4789",
           "during": {"container": "secure-a", "node": "manager1", "target": "plain-b"},
           "match": "VXLAN.*\\nIP [0-9.]+ > [0-9.]+: ICMP echo request"}


def test_capture_sees_the_inner_packet_of_vxlan():
    box = FakeSandbox(SECURE, script=[(r"tcpdump", ok(VXLAN_PACKETS, TCPDUMP_HEAD)), (r"ping", ok())])
    result = check("capture", CAPTURE, box)
    assert result.passed, result.reason
    assert result.reason.startswith("tcpdump on manager1 eth0 (udp port 4789) saw 1 packet matching")
    assert "| IP 10.0.2.16 > 10.0.2.17: ICMP echo request" in result.reason
    lines = [line for _, line in box.ran]
    assert lines[0] == "timeout 12 tcpdump -l -n -i eth0 'udp port 4789'"
    # the traffic, after the capture began, from secure-a's network namespace
    assert lines[1] == probe("secure-a", LOOKUP.format(target="plain-b", program="ping")
                             + 'busybox ping -c 2 -W 1 "$addr"')


def test_capture_fails_when_the_inner_packet_is_not_there():
    esp_only = "01:22:08.305168 IP 172.29.0.18 > 172.29.0.19: ESP(spi=0x0a1b,seq=0x1), length 140\n"
    box = FakeSandbox(SECURE, script=[(r"tcpdump", ok(esp_only, TCPDUMP_HEAD)), (r"ping", ok())])
    result = check("capture", CAPTURE, box)
    assert not result.passed
    assert "saw no packet matching" in result.reason and "(1 packet on the filter)" in result.reason


def test_capture_expecting_nothing_fails_on_anything_in_clear():
    args = {**CAPTURE, "filter": "udp port 4789 or esp", "expect": False}
    args.pop("match")
    clear = FakeSandbox(SECURE, script=[(r"tcpdump", ok(VXLAN_PACKETS, TCPDUMP_HEAD)), (r"ping", fail(1))])
    result = check("capture", args, clear)
    assert not result.passed and "saw 2 packets matching /./" in result.reason and "there should be none" in result.reason
    quiet = FakeSandbox(SECURE, script=[(r"tcpdump", ok("", TCPDUMP_HEAD)), (r"ping", fail(1))])
    assert check("capture", args, quiet).reason.endswith("saw nothing matching /./ while secure-a -> plain-b "
                                                         "(0 packets on the filter)")


def test_capture_that_never_started_is_a_failure_even_expecting_nothing():
    args = {**CAPTURE, "expect": False}
    box = FakeSandbox(SECURE, script=[(r"tcpdump", fail(1, stderr="tcpdump: eth9: No such device exists\n"))])
    result = check("capture", {**args, "interface": "eth9"}, box)
    assert not result.passed and result.reason == ("tcpdump on manager1 eth9 (udp port 4789) did not start: "
                                                   "tcpdump: eth9: No such device exists")
    assert not any("ping" in line for _, line in box.ran)


def test_capture_needs_its_traffic_container():
    result = check("capture", {**CAPTURE, "expect": False}, FakeSandbox(FakeEngine()))
    assert not result.passed and result.reason == "there is no container secure-a on manager1"


def test_capture_traffic_to_a_port_and_validation():
    box = FakeSandbox(SECURE, script=[(r"tcpdump", ok("", TCPDUMP_HEAD)), (r"nc ", ok())])
    check("capture", {**CAPTURE, "during": {"container": "secure-a", "target": "web", "port": 80}, "expect": False},
          box)
    assert ("manager1", probe("secure-a", LOOKUP.format(target="web", program="nc")
                              + 'busybox nc -w 2 "$addr" 80 </dev/null')) in box.ran
    bad = CheckSpec("capture", {"node": "manager1", "filter": "x", "during": {"container": "c", "target": "t",
                                                                              "node": "worker9", "via": 1}})
    problems = validate_check(bad, ["manager1", "worker1"])
    assert "check 'capture': unknown argument 'during.via' (known: container, target, node, port)" in problems
    assert any("unknown node 'worker9'" in p for p in problems)
    assert validate_check(CheckSpec("capture", {"node": "manager1", "filter": "x", "during": {"target": "t"}})) == [
        "check 'capture': 'during' needs 'container' (a name)"]


INSIDE = network("inside-net")
INSIDE.id = "c6di0tbr14vv4527htoeuucan"
INSIDE.attrs["Options"] = {"com.docker.network.driver.overlay.vxlanid_list": "4097"}
PEER = box_container("box-b", "c-b", {"inside-net": ("10.0.1.4", "02:42:0a:00:01:04")})


def _inside(links, fdb, neigh):
    return ok("/run/docker/netns/1-c6di0tbr14\n---\n" + "\n\n---\n".join(json.dumps(x) for x in (links, fdb, neigh))
              + "\n")


LINKS = [{"ifname": "vxlan0", "linkinfo": {"info_kind": "vxlan", "info_data": {"id": 4097, "port": 4789}}}]
FDB = [{"mac": "02:42:0a:00:01:04", "ifname": "vxlan0", "dst": "172.29.0.19", "state": "permanent"}]
NEIGH = [{"dst": "10.0.1.4", "dev": "vxlan0", "lladdr": "02:42:0a:00:01:04", "state": ["PERMANENT"]}]


def inside_box(answer):
    box = FakeSandbox(FakeEngine(networks=[INSIDE], containers=[PEER]), script=[(r"nsenter", answer)])
    box.nodes = (Node("manager1", "manager", "172.29.0.18", "m"), Node("worker1", "worker", "172.29.0.19", "w"))
    return box


def test_vxlan_reads_the_namespace_as_the_node_root():
    box = inside_box(_inside(LINKS, FDB, NEIGH))
    result = check("vxlan", {"network": "inside-net", "node": "manager1", "peer": "box-b", "peer_node": "worker1"}, box)
    assert result.passed, result.reason
    assert result.reason == ("manager1's namespace for inside-net (1-c6di0tbr14) has vxlan0 with VNI 4097, the one "
                             "Docker gave it; it sends box-b's MAC 02:42:0a:00:01:04 over VXLAN to worker1 "
                             "(172.29.0.19) and maps 10.0.1.4 to that MAC")
    line = box.ran[-1][1]
    assert "nsenter --user=/proc/1/ns/user --preserve-credentials" in line  # entered as the node's root
    assert "ls -d /run/docker/netns/*-c6di0tbr14" in line


@pytest.mark.parametrize("answer,reason", [
    (fail(3), "manager1 has no namespace for inside-net yet"),
    (_inside([{"ifname": "vxlan0", "linkinfo": {"info_data": {"id": 4100}}}], FDB, NEIGH),
     "the VXLAN device vxlan0 in manager1's namespace for inside-net has VNI 4100, but Docker gave the network 4097"),
    (_inside([], FDB, NEIGH), "has no VXLAN device"),
    (_inside(LINKS, [], NEIGH), "has no entry for box-b's MAC 02:42:0a:00:01:04: the node does not know where box-b is"),
    (_inside(LINKS, [{**FDB[0], "dst": "172.29.0.20"}], NEIGH),
     "sends box-b's MAC 02:42:0a:00:01:04 to 172.29.0.20, not to worker1 (172.29.0.19)"),
    (_inside(LINKS, FDB, []), "neighbour table in inside-net's namespace does not map 10.0.1.4 to 02:42:0a:00:01:04"),
    (fail(1, stderr="nsenter: reassociate to namespace 'ns/net' failed: Operation not permitted\n"),
     "cannot look inside inside-net's namespace on manager1: nsenter: reassociate"),
])
def test_vxlan_failures_say_what_is_missing(answer, reason):
    result = check("vxlan", {"network": "inside-net", "node": "manager1", "peer": "box-b", "peer_node": "worker1"},
                   inside_box(answer))
    assert not result.passed and reason in result.reason, result.reason


def test_vxlan_on_a_node_without_the_network():
    box = inside_box(_inside(LINKS, FDB, NEIGH))
    box._engine = FakeEngine()
    result = check("vxlan", {"network": "inside-net", "node": "worker1"}, box)
    assert not result.passed and result.reason.startswith("network inside-net is not on worker1 yet")
    assert validate_check(CheckSpec("vxlan", {"network": "n", "peer": "b"})) == [
        "check 'vxlan': 'peer' needs 'peer_node' (the node the peer container runs on)"]
    assert validate_check(CheckSpec("vxlan", {"network": "n", "node": "worker1", "peer": "b", "peer_node": "worker1"})
                          ) == ["check 'vxlan': the peer must run on another node than the one whose tables are read"]


class _SlowToDie:
    """A tcpdump as a node runs it: its output comes at once, then it runs until killed, and
    the kill takes the node seconds (its packet socket goes away with it)."""

    def __init__(self):
        self.killed = threading.Event()
        self.kill_started = threading.Event()

    def __iter__(self):
        from labapp.sandbox.base import Chunk

        yield Chunk("stderr", TCPDUMP_HEAD)
        time.sleep(0.2)  # the traffic runs now
        yield Chunk("stdout", VXLAN_PACKETS)
        self.killed.wait(10)

    def cancel(self):
        self.kill_started.set()
        time.sleep(3)
        self.killed.set()

    def result(self):
        return ExecResult(137, "", "")


def test_capture_reads_what_came_and_does_not_wait_for_tcpdump_to_die():
    tcpdump = _SlowToDie()

    class Box(FakeSandbox):
        def exec_stream(self, node, cmd, **kw):
            if "tcpdump" in cmd:
                self.ran.append((node, cmd))
                return tcpdump
            return super().exec_stream(node, cmd, **kw)

    box = Box(SECURE, script=[(r"ping", ok())])
    started = time.monotonic()
    result = check("capture", CAPTURE, box)
    assert result.passed, result.reason
    assert time.monotonic() - started < 2.5  # the traffic and a moment, not the 3 s kill
    assert tcpdump.kill_started.wait(1)  # it is killed all the same, in the background
