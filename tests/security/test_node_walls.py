"""Root on a node is not root on the host (layer 4 of docs/security.md).

A real sandbox. The test itself starts a root process on a node, through the host engine
and never through the console, in the two ways one can exist: root of the node (uid 0 of
the node's user namespace: what a learner who got past every other layer would hold), on
worker1; and uid 0 of the host started by `docker exec -u 0` (only the host's own root can
start one), on manager1, which the first never touched: the node's root may lift the node's
/proc masks in its own mount namespace, and those masks are for such uid-0 processes (the
node's root itself is stopped by the kernel: no capability and no ownership on the host).
Each host-reaching primitive must fail, and the test reads the error to know which wall
stopped it. A primitive this kernel cannot offer is named in a warning, never passed quietly.
"""
import json
import os
import socket
import threading
import warnings

import pytest

from labapp.sandbox import SwarmSandbox

PROBE = open(os.path.join(os.path.dirname(__file__), "node_probe.py"), encoding="utf-8").read()
EPERM, EACCES, EROFS, ENOSYS = "EPERM", "EACCES", "EROFS", "ENOSYS"


class Untried(UserWarning):
    """A primitive this kernel cannot offer, so the wall against it was not tested."""


@pytest.fixture(scope="module")
def walled(client, settings):
    sb = SwarmSandbox.create(client, settings, nodes=2)
    yield sb
    sb.destroy()


def probe(client, sandbox, node, as_node_root):
    container = sandbox.node(node).container
    if as_node_root:  # root of the node: enter PID 1's user namespace as its owner
        argv = ["nsenter", "-t", "1", "-U", "--preserve-credentials", "python3", "-I", "-c", PROBE]
        user = sandbox.app_user
    else:  # uid 0 of the host, as the host's root can start it
        argv, user = ["python3", "-I", "-c", PROBE], "0"
    exec_id = client.api.exec_create(container, argv, user=user)["Id"]
    out = client.api.exec_start(exec_id, demux=True)
    stdout = (out[0] or b"").decode()
    assert client.api.exec_inspect(exec_id)["ExitCode"] == 0, (out[1] or b"").decode()[-2000:]
    return json.loads(stdout)


@pytest.fixture(scope="module")
def as_node_root(client, walled):
    return probe(client, walled, "worker1", as_node_root=True)


@pytest.fixture(scope="module")
def as_host_root(client, walled):
    return probe(client, walled, "manager1", as_node_root=False)


