"""Sandboxes on two Docker engines (LABAPP_ENGINES, sandbox/multi.py), both real: the host's
engine and a second `dockerd` this module starts (root; its own socket, data root, exec
root, pidfile and address pool, --iptables=false, --bridge=none), into which the lab copies
the node and lesson images (sandbox/multi.copy_images: docker save | docker load). Proven:
sandboxes spread over both by free room, the capacity summed, the second engine killed
mid-run (its learner told by name, the next sandbox on the host, the other learner
untouched), the engine back up and what it left removed, and no labelled object left on
either engine. And the walls of a sandbox on the engine that installs no iptables rules:
it reaches no other sandbox, no address of the host, nothing else the host routes to, and
nothing from the host's containers reaches it."""
import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import docker
import pytest

from labapp.engine import connect, engine_address
from labapp.errors import LabappError
from labapp.lesson.catalog import Catalog
from labapp.lesson.parser import parse_lesson
from labapp.sandbox import LABEL
from labapp.sandbox.base import LABEL_OWNER
from labapp.sandbox.images import all_image_refs, missing_images
from labapp.sandbox.multi import EngineDown, MultiBackend, copy_images, engine_capacity, make_backend
from labapp.services import build_services

from ..lesson_text import one_step_lesson
from .conftest import labelled_ids, until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LESSON = one_step_lesson("docker node ls", 'output_contains: {value: "Leader"}')


