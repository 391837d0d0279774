"""The warm pool and the reaper with the real engine: pooled swarms are real, a pooled
sandbox whose node died is never handed out, and an expired sandbox leaves nothing."""
import pytest

from labapp.lesson.catalog import load_catalog
from labapp.sandbox.backend import POOL_CPU_SHARES, SwarmBackend
from labapp.sandbox.base import LABEL, LABEL_OWNER, LABEL_POOL
from labapp.services import build_services

from .conftest import labelled_ids


@pytest.fixture
def lesson():
    return load_catalog().get("overlay-attachable", "en")


@pytest.fixture
def lab(settings, tmp_path):
    backend = SwarmBackend(settings, owner=f"itest-{tmp_path.name[-8:]}")
    lab = build_services(settings.replace(data_dir=str(tmp_path), pool_size=2), backend=backend,
                         kernel={"ipvs": False, "esp": False, "vxlan": True}, capacity=None)
    yield lab
    lab.shutdown()


def test_the_pool_hands_out_only_live_swarms_labelled_as_pooled(client, lab, lesson):
    pool = lab.pool
    pool.start()
    assert pool.wait_filled(180)
    pooled = [e for e in lab.backend.existing() if e["pooled"]]
    assert len(pooled) == 2 and all(e["shape"] == "3x1" for e in pooled)
    first = pool._ready["3x1"][0]
    node = client.containers.get(first.nodes[1].container)
    assert node.labels[LABEL_POOL] == "3x1" and node.labels[LABEL_OWNER] == lab.backend.owner
    assert node.attrs["HostConfig"]["CpuShares"] == POOL_CPU_SHARES  # waiting swarms yield the CPU
    node.kill()  # a pooled swarm that lost a node while it waited
    sandbox = lab.lifecycle.ensure("ann", lesson, lambda stage: None)
    assert sandbox.id != first.id and lab.metrics.pool_hits._value.get() == 1
    shares = {client.api.inspect_container(n.container)["HostConfig"]["CpuShares"] for n in sandbox.nodes}
    assert shares == {1024}  # a learner's share once taken
    assert sandbox.exec("manager1", "docker node ls --format '{{.Status}}'").stdout.split() == ["Ready"] * 3
    assert first.id not in labelled_ids(client)  # the dead one was removed, not handed out


def test_an_expired_sandbox_is_reaped_and_leaves_nothing(client, lab, lesson):
    told = []
    lab.events.notify = lambda learner, event: told.append(event)
    sandbox = lab.lifecycle.ensure("bob", lesson, lambda stage: None)
    assert sandbox.id in labelled_ids(client)
    lab.expiry.max_seconds = 1
    lab.seats.get("bob").born -= 5
    assert lab.expiry.reap() == ["bob"]
    assert told[-1]["type"] == "expired" and "maximum lifetime" in told[-1]["reason"]
    flt = {"label": f"{LABEL}={sandbox.id}"}
    assert client.api.containers(all=True, filters=flt) == [] and client.api.networks(filters=flt) == []
    assert (client.api.volumes(filters=flt).get("Volumes") or []) == []
    assert lab.store.holdings() == {}
