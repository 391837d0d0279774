"""The challenges cannot be passed by a shortcut. On a real sandbox, each challenge starts
broken (its setup, which records what its rules compare with), then each known shortcut is
played and the step's checks must fail with a reason that names what is wrong:

- a container that merely answers to the service's name (a fake `api`, an alias on any
  container, a container on a bridge made with the overlay's subnet at the service's own
  address) fails `resolves ... service:`, naming the container that answered;
- recreating the standalone container fails its rule (same ID as at setup);
- removing the service and creating it again fails its rule, even where the new one works.

The last case of each is a real fix plus one shortcut, so that only the rule can catch it.
One sandbox per challenge; its shortcuts are played in an order that leaves each one's
traces to the next only where the next one does not care."""
import ipaddress
import time
import warnings

import pytest

from labapp.lesson.catalog import load_catalog
from labapp.runner import Runner
from labapp.sandbox import SwarmSandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CATALOG = load_catalog()


# Overlay NETWORK's subnet and SERVICE's address on it (its VIP, or its first task's), printed
# by a manager.
SUBNET_AND_ADDRESS = (
    'sub=$(docker network inspect -f "{{{{(index .IPAM.Config 0).Subnet}}}}" {network}) && '
    'addr=$(docker service inspect -f "{{{{range .Endpoint.VirtualIPs}}}}{{{{.Addr}}}}{{{{end}}}}" {service}) && '
    'if [ -z "$addr" ]; then task=$(docker service ps -q --filter desired-state=running {service} | head -n 1) && '
    'addr=$(docker inspect -f "{{{{range .NetworksAttachments}}}}{{{{if eq .Network.Spec.Name \\"{network}\\"}}}}'
    '{{{{index .Addresses 0}}}}{{{{end}}}}{{{{end}}}}" "$task"); fi && echo "$sub ${{addr%/*}}"')


class Untried(UserWarning):
    """A shortcut this engine did not let the test play (said in the run's warnings)."""


def copy_address(sb, service, network, node, client):
    """The impostor at the service's own address: on NODE, a bridge copy-net with NETWORK's
    subnet (or a small one around the address), a container named SERVICE there at SERVICE's
    address, and CLIENT attached. The name then resolves from CLIENT to an address the
    service really has, on another network. Whether the node's engine lets a bridge overlap
    an overlay varies (measured: "Pool overlaps with other one on this address space" on
    some tries, not on others; always while a task of the overlay runs on the node), so the
    service is first kept off NODE, as an attacker would, and each size is tried a few
    times; False (with an Untried warning) when none could be made. Undone by uncopy."""
    must(sb, "manager1", f"docker service update -q --constraint-add node.hostname!={node} {service}", timeout=180)
    subnet, address = must(sb, "manager1", SUBNET_AND_ADDRESS.format(service=service, network=network)).stdout.split()
    sizes = [subnet] + [str(ipaddress.ip_network(f"{address}/{bits}", strict=False)) for bits in (28, 29, 30)]
    for attempt in range(3):
        for size in sizes:
            if sb.exec(node, f"docker network create --driver bridge --subnet {size} copy-net", timeout=60).exit_code == 0:
                must(sb, node, f"docker run -d --name {service} --network copy-net --ip {address} nginx && "
                               f"docker network connect copy-net {client}")
                return True
        time.sleep(2)
    warnings.warn(Untried(f"{node}'s engine refused every bridge overlapping {network} ({', '.join(sizes)}): "
                          f"the copied address of {service} could not be played"))
    return False


def uncopy(sb, service, node, client, copied=True):
    if copied:
        must(sb, node, f"docker network disconnect copy-net {client} && docker rm -f {service} && "
                       "docker network rm copy-net")
    must(sb, "manager1", f"docker service update -q --constraint-rm node.hostname!={node} {service}", timeout=180)


def must(sandbox, node, line, timeout=120):
    result = sandbox.exec(node, line, timeout=timeout)
    assert result.exit_code == 0, f"{node}: {line}: {result.output[-600:]}"
    return result


def verdicts(runner, step):
    """The step's checks now, by name (the names of a step's checks differ)."""
    results = runner.check(step, [])
    by_name = {r.name: r for r in results}
    assert len(by_name) == len(results)
    return by_name


def failed(by_name):
    return {name for name, r in by_name.items() if not r.passed}


@pytest.fixture
def challenge(client, settings, kernel):
    """(runner, step, sandbox, dnsrr flag) for a challenge slug, its setup done."""
    made = []

    def start(slug):
        lesson = CATALOG.get(slug, "en")
        sandbox = SwarmSandbox.create(client, settings, nodes=lesson.nodes, managers=lesson.managers)
        made.append(sandbox)
        runner = Runner(sandbox, lesson, kernel.as_dict())
        step = lesson.steps[0]
        bad = [r for r in runner.setup(step) if r.unexpected_failure]
        assert not bad, [(r.command, r.result.output) for r in bad]
        mode = "" if kernel.as_dict().get("ipvs") else "--endpoint-mode dnsrr "
        return runner, step, sandbox, mode

    yield start
    for sandbox in made:
        sandbox.destroy()