class SecondEngine:
    """A dockerd of its own under a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="labapp-eng-", dir="/tmp")
        self.address = f"unix://{self.dir}/docker.sock"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(os.path.join(self.dir, "dockerd.log"), "ab")
        self.process = subprocess.Popen(
            ["dockerd", "-H", self.address, "--data-root", f"{self.dir}/data", "--exec-root", f"{self.dir}/exec",
             "--pidfile", f"{self.dir}/docker.pid", "--bridge=none", "--iptables=false", "--ip-masq=false",
             "--default-address-pool", "base=10.213.0.0/16,size=28"],
            stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                connect(timeout=5, base_url=self.address).close()
                return
            except LabappError:
                assert self.process.poll() is None, f"the second dockerd exited: {self.log()}"
                assert time.monotonic() < deadline, f"the second dockerd did not answer in 60 s: {self.log()}"
                time.sleep(0.5)

    def kill(self) -> None:
        """SIGKILL: the engine stops answering at once (what a crashed host looks like)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        # A killed dockerd leaves its containerd (and shims) behind: ours are found by our directory.
        for pid in _pids_under(self.dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for mount in sorted(_mounts_under(self.dir), reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        try:
            with open(os.path.join(self.dir, "dockerd.log"), encoding="utf-8", errors="replace") as handle:
                return handle.read()[-2000:]
        except OSError:
            return ""


def _pids_under(path: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if path.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        return [line.split()[1] for line in handle if line.split()[1].startswith(path)]


@pytest.fixture(scope="module")
def second(client, settings):
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.fail("the two-engine tests start a dockerd of their own: run them as root where dockerd is "
                    "installed", pytrace=False)
    engine = SecondEngine()
    try:
        engine.start()
        target = connect(timeout=600, base_url=engine.address)
        copy_images(client, target, missing_images(target, settings))
        assert missing_images(target, settings) == [], "the images did not arrive on the second engine"
        target.close()
        yield engine
    finally:
        engine.stop()
        assert not os.path.exists(engine.dir)
        assert _pids_under(engine.dir) == []


@pytest.fixture
def lab_settings(settings, second, tmp_path):
    # The node-recipe cache of this run's own (the second engine is new each run).
    return settings.replace(engines=f"{engine_address()},{second.address}", data_dir=str(tmp_path),
                            cache_dir=str(tmp_path / "cache"), pool_size=0, overload_per_core=0)


def lesson():
    found, problems = parse_lesson(LESSON, "one.en.md")
    assert not problems
    return found


def _on(client, sid: str) -> dict:
    """The labapp.engine label of sandbox SID's containers on CLIENT's engine."""
    return {c["Labels"].get("labapp.engine") for c in client.api.containers(all=True, filters={"label": f"{LABEL}={sid}"})}


def test_sandboxes_spread_over_two_engines_and_one_engine_dies(client, second, lab_settings):
    owner = f"test-{secrets.token_hex(4)}"
    backend = make_backend(lab_settings, owner)
    assert isinstance(backend, MultiBackend)
    host, other = backend.engines
    other_client = connect(base_url=second.address)
    # capacity: the sum of what each engine's own cores and memory hold
    expected = engine_capacity(client, lab_settings).sandboxes + engine_capacity(other_client, lab_settings).sandboxes
    assert backend.capacity().sandboxes == expected
    one = lesson()
    lab = build_services(lab_settings, backend=backend, kernel={}, capacity=backend.capacity(),
                         catalog=Catalog({one.slug: {"en": one}}, []))
    assert lab.admission.max_sandboxes == expected
    told = []
    lab.events.notify = lambda learner, event: told.append((learner, event))
    backend.watch(every=1.0)
    try:
        stages = []
        ann = lab.lifecycle.ensure("ann", one, stages.append)
        bob = lab.lifecycle.ensure("bob", one, stages.append)
        # equal engines: the first listed takes the first; then the other has more free room
        assert backend.engine_of(ann.id) is host and backend.engine_of(bob.id) is other
        assert f"placing the sandbox on engine {second.address}" in stages
        assert _on(client, ann.id) == {host.address} and _on(other_client, bob.id) == {second.address}
        assert _on(client, bob.id) == set() and _on(other_client, ann.id) == set()
        for learner in ("ann", "bob"):
            ran = lab.commands.run_block(learner, one, "one", 0, lambda event: None)
            assert ran and all(r.result.ok for r in ran)
            assert lab.commands.check(learner, one, "one")["passed"]

        second.kill()
        with pytest.raises(EngineDown) as caught:
            bob.exec("manager1", "docker node ls", timeout=30)
        assert second.address in str(caught.value)
        until(lambda: any(who == "bob" for who, _ in told), timeout=30, what="bob being told")
        event = next(e for who, e in told if who == "bob")
        assert second.address in event["reason"] and "Reset sandbox" in event["reason"], event
        assert not any(who == "ann" for who, _ in told)
        assert lab.seats.get("bob").sandbox is None
        assert not other.up and other.down_since is not None
        assert lab.admission.max_sandboxes == engine_capacity(client, lab_settings).sandboxes
        # bob's next sandbox goes to the engine that answers; ann works on
        again = lab.lifecycle.ensure("bob", one, lambda stage: None)
        assert backend.engine_of(again.id) is host
        assert ann.exec("manager1", "docker node ls", timeout=30).ok

        # the engine comes back: what it left of this instance is removed
        second.start()
        until(lambda: other.up, timeout=30, what="the second engine marked up")
        until(lambda: labelled_ids(other_client) == set(), timeout=60,
              what="the left-behind sandbox removed from the second engine")
    finally:
        lab.lifecycle.shutdown()
    # the leak check, on both engines
    assert labelled_ids(other_client) == set()
    mine = client.api.containers(all=True, filters={"label": f"{LABEL_OWNER}={owner}"})
    assert mine == []
    assert {ann.id, bob.id, again.id} & labelled_ids(client) == set()
    other_client.close()


# --- the walls of a sandbox on the engine with --iptables=false -------------------------


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
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    return sorted({line.split()[3].split("/")[0] for line in out.splitlines()} - {"127.0.0.1"})


UDP_LISTENER = """import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9999))
s.settimeout(20)
f = open("/tmp/udp.got", "ab", 0)
try:
    while True:
        f.write(s.recv(100))
except OSError:
    pass
"""


def udp_sender(address: str, word: str) -> str:
    return (f"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            f"[s.sendto(b\"{word}\\n\", (\"{address}\", 9999)) for i in range(3)]")


NODE_ROOT = ["nsenter", "-t", "1", "-U", "-n", "--preserve-credentials", "sh", "-c"]


def test_a_sandbox_on_an_engine_without_iptables_reaches_nothing_but_itself(client, second, lab_settings,
                                                                              host_listener, settings):
    owner = f"test-{secrets.token_hex(4)}"
    backend = make_backend(lab_settings.replace(engines=second.address), owner)  # the lab installs its rules
    other_client = connect(base_url=second.address)
    one = lesson()
    two = dataclasses.replace(one, nodes=2)
    walled = backend.create(two, lambda stage: None)
    neighbour = backend.create(one, lambda stage: None)
    outsider = outside_net = None
    try:
        assert backend.engine_of(walled.id).address == second.address
        port, seen = host_listener
        net = other_client.api.inspect_network(f"labapp-{walled.id}")
        gateway = net["IPAM"]["Config"][0].get("Gateway")
        route = f"ip route replace default via {gateway} dev eth0 2>/dev/null; " if gateway else ""
        # the control: the sandbox's own nodes reach each other (its swarm formed, too)
        own = walled.exec("manager1", f"busybox nc -w 2 {walled.node('worker1').address} 7946 </dev/null")
        assert own.ok, own.output
        # the host, on every address it has (and the bridge's gateway), as the node's root
        for address in sorted(set(_host_addresses() + ([gateway] if gateway else []))):
            result = walled.exec("worker1", [*NODE_ROOT, f"{route}busybox nc -w 2 {address} {port} </dev/null"],
                                 timeout=20)
            assert not result.ok, f"the node reached {address}:{port} on the host: {result.output}"
        assert seen == [], f"the host accepted connections from a node: {seen}"
        # another sandbox on the same engine
        there = neighbour.node("manager1").address
        for line in (f"busybox nc -w 2 {there} 2377 </dev/null", f"busybox ping -c 1 -W 1 {there}"):
            result = walled.exec("worker1", [*NODE_ROOT, route + line], timeout=20)
            assert not result.ok, f"a node of {walled.id} reached sandbox {neighbour.id}: {result.output}"
        # something the host routes to: a web server on a bridge of the host engine (an
        # ordinary one, not internal); and the other way, a container there trying the nodes
        image = all_image_refs(settings)[2]  # the nginx stand-in: httpd on port 80
        bridge = f"lt-{owner[-8:]}"
        outside_net = client.networks.create(bridge, driver="bridge", labels={"labapp.test": owner},
                                             options={"com.docker.network.bridge.name": bridge})
        outsider = client.containers.run(image, detach=True, network=bridge, labels={"labapp.test": owner})
        outsider.reload()
        web = outsider.attrs["NetworkSettings"]["Networks"][bridge]["IPAddress"]
        assert web, "the test's web server got no address"
        # the control: the web server answers on its own bridge
        client.containers.run(image, ["sh", "-c", f"nc -w 2 {web} 80 </dev/null"], network=bridge, remove=True,
                              labels={"labapp.test": owner})
        result = walled.exec("worker1", [*NODE_ROOT, f"{route}busybox nc -w 2 {web} 80 </dev/null"], timeout=20)
        assert not result.ok, f"the node reached {web}:80 on a bridge of the host engine: {result.output}"
        for target in (walled.node("manager1").address, there):
            try:
                client.containers.run(image, ["sh", "-c", f"nc -w 2 {target} 2377 </dev/null"], network=bridge,
                                      remove=True, labels={"labapp.test": owner})
                reached = True
            except docker.errors.ContainerError:
                reached = False
            assert not reached, f"a container of the host engine reached the sandbox node {target}"
        # one way, where no answer is needed (UDP, as VXLAN is): nothing arrives on the node
        listen = walled.exec("worker1", f"cat > /tmp/listen.py <<'EOF'\n{UDP_LISTENER}EOF\n"
                             "(python3 /tmp/listen.py &) ; sleep 1; test -e /tmp/udp.got", timeout=20)
        assert listen.ok, listen.output
        to = walled.node("worker1").address
        # (the busybox nc here sends no UDP: python3 of the node image does, as an ordinary container)
        client.containers.run(all_image_refs(settings)[0], [udp_sender(to, "intruder")], entrypoint=["python3", "-c"],
                              network=bridge, remove=True, labels={"labapp.test": owner})
        their_gateway = other_client.api.inspect_network(f"labapp-{neighbour.id}")["IPAM"]["Config"][0].get("Gateway")
        neighbour.exec("manager1", [*NODE_ROOT, f"ip route replace default via {their_gateway} dev eth0; "
                                                f"python3 -c '{udp_sender(to, 'intruder')}'"], timeout=20)
        control = walled.exec("manager1", f"python3 -c '{udp_sender(to, 'friend')}'", timeout=20)
        assert control.ok, control.output
        time.sleep(1)
        got = walled.exec("worker1", "cat /tmp/udp.got", timeout=20).stdout
        assert "friend" in got, f"the control (a datagram from the sandbox's own manager) did not arrive: {got!r}"
        assert "intruder" not in got, "a datagram from outside the sandbox arrived on its node"
        # the outside world (a public resolver), with the node's own default route
        result = walled.exec("worker1", [*NODE_ROOT, f"{route}busybox nc -w 2 1.1.1.1 53 </dev/null"], timeout=20)
        assert not result.ok, f"the node reached 1.1.1.1:53: {result.output}"
    finally:
        if outsider is not None:
            outsider.remove(force=True)
        if outside_net is not None:
            outside_net.remove()
        walled.destroy()
        neighbour.destroy()
    assert labelled_ids(other_client) == set()
    other_client.close()


def test_doctor_reports_each_engine(client, second, lab_settings, tmp_path):
    import json

    gone = f"unix://{tmp_path}/nobody.sock"
    env = {**os.environ, "LABAPP_ENGINES": f"{lab_settings.engines},{gone}", "LABAPP_CACHE_DIR": lab_settings.cache_dir,
           "LABAPP_DATA_DIR": lab_settings.data_dir}
    labapp = os.path.join(os.path.dirname(sys.executable), "labapp")
    done = subprocess.run([labapp, "doctor", "--json"], env=env, capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    assert done.returncode == 1  # an engine is down
    host, other, down = report["engines"]
    assert [e["engine"]["address"] for e in report["engines"]] == [engine_address(), second.address, gone]
    for engine in (host, other):
        assert engine["engine"]["reachable"] and engine["images"]["present"], engine
        assert engine["engine"]["node_mode"] == "hardened"
        assert engine["capacity"] >= 1
    assert not down["engine"]["reachable"] and "no Docker engine answers" in down["problems"][0]
    assert report["capacity"] == host["capacity"] + other["capacity"]
    assert report["bridge_wall"] is None
    text = subprocess.run([labapp, "doctor"], env=env, capture_output=True, text=True, timeout=300).stdout
    assert f"== engine 2: {second.address} (up)" in text and f"== engine 3: {gone} (DOWN)" in text, text
