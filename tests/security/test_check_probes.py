"""A check's probes from a container cannot be faked from inside it (the learner is the
attacker). A learner is root in their own containers: they may write over /bin/nslookup,
/bin/ping and /bin/nc there with scripts that print success. The checks that look from a
container (`resolves`, `reaches`, the traffic of `capture`) run the node's own busybox in the
container's network namespace (checks/base.py in_container_netns), so their verdicts stay
true: a name that does not exist still fails, a real one still passes.

On a real sandbox: an attachable overlay with a service, a container on it whose nslookup,
ping and nc lie (written over through the node's docker CLI, as the learner would), and a
peer on the other node."""
import pytest

from labapp.checks import CheckContext, run_check
from labapp.lesson.model import CheckSpec
from labapp.sandbox import SwarmSandbox

pytestmark = pytest.mark.integration

# What the learner writes over the applet links /bin/nslookup, /bin/ping and /bin/nc (each a
# link to busybox: removed first, or the write would go through the link into busybox).
LIES = {
    "nslookup": 'for a; do name=$a; done\n'
                'printf "Server:\\t\\t127.0.0.11\\nAddress:\\t127.0.0.11:53\\n\\nName:\\t%s\\n'
                'Address: 10.0.9.9\\n\\n" "$name"',
    "ping": "echo '1 packets transmitted, 1 packets received, 0% packet loss'",
    "nc": "true",
}
FAKE = "".join(f'p=/bin/{program}; [ -L "$p" ] && rm -f "$p" || exit 1\n'
               f"cat > \"$p\" <<'EOF'\n#!/bin/sh\n{body}\nexit 0\nEOF\n"
               'chmod 755 "$p" || exit 1\n' for program, body in LIES.items())


@pytest.fixture(scope="module")
def liar(client, settings):
    """liar (manager1) and peer (worker1) on the attachable overlay probe-net with service
    web (one task, DNS round robin: the same on hosts with and without IPVS); liar's
    nslookup, ping and nc print success whatever they are asked."""
    sandbox = SwarmSandbox.create(client, settings, nodes=2, managers=1)
    try:
        for node, line in (("manager1", "docker network create -d overlay --attachable probe-net"),
                           ("manager1", "docker service create --name web --replicas 1 --endpoint-mode dnsrr "
                                        "--network probe-net nginx"),
                           ("manager1", "docker run -d --name liar --network probe-net alpine sleep 1d"),
                           ("worker1", "docker run -d --name peer --network probe-net alpine sleep 1d")):
            result = sandbox.exec(node, line, timeout=120)
            assert result.exit_code == 0, (line, result.output)
        # the learner's own commands: argv through the node's docker CLI, as uid 100001
        faked = sandbox.exec("manager1", ["docker", "exec", "liar", "sh", "-c", FAKE], learner=True, timeout=30)
        assert faked.exit_code == 0, faked.output
        for argv in (["nslookup", "ghost"], ["ping", "-c", "1", "-W", "1", "ghost"],
                     ["nc", "-w", "2", "ghost", "80"]):
            lie = sandbox.exec("manager1", ["docker", "exec", "liar", *argv], learner=True, timeout=30)
            assert lie.exit_code == 0, (argv, lie.output)  # in the container, every one lies now
        assert "10.0.9.9" in sandbox.exec("manager1", ["docker", "exec", "liar", "nslookup", "ghost"],
                                          learner=True, timeout=30).stdout
        yield sandbox
    finally:
        sandbox.destroy()


def run(sandbox, kind, args):
    return run_check(CheckSpec(kind, args), CheckContext(sandbox))


def test_a_name_that_does_not_exist_does_not_resolve(liar):
    result = run(liar, "resolves", {"container": "liar", "name": "ghost"})
    assert not result.passed
    assert result.reason == "ghost does not resolve from liar (no network they share serves that name)"
    assert run(liar, "resolves", {"container": "liar", "name": "ghost", "expect": False}).passed


def test_a_real_name_still_resolves_to_the_service(liar):
    result = run(liar, "resolves", {"container": "liar", "name": "web", "service": "web"})
    assert result.passed, result.reason
    assert "10.0.9.9" not in result.reason
    peer = run(liar, "resolves", {"container": "liar", "name": "peer"})
    assert peer.passed and "10.0.9.9" not in peer.reason, peer.reason


def test_a_name_that_does_not_exist_is_not_reached(liar):
    pinged = run(liar, "reaches", {"container": "liar", "target": "ghost"})
    assert not pinged.passed and pinged.reason == "liar cannot reach ghost (ping: bad address 'ghost')"
    connected = run(liar, "reaches", {"container": "liar", "target": "ghost", "port": 80})
    assert not connected.passed and connected.reason == "liar cannot reach ghost:80 (nc: bad address 'ghost')"


def test_an_address_nobody_holds_is_not_reached(liar):
    # the peer's own subnet, an address no one holds: the fake ping would answer it
    address = liar.engine("worker1").containers.get("peer").attrs["NetworkSettings"]["Networks"]["probe-net"][
        "IPAddress"]
    nobody = ".".join(address.split(".")[:3] + ["250"])
    result = run(liar, "reaches", {"container": "liar", "target": nobody})
    assert not result.passed, result.reason
    assert run(liar, "reaches", {"container": "liar", "target": nobody, "port": 80}).passed is False


def test_real_targets_are_still_reached(liar):
    pinged = run(liar, "reaches", {"container": "liar", "target": "peer"})
    assert pinged.passed and pinged.reason == "liar reaches peer", pinged.reason
    served = run(liar, "reaches", {"container": "liar", "target": "web", "port": 80})
    assert served.passed and served.reason == "liar reaches web:80", served.reason
    closed = run(liar, "reaches", {"container": "liar", "target": "peer", "port": 80})
    assert not closed.passed and "peer:80" in closed.reason  # nothing listens on peer's port 80


def test_a_capture_sees_the_real_traffic_not_the_fake(liar):
    """liar's ping to peer (worker1) crosses the overlay: the node's ping sends it, while the
    fake one in the container would have sent nothing."""
    result = run(liar, "capture", {"node": "manager1", "filter": "udp port 4789",
                                   "during": {"container": "liar", "node": "manager1", "target": "peer"},
                                   "match": "VXLAN.*\\nIP [0-9.]+ > [0-9.]+: ICMP echo request"})
    assert result.passed, result.reason
