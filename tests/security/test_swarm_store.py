"""The swarm's store cannot be made to fill the host's disk.

The managers keep the swarm's raft log and snapshots on a volume of the host with no size
limit. A red team filled it from the console: `docker swarm update --snapshot-interval 1
--max-snapshots 1000000`, a few services with 500 pending tasks and a large environment,
then any cheap command wrote a full snapshot, none ever deleted (5 MB a line, growing).
Here each piece of that is tried on a real sandbox: through the console (layer 2), and as
the learner's own docker CLI on the node with the console skipped (layer 3, the node
engine's authorization plugin). Then many cheap writes must leave one snapshot.
"""
from __future__ import annotations

import pytest

from labapp.console import judge
from labapp.sandbox import SwarmSandbox
from labapp.sandbox.authz.policy import MAX_REPLICAS, RAFT_BODY
from labapp.sandbox.swarm import SNAPSHOT_INTERVAL

pytestmark = pytest.mark.integration

BIG = "x" * (RAFT_BODY + 100)
ATTACKS = [  # (docker argv, the node engine's refusal id)
    (["docker", "swarm", "update", "--snapshot-interval", "1"], "swarm-raft"),
    (["docker", "swarm", "update", "--snapshot-interval", "18446744073709551615"], "swarm-raft"),
    (["docker", "swarm", "update", "--max-snapshots", "1000000"], "swarm-raft"),
    (["docker", "swarm", "update", "--task-history-limit", "100000"], "swarm-raft"),
    (["docker", "service", "create", "--detach", "--replicas", "500", "--constraint", "node.labels.never==1",
      "alpine"], "replicas"),
    (["docker", "service", "create", "--detach", "--mode", "replicated-job", "--replicas", "200", "alpine"],
     "replicas"),
    (["docker", "service", "create", "--detach", "--env", "A=" + BIG, "alpine"], "too-large"),
    (["docker", "node", "update", "--label-add", "k=" + BIG, "worker1"], "too-large"),
    (["docker", "network", "create", "-d", "overlay", "--label", "k=" + BIG, "big"], "too-large"),
]


@pytest.fixture(scope="module")
def sandbox(client, settings):
    sb = SwarmSandbox.create(client, settings, nodes=2)
    yield sb
    sb.destroy()


def _learner(sandbox, argv):
    return sandbox.exec("manager1", argv, learner=True, timeout=60)


def _root(client, sandbox, line):
    """LINE run by the node's root (the host engine's exec), for reading the swarm's files."""
    exec_id = client.api.exec_create(sandbox.node("manager1").container, ["sh", "-c", line])["Id"]
    return client.api.exec_start(exec_id).decode()


def test_the_labs_swarm_compacts_its_log_often(sandbox):
    result = _learner(sandbox, ["docker", "info", "--format", "{{.Swarm.Cluster.Spec.Raft.SnapshotInterval}} "
                                "{{.Swarm.Cluster.Spec.Raft.KeepOldSnapshots}}"])
    assert result.stdout.split() == [str(SNAPSHOT_INTERVAL), "0"], result.stderr


@pytest.mark.parametrize("argv,refusal", ATTACKS, ids=[f"{a[1]}-{a[2]}-{r}" for a, r in ATTACKS])
def test_what_would_grow_the_store_is_refused_by_the_console_and_by_the_engine(sandbox, argv, refusal):
    line = " ".join(argv)
    if argv[1] == "swarm":  # the console knows these flags and refuses them with its own reason
        verdict = judge(line)
        assert not verdict.allowed and "keeps it fixed" in verdict.reason, verdict
    result = _learner(sandbox, argv)
    assert result.exit_code != 0 and f"[labapp:{refusal}]" in result.stderr, (result.exit_code, result.stderr)


def test_what_the_lessons_do_still_works(sandbox):
    made = _learner(sandbox, ["docker", "service", "create", "--detach", "--name", "web", "--replicas", "5",
                              "--env", "GREETING=" + "hello " * 100, "nginx"])
    assert made.exit_code == 0, made.stderr
    scaled = _learner(sandbox, ["docker", "service", "scale", "--detach", f"web={MAX_REPLICAS}"])
    assert scaled.exit_code == 0, scaled.stderr
    too_many = _learner(sandbox, ["docker", "service", "scale", "--detach", f"web={MAX_REPLICAS + 1}"])
    assert "[labapp:replicas]" in too_many.stderr, too_many.stderr
    for argv in (["docker", "swarm", "update", "--autolock=false"],
                 ["docker", "swarm", "update", "--dispatcher-heartbeat", "5s"],
                 ["docker", "node", "update", "--label-add", "zone=a", "worker1"]):
        result = _learner(sandbox, argv)
        assert result.exit_code == 0, (argv, result.stderr)
    _learner(sandbox, ["docker", "service", "rm", "web"])


def test_many_cheap_writes_leave_one_snapshot(client, sandbox):
    """The red team's last step: cheap writes to the log, each of which wrote (and kept) a
    full snapshot. Past several snapshot intervals, one snapshot stays."""
    writes = SNAPSHOT_INTERVAL + SNAPSHOT_INTERVAL // 5  # past one compaction at least
    _root(client, sandbox, f"for i in $(seq {writes}); do docker node update --label-add k=$i worker1 >/dev/null; done")
    snapshots = _root(client, sandbox, "ls /var/lib/docker/swarm/raft/snap-v3-encrypted | wc -l").strip()
    wal = _root(client, sandbox, "du -sm /var/lib/docker/swarm/raft | cut -f1").strip()
    assert int(snapshots) <= 1, snapshots
    assert int(wal) <= 200, f"the raft directory holds {wal} MiB"
