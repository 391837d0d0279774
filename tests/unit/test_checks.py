"""Each check kind against fake output and fake swarm state: passes, and fails with a reason."""
import pytest

from labapp.checks import CheckContext, run_check, validate_check
from labapp.lesson.model import CheckSpec

from .fakes import FakeEngine, FakeSandbox, container, fail, network, ok, service, swarm_node


def check(kind, args, sandbox=None, outputs=(), **kw):
    spec = CheckSpec(kind, args if isinstance(args, dict) else {"value": args})
    assert validate_check(spec) == []
    return run_check(spec, CheckContext(sandbox or FakeSandbox(), list(outputs), kw.get("kernel")))


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
    box = FakeSandbox(ENGINE, script=[(r"nslookup my-nginx", answer), (r"nslookup", fail(1, "** server can't find"))])
    result = check("resolves", {"container": "alpine1", "name": "my-nginx"}, box)
    assert result.passed and result.reason == "my-nginx resolves from alpine1 to 10.0.2.5"
    assert check("resolves", {"container": "alpine1", "name": "other", "expect": False}, box).passed
    missing = check("resolves", {"container": "ghost", "name": "x", "expect": False}, box)
    assert not missing.passed and missing.reason == "there is no container ghost on manager1"
    assert ("manager1", "docker exec alpine1 nslookup my-nginx") in box.ran


def test_reaches_by_ping_or_tcp_port():
    box = FakeSandbox(ENGINE, script=[
        (r"ping -c 1 -W 1 up", ok("1 packets received")),
        (r"ping", fail(1, "1 packets transmitted, 0 packets received, 100% packet loss")),
        (r"nc -w 2 web 80", ok()),
    ])
    assert check("reaches", {"container": "alpine1", "target": "up"}, box).passed
    down = check("reaches", {"container": "alpine1", "target": "down"}, box)
    assert not down.passed and down.reason == ("alpine1 cannot reach down "
                                               "(1 packets transmitted, 0 packets received, 100% packet loss)")
    assert check("reaches", {"container": "alpine1", "target": "down", "expect": False}, box).passed
    assert check("reaches", {"container": "alpine1", "target": "web", "port": 80}, box).reason == "alpine1 reaches web:80"


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