def test_the_sandbox_runs_the_hardened_recipe(client, walled):
    assert walled.recipe == "hardened", "this host must run hardened nodes (labapp doctor says why not)"
    host = client.api.inspect_container(walled.nodes[0].container)
    config = host["HostConfig"]
    assert config["CapDrop"] == ["ALL"] and config["CapAdd"] == ["NET_ADMIN"]
    assert config["ReadonlyRootfs"] is True and not config["Privileged"]
    assert any(opt.startswith("seccomp=") and opt != "seccomp=unconfined" for opt in config["SecurityOpt"])
    assert host["Config"]["User"] == "100000:100000"
    assert config["PidsLimit"] and config["Memory"] and config["NanoCpus"]
    # Nothing of the host is mounted in a node but Docker's own three files and its volume.
    binds = [m for m in host["Mounts"] if m["Type"] == "bind"]
    assert sorted(m["Destination"] for m in binds) in ([], ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"])


def test_who_the_probes_are(as_node_root, as_host_root):
    assert as_node_root["whoami"]["uid"] == 0
    assert as_node_root["whoami"]["uid_map"] == ["0", "100000", "1"]  # node root is uid 100000 to the host
    assert as_host_root["whoami"]["uid"] == 0 and as_host_root["whoami"]["uid_map"][:2] == ["0", "0"]
    assert as_host_root["whoami"]["cap_eff"] == "0000000000001000"  # CAP_NET_ADMIN alone


def _failed(result, *errnos, name=""):
    assert not result["done"], f"{name}: the primitive WORKED: {result['detail']}"
    assert result["errno"] in errnos, f"{name}: failed, but not at the wall expected: {result}"


@pytest.mark.parametrize("who", ["as_node_root", "as_host_root"])
def test_core_pattern_cannot_be_written(who, request):
    results = request.getfixturevalue(who)
    _failed(results["core_pattern"], EROFS, name="core_pattern")
    # Through a fresh procfs: the node's root may mount one (its own pid namespace) but the
    # host's setting is not its to write; the host's uid 0 may not even mount it.
    _failed(results["core_pattern_fresh_proc"], EACCES if who == "as_node_root" else EPERM,
            name="core_pattern via a fresh /proc")


def test_removing_the_proc_mask_reveals_nothing_writable(as_node_root, as_host_root):
    _failed(as_node_root["umount_proc_sys"], EACCES, EPERM, name="umount /proc/sys as node root")
    _failed(as_host_root["umount_proc_sys"], EPERM, name="umount /proc/sys as host uid 0")


@pytest.mark.parametrize("who", ["as_node_root", "as_host_root"])
def test_kernel_memory_and_addresses_stay_hidden(who, request):
    results = request.getfixturevalue(who)
    if results["exists"]["/proc/kcore"]:
        _failed(results["kcore"], EACCES, EPERM, name="/proc/kcore")
    else:
        warnings.warn(Untried("/proc/kcore: this kernel has none (CONFIG_PROC_KCORE is off)"))
    _failed(results["kallsyms"], EACCES, name="/proc/kallsyms")
    if who == "as_node_root":
        # A fresh procfs shows the symbols, with every address zeroed (no CAP_SYSLOG on the host).
        assert not results["fresh_proc_kallsyms_addresses"]["done"], results["fresh_proc_kallsyms_addresses"]
    if results["exists"]["/proc/sysrq-trigger"]:
        _failed(results["sysrq_trigger_open"], EACCES, name="/proc/sysrq-trigger")
    else:
        warnings.warn(Untried("/proc/sysrq-trigger: this kernel has none (CONFIG_MAGIC_SYSRQ is off)"))


@pytest.mark.parametrize("who", ["as_node_root", "as_host_root"])
def test_node_programs_cannot_be_replaced(who, request):
    results = request.getfixturevalue(who)
    for name in ("write_usr", "write_bin", "write_sys"):
        _failed(results[name], EROFS, EACCES, name=name)


@pytest.mark.parametrize("who", ["as_node_root", "as_host_root"])
def test_kernel_reaching_system_calls_are_refused(who, request):
    results = request.getfixturevalue(who)
    for name in ("name_to_handle_at", "open_by_handle_at", "init_module", "finit_module", "kexec_load",
                 "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "ptrace"):
        _failed(results[name], EPERM, name=name)
    _failed(results["keyctl"], ENOSYS, name="keyctl")


@pytest.mark.parametrize("who", ["as_node_root", "as_host_root"])
def test_host_disks_and_cgroup_release_agent_are_out_of_reach(who, request):
    results = request.getfixturevalue(who)
    if "untried" in results["mknod_host_disk"]:
        warnings.warn(Untried(f"mounting a host block device: {results['mknod_host_disk']['untried']}"))
    else:
        _failed(results["mknod_host_disk"], EPERM, name="mknod + mount of a host disk")
    _failed(results["cgroup_v1_release_agent"], EPERM, name="a fresh cgroup v1 hierarchy (release_agent)")


@pytest.fixture
def host_listener():
    """A TCP listener on every address of the host; records who connected."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen()
    server.settimeout(0.5)
    seen = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, peer = server.accept()
                seen.append(peer)
                conn.close()
            except OSError:
                continue
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join(timeout=2)
    server.close()


def _host_addresses():
    import subprocess
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    return sorted({line.split()[3].split("/")[0] for line in out.splitlines()} - {"127.0.0.1"})


def test_a_node_reaches_no_port_of_the_host(client, walled, host_listener):
    port, seen = host_listener
    gateway = client.api.inspect_network(f"labapp-{walled.id}")["IPAM"]["Config"][0].get("Gateway")
    targets = sorted(set(_host_addresses() + [gateway] if gateway else _host_addresses()))
    node_root = ["nsenter", "-t", "1", "-U", "-n", "--preserve-credentials", "sh", "-c"]
    for address in targets:
        # As the node's root, which may add any route it likes.
        line = (f"ip route replace default via {gateway} dev eth0 2>/dev/null; " if gateway else "") + \
            f"busybox nc -w 2 {address} {port} </dev/null"
        result = walled.exec("worker1", [*node_root, line], timeout=20)
        assert not result.ok, f"the node reached {address}:{port} on the host: {result.output}"
    assert seen == [], f"the host accepted connections from a node: {seen}"


def test_a_node_reaches_no_other_sandbox(client, settings, walled):
    other = SwarmSandbox.create(client, settings, nodes=1)
    try:
        there = other.node("manager1").address
        own = walled.exec("manager1", f"busybox nc -w 2 {walled.node('worker1').address} 7946 </dev/null")
        assert own.ok, own.output  # the control: nodes of one sandbox reach each other
        for line in (f"busybox nc -w 2 {there} 2377 </dev/null", f"busybox ping -c 1 -W 1 {there}"):
            result = walled.exec("manager1", line, timeout=20)
            assert not result.ok, f"a node of {walled.id} reached sandbox {other.id}: {result.output}"
    finally:
        other.destroy()