def test_challenge_connect_shortcuts_fail_with_a_reason(challenge):
    runner, step, sb, mode = challenge("challenge-connect")
    start = verdicts(runner, step)
    assert failed(start) == {"resolves api", "reaches api"}, {n: r.reason for n, r in start.items()}

    # 1. a container named api on legacy's own network: it answers on port 80, and is not the service
    must(sb, "manager1", "docker run -d --name api --network legacy-net nginx")
    now = verdicts(runner, step)
    assert now["reaches api"].passed  # port 80 answers: reachability alone would be fooled
    assert not now["resolves api"].passed
    assert "which belongs to container api on legacy-net (node manager1), not to service api" in \
        now["resolves api"].reason
    must(sb, "manager1", "docker rm -f api")

    # 1b. an address of the service copied: a bridge with shop-net's subnet, legacy on it, and
    # a container api there at the service's address (its VIP, or a task's without IPVS)
    copied = copy_address(sb, "api", "shop-net", "manager1", "legacy")
    if copied:
        now = verdicts(runner, step)
        assert now["reaches api"].passed  # the copy answers on port 80
        assert not now["resolves api"].passed
        assert "which belongs to container api on copy-net (node manager1), not to service api" in \
            now["resolves api"].reason
    uncopy(sb, "api", "manager1", "legacy", copied)

    # 2. the alias api on any container, connected to legacy's network
    must(sb, "manager1", "docker run -d --name helper nginx && docker network connect --alias api legacy-net helper")
    now = verdicts(runner, step)
    assert not now["resolves api"].passed
    assert "belongs to container helper on legacy-net (node manager1), not to service api" in now["resolves api"].reason
    must(sb, "manager1", "docker rm -f helper")

    # 3. legacy recreated on an attachable overlay the service joined: everything answers, the rule does not hold
    must(sb, "manager1", "docker network create -d overlay --attachable shop2 && "
                         "docker service update -q --network-add shop2 api && docker rm -f legacy && "
                         "docker run -dti --name legacy --network shop2 alpine ash")
    now = verdicts(runner, step)
    assert failed(now) == {"container legacy"}, {n: r.reason for n, r in now.items()}
    assert now["container legacy"].reason.startswith("container legacy on manager1 was removed and created again")

    # 4. api removed and created again on that network: it answers, and is not the service the step began with
    must(sb, "manager1", f"docker service rm api && docker service create -q --name api {mode}--replicas 2 "
                         "--network shop2 nginx")
    now = verdicts(runner, step)
    assert failed(now) == {"container legacy", "service api"}, {n: r.reason for n, r in now.items()}
    assert now["service api"].reason.startswith("service api was removed and created again")


def test_challenge_two_services_shortcuts_fail_with_a_reason(challenge):
    runner, step, sb, mode = challenge("challenge-two-services")
    start = verdicts(runner, step)
    assert failed(start) == {"resolves billing", "reaches billing"}, {n: r.reason for n, r in start.items()}

    # 1. a container named billing on reports' network, on reports' node
    must(sb, "worker1", "docker run -d --name billing --network orders-net nginx")
    now = verdicts(runner, step)
    assert now["reaches billing"].passed and not now["resolves billing"].passed
    assert "belongs to container billing on orders-net (node worker1), not to service billing" in \
        now["resolves billing"].reason
    must(sb, "worker1", "docker rm -f billing")

    # 1b. billing's own address copied onto a bridge of reports' node
    copied = copy_address(sb, "billing", "billing-net", "worker1", "reports")
    if copied:
        now = verdicts(runner, step)
        assert now["reaches billing"].passed and not now["resolves billing"].passed
        assert "which belongs to container billing on copy-net (node worker1), not to service billing" in \
            now["resolves billing"].reason
    uncopy(sb, "billing", "worker1", "reports", copied)

    # 2. the alias billing on any container (here on worker2, a node reports is not on)
    must(sb, "worker2", "docker run -d --name helper nginx && docker network connect --alias billing orders-net helper")
    now = verdicts(runner, step)
    assert not now["resolves billing"].passed
    assert "belongs to container helper on orders-net (node worker2), not to service billing" in \
        now["resolves billing"].reason
    must(sb, "worker2", "docker rm -f helper")

    # 3. the real fix, and reports recreated: only reports' rule fails
    must(sb, "manager1", "docker service update -q --network-add orders-net billing")
    assert failed(verdicts(runner, step)) == set()  # the fix alone passes
    must(sb, "worker1", "docker rm -f reports && docker run -dti --name reports --network orders-net alpine ash")
    now = verdicts(runner, step)
    assert failed(now) == {"container reports"}, {n: r.reason for n, r in now.items()}
    assert now["container reports"].reason.startswith("container reports on worker1 was removed and created again")

    # 4. billing removed and created again on orders-net: it answers, and breaks the rule
    must(sb, "manager1", f"docker service rm billing && docker service create -q --name billing {mode}--replicas 2 "
                         "--network orders-net nginx")
    now = verdicts(runner, step)
    assert failed(now) == {"container reports", "service billing"}, {n: r.reason for n, r in now.items()}
    assert now["service billing"].reason.startswith("service billing was removed and created again")

    # 5. orders taken off reports' network: the rule that reports still reaches orders fails
    must(sb, "manager1", "docker service update -q --network-rm orders-net orders")
    now = verdicts(runner, step)
    assert {"resolves orders", "reaches orders"} <= failed(now)
    assert now["resolves orders"].reason.startswith("orders does not resolve from reports")
