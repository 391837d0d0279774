"""Sandboxes apart: isolation, three managers, a dead node, clean destroy, missing images."""
import pytest

from labapp.config import Settings
from labapp.errors import ImageMissing, NodeDead
from labapp.sandbox import SwarmSandbox

from .conftest import labelled_ids


@pytest.fixture(scope="module")
def managers3(client, settings):
    sb = SwarmSandbox.create(client, settings, nodes=3, managers=3)
    yield sb
    sb.destroy()


def test_three_managers_form_one_raft(managers3):
    out = managers3.exec("manager2", "docker node ls --format '{{.Hostname}} {{.ManagerStatus}}'").stdout
    statuses = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert sorted(statuses) == ["manager1", "manager2", "manager3"]
    assert sorted(statuses.values()) == ["Leader", "Reachable", "Reachable"]


def test_two_sandboxes_cannot_reach_each_other(sandbox, managers3):
    own = sandbox.exec("manager1", f"busybox ping -c 1 -W 1 {sandbox.node('worker1').address}")
    assert own.ok, own.output  # the control: inside a sandbox, nodes reach each other
    there = managers3.node("manager1").address
    across = sandbox.exec("manager1", f"busybox ping -c 2 -W 1 {there}")
    assert not across.ok and "0 packets received" in across.stdout
    back = managers3.exec("manager1", f"busybox ping -c 2 -W 1 {sandbox.node('manager1').address}")
    assert not back.ok and "0 packets received" in back.stdout
    tcp = managers3.exec("manager1", f"busybox nc -w 2 {sandbox.node('manager1').address} 2377 </dev/null")
    assert not tcp.ok


def test_a_dead_node_is_named(client, managers3):
    client.api.kill(managers3.node("manager3").container)
    with pytest.raises(NodeDead, match=f"node manager3 of sandbox {managers3.id} is not running"):
        managers3.exec("manager3", "true")
    state = managers3.state()
    dead = [n for n in state.nodes if n.name == "manager3"][0]
    assert not dead.running and "exited" in dead.error
    assert not state.ready


def test_destroy_leaves_nothing_labelled(client, settings):
    sb = SwarmSandbox.create(client, settings, nodes=2)
    assert sb.id in labelled_ids(client)
    sb.destroy()
    assert sb.id not in labelled_ids(client)
    sb.destroy()  # twice is fine


def test_destroy_removes_the_network_even_with_an_endpoint_it_did_not_make(client, settings):
    """The engine can still count an endpoint on a sandbox's network after its containers
    are gone (a CI run lost a sandbox's network so: 'has active endpoints'). A container
    the sandbox did not make, attached to its network, stands in for that endpoint here."""
    from labapp.sandbox.images import all_image_refs

    sb = SwarmSandbox.create(client, settings, nodes=1)
    stray = None
    try:
        stray = client.containers.run(all_image_refs(settings)[2], detach=True,
                                      network=f"labapp-{sb.id}", labels={"labapp.test": sb.id})
        sb.destroy()
        assert sb.id not in labelled_ids(client)
        stray.reload()
        assert stray.attrs["NetworkSettings"]["Networks"] == {}  # disconnected, not removed
    finally:
        if stray is not None:
            stray.remove(force=True)
        sb.destroy()


def test_missing_images_stop_creation_before_anything_is_made(client):
    before = labelled_ids(client)
    with pytest.raises(ImageMissing, match="labapp images build"):
        SwarmSandbox.create(client, Settings(debian_suite="no-such-suite"), nodes=1)
    assert labelled_ids(client) == before


def test_attach_finds_a_sandbox_by_its_labels(client, sandbox):
    again = SwarmSandbox.attach(client, sandbox.id)
    assert again.nodes == sandbox.nodes
    listed = {sb["id"]: sb for sb in SwarmSandbox.list(client)}
    assert [n["name"] for n in listed[sandbox.id]["nodes"]] == ["manager1", "worker1", "worker2"]


def test_sandboxes_made_at_once_get_their_own_subnets(client, settings):
    """A workshop makes many sandboxes together: each gets its own network and subnet."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(SwarmSandbox.create, client, settings, nodes=1) for _ in range(3)]
    boxes = [f.result() for f in futures if f.exception() is None]
    try:
        assert [f.exception() for f in futures] == [None, None, None]
        assert all(b.state().ready for b in boxes)
        subnets = {client.api.inspect_network(f"labapp-{b.id}")["IPAM"]["Config"][0]["Subnet"] for b in boxes}
        assert len(subnets) == 3
    finally:
        for box in boxes:
            box.destroy()
    assert not {b.id for b in boxes} & labelled_ids(client)
