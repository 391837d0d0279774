"""The network map (labapp/netmap.py) read from made-up node engines: one engine per node,
shaped like docker-py's, as a swarm in the middle of the article's rolling update."""
from types import SimpleNamespace

from labapp.netmap import network_map

from .fakes import FakeEngine, FakeSandbox, network


def _node(node_id, hostname, role="worker", state="ready"):
    return SimpleNamespace(id=node_id, attrs={"Description": {"Hostname": hostname}, "Spec": {"Role": role},
                                              "Status": {"State": state}})


def _attachment(name, address):
    return {"Network": {"ID": f"id-{name}", "Spec": {"Name": name}}, "Addresses": [address]}


def _task(node_id, slot, *attachments, state="running"):
    task = {"NodeID": node_id, "Slot": slot, "Status": {"State": state}}
    if attachments:
        task["NetworksAttachments"] = list(attachments)
    return task


def _service(name, networks, tasks):
    return SimpleNamespace(name=name, attrs={"Spec": {
        "Mode": {"Replicated": {"Replicas": len(tasks)}},
        "TaskTemplate": {"Networks": [{"Target": f"id-{n}"} for n in networks]},
        "EndpointSpec": {"Mode": "dnsrr"}}}, tasks=lambda filters=None: list(tasks))


def _container(name, task=False, **addresses):
    labels = {"com.docker.swarm.task.id": "t1"} if task else {}
    return SimpleNamespace(name=name, status="running", attrs={
        "Config": {"Labels": labels},
        "NetworkSettings": {"Networks": {net.replace("_", "-"): {"IPAddress": ip} for net, ip in addresses.items()}}})


class PerNodeSandbox(FakeSandbox):
    """A fake sandbox whose nodes each have their own engine (FakeSandbox shares one)."""

    def __init__(self, engines):
        super().__init__(nodes=tuple(engines))
        self.engines = engines

    def engine(self, node):
        self.node(node)
        return self.engines[node]


def _swarm():
    nodes = [_node("n2", "worker1"), _node("n1", "manager1", role="manager"), _node("n3", "worker2", state="down")]
    overlays = [network("ingress", subnet="10.0.0.0/24"), network("test-cluster-net2", subnet="10.0.1.0/24"),
                network("test-cluster-net", attachable=True, subnet="10.0.2.0/24"),
                network("my-attachable-multi-host-network", attachable=True, encrypted=True, subnet="10.0.3.0/24")]
    nginx = _service("my-nginx", ["test-cluster-net2", "test-cluster-net"], [
        # updated: both networks, as the swarm allocated them
        _task("n2", 3, _attachment("test-cluster-net2", "10.0.1.7/24"), _attachment("test-cluster-net", "10.0.2.4/24")),
        # not updated yet: only the old network, whatever the spec says now
        _task("n1", 2, _attachment("test-cluster-net2", "10.0.1.6/24")),
        _task("n1", 1, _attachment("test-cluster-net2", "10.0.1.5/24"), _attachment("test-cluster-net", "10.0.2.3/24")),
        # pending, nothing allocated yet: the spec's networks, no address
        _task("n3", 4, state="pending"),
    ])
    test_net = network("test-net", driver="bridge", scope="local", subnet="172.18.0.0/16")
    manager = FakeEngine(networks=[*overlays, test_net, network("host", driver="host", scope="local", subnet="")],
                         services=[nginx], nodes=nodes,
                         containers=[_container("alpine1", test_net="172.18.0.2", test_cluster_net="10.0.2.9"),
                                     _container("my-nginx.1.abc", task=True, test_cluster_net2="10.0.1.5")])
    worker1 = FakeEngine(networks=[overlays[3], network("docker_gwbridge", driver="bridge", scope="local",
                                                        subnet="172.19.0.0/16")],
                         containers=[_container("secure-b", my_attachable_multi_host_network="10.0.3.3")])
    worker2 = FakeEngine(networks=[network("docker_gwbridge", driver="bridge", scope="local", subnet="172.19.0.0/16")])
    return PerNodeSandbox({"manager1": manager, "worker1": worker1, "worker2": worker2})


def test_the_map_has_nodes_with_roles_and_states_manager_first():
    picture = network_map(_swarm())
    assert picture["nodes"] == [{"name": "manager1", "role": "manager", "state": "ready"},
                                {"name": "worker1", "role": "worker", "state": "ready"},
                                {"name": "worker2", "role": "worker", "state": "down"}]


def test_networks_overlays_once_and_local_bridges_per_node_with_their_traits():
    picture = network_map(_swarm())
    nets = {(n["name"], n["node"]): n for n in picture["networks"]}
    assert [n["name"] for n in picture["networks"] if n["scope"] == "swarm"] == [
        "ingress", "my-attachable-multi-host-network", "test-cluster-net", "test-cluster-net2"]
    encrypted = nets["my-attachable-multi-host-network", None]
    assert encrypted["encrypted"] and encrypted["attachable"] and encrypted["subnet"] == "10.0.3.0/24"
    assert not nets["test-cluster-net2", None]["attachable"] and not nets["test-cluster-net2", None]["encrypted"]
    assert nets["test-net", "manager1"]["driver"] == "bridge" and nets["test-net", "manager1"]["scope"] == "local"
    assert {node for name, node in nets if name == "docker_gwbridge"} == {"worker1", "worker2"}
    assert ("host", "manager1") not in nets


def test_each_task_has_its_slot_node_and_the_networks_the_swarm_gave_it():
    service = network_map(_swarm())["services"][0]
    assert service["networks"] == ["test-cluster-net2", "test-cluster-net"]
    assert [(t["node"], t["slot"]) for t in service["tasks"]] == [
        ("manager1", 1), ("manager1", 2), ("worker1", 3), ("worker2", 4)]
    by_slot = {t["slot"]: t for t in service["tasks"]}
    assert by_slot[1]["networks"] == ["test-cluster-net", "test-cluster-net2"]
    assert by_slot[1]["addresses"] == {"test-cluster-net2": "10.0.1.5", "test-cluster-net": "10.0.2.3"}
    assert by_slot[2]["networks"] == ["test-cluster-net2"]  # not updated yet: not on the added network
    assert by_slot[4]["networks"] == ["test-cluster-net", "test-cluster-net2"] and by_slot[4]["addresses"] == {}


def test_standalone_containers_with_node_networks_and_addresses_tasks_left_to_their_service():
    containers = network_map(_swarm())["containers"]
    assert [(c["name"], c["node"]) for c in containers] == [("alpine1", "manager1"), ("secure-b", "worker1")]
    alpine = containers[0]
    assert alpine["networks"] == ["test-cluster-net", "test-net"]
    assert alpine["addresses"] == {"test-net": "172.18.0.2", "test-cluster-net": "10.0.2.9"}
    assert containers[1]["addresses"] == {"my-attachable-multi-host-network": "10.0.3.3"}
