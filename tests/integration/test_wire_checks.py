"""The checks that read the wire and the overlay's namespace, on a real swarm: each passes on
the state it describes and fails, with its reason, on a state it does not (a capture that
must see nothing while VXLAN carries ICMP in clear, ESP where there is none, a peer on the
wrong node, a node the network has not reached)."""
import pytest

from labapp.checks import CheckContext, run_check
from labapp.lesson.model import CheckSpec
from labapp.sandbox import SwarmSandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wired(client, settings):
    """Two containers on a plain attachable overlay: c1 on manager1, c2 on worker1."""
    sandbox = SwarmSandbox.create(client, settings, nodes=3, managers=1)
    try:
        for node, line in (("manager1", "docker network create -d overlay --attachable wire-net"),
                           ("manager1", "docker run -d --name c1 --network wire-net alpine sleep 1d"),
                           ("worker1", "docker run -d --name c2 --network wire-net alpine sleep 1d"),
                           ("manager1", "docker exec c1 ping -c 1 -W 2 c2")):
            result = sandbox.exec(node, line, timeout=60)
            assert result.exit_code == 0, (line, result.output)
        yield sandbox
    finally:
        sandbox.destroy()


def run(sandbox, kind, args):
    return run_check(CheckSpec(kind, args), CheckContext(sandbox))


PING = {"container": "c1", "node": "manager1", "target": "c2"}


def test_capture_sees_vxlan_with_the_icmp_inside(wired):
    result = run(wired, "capture", {"node": "worker1", "filter": "udp port 4789", "during": PING,
                                    "match": "VXLAN.*\\nIP [0-9.]+ > [0-9.]+: ICMP echo request"})
    assert result.passed, result.reason
    assert "tcpdump on worker1 eth0 (udp port 4789) saw" in result.reason and "vni" in result.reason


def test_capture_that_must_see_nothing_fails_on_traffic_in_clear(wired):
    result = run(wired, "capture", {"node": "worker1", "filter": "udp port 4789", "during": PING,
                                    "match": "ICMP", "expect": False})
    assert not result.passed
    assert "there should be none" in result.reason and "ICMP echo" in result.reason


def test_capture_of_esp_on_a_plain_overlay_fails(wired):
    result = run(wired, "capture", {"node": "manager1", "filter": "esp", "during": PING})
    assert not result.passed
    assert result.reason.startswith("tcpdump on manager1 eth0 (esp) saw no packet matching /./ while c1 -> c2")


def test_vxlan_knows_the_peer_on_its_node_and_not_elsewhere(wired):
    good = run(wired, "vxlan", {"network": "wire-net", "node": "manager1", "peer": "c2", "peer_node": "worker1"})
    assert good.passed, good.reason
    assert "it sends c2's MAC" in good.reason and "over VXLAN to worker1" in good.reason
    # the peer looked for from its own node: its MAC is local there, not behind VXLAN
    own = run(wired, "vxlan", {"network": "wire-net", "node": "worker1", "peer": "c2", "peer_node": "worker1"})
    assert not own.passed and own.reason == "c2 runs on worker1 itself: only containers of other nodes are reached " \
                                            "over VXLAN"
    # a node that does not know the peer: worker2 has no container of the network, so no table
    lost = run(wired, "vxlan", {"network": "wire-net", "node": "worker1", "peer": "c1", "peer_node": "worker2"})
    assert not lost.passed and "there is no container c1 on worker2" in lost.reason
    # a node with no container of the network has neither the network nor its namespace
    far = run(wired, "vxlan", {"network": "wire-net", "node": "worker2"})
    assert not far.passed and far.reason.startswith("network wire-net is not on worker2 yet")
