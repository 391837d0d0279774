"""The challenges cannot be passed by a shortcut. On a real sandbox, each challenge starts
broken (its setup, which records what its rules compare with), then each known shortcut is
played and the step's checks must fail with a reason that names what is wrong:

- a container that merely answers to the service's name (a fake `api`, an alias on any
  container) fails `resolves ... service:`, naming the container that answered;
- recreating the standalone container fails its rule (same ID as at setup);
- removing the service and creating it again fails its rule, even where the new one works.

The last case of each is a real fix plus one shortcut, so that only the rule can catch it.
One sandbox per challenge; its shortcuts are played in an order that leaves each one's
traces to the next only where the next one does not care."""
import pytest

from labapp.lesson.catalog import load_catalog
from labapp.runner import Runner
from labapp.sandbox import SwarmSandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CATALOG = load_catalog()


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
