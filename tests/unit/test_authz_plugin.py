"""The labapp-authz plugin as a real process on a unix socket, run the way the node runs it
(python3 -I, plugin.py and policy.py copied side by side), against a fake node engine that
calls the plugin back the way dockerd does."""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from labapp.sandbox.authz import PLUGIN_FILES

HOST_ID = "hostnetid" + "0" * 55
NETWORKS = {
    "host": {"Id": HOST_ID, "Name": "host", "Driver": "host"},
    HOST_ID: {"Id": HOST_ID, "Name": "host", "Driver": "host"},
    "hostnet": {"Id": HOST_ID, "Name": "host", "Driver": "host"},
    "test-net": {"Id": "7e57" + "0" * 60, "Name": "test-net", "Driver": "bridge"},
    "shop-net": {"Id": "5409" + "0" * 60, "Name": "shop-net", "Driver": "overlay"},
    # the ids the recorder's stub engine gave the CLI
    "5a1f0e7" + "0" * 18: {"Id": "5a1f0e7" + "0" * 18, "Name": "test-cluster-net", "Driver": "overlay"},
    "7e57ca5" + "0" * 18: {"Id": "7e57ca5" + "0" * 18, "Name": "test-cluster-net2", "Driver": "overlay"},
}


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(conn, path, payload=None, raw=None):
    """POST PAYLOAD (or RAW bytes) to the plugin; (status, decoded answer, Connection header)."""
    data = raw if raw is not None else json.dumps(payload).encode()
    conn.request("POST", path, body=data, headers={"Content-Type": "application/json",
                                                   "Accept": "application/vnd.docker.plugins.v1.2+json"})
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, json.loads(body) if body else None, resp.getheader("Connection")


def authz(method, uri, body=None):
    return {"User": "", "UserAuthNMethod": "", "RequestMethod": method, "RequestUri": uri,
            "RequestHeaders": {"Content-Type": "application/json", "User-Agent": "Docker-Client/20.10.24"},
            "RequestBody": base64.b64encode(json.dumps(body).encode()).decode() if body is not None else None}


class FakeEngine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """GET /v1.41/networks/{ref} like the node's dockerd: it first asks the plugin
    (AuthZReq), then answers from NETWORKS or 404."""
    daemon_threads = True
    request_queue_size = 128  # dockerd's listener takes a burst too

    def __init__(self, path, plugin_socket):
        self.plugin_socket = plugin_socket
        self.asked = []
        self.authz_answers = []
        super().__init__(path, FakeEngineHandler)


class FakeEngineHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        conn = UnixConnection(self.server.plugin_socket)
        try:
            _, answer, _ = call(conn, "/AuthZPlugin.AuthZReq", authz("GET", self.path))
        finally:
            conn.close()
        self.server.authz_answers.append((self.path, answer["Allow"]))
        ref = self.path.rsplit("/", 1)[-1]
        self.server.asked.append(ref)
        if not answer["Allow"]:
            status, body = 403, {"message": answer["Msg"]}
        elif ref in NETWORKS:
            status, body = 200, NETWORKS[ref]
        else:
            status, body = 404, {"message": f"network {ref} not found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Plugin:
    """plugin.py running from a copy (as in the node), with its fake engine."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="authz-", dir="/tmp")  # short: unix socket paths
        lib = Path(self.dir, "lib")
        lib.mkdir()
        for file in PLUGIN_FILES:
            shutil.copy(file, lib / file.name)
        self.socket = os.path.join(self.dir, "plugins", "labapp-authz.sock")
        self.docker = os.path.join(self.dir, "docker.sock")
        self.ready = os.path.join(self.dir, "ready")
        self.engine = FakeEngine(self.docker, self.socket)
        threading.Thread(target=self.engine.serve_forever, daemon=True).start()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(lib / "plugin.py"), "--socket", self.socket,
             "--docker", self.docker, "--ready", self.ready],
            cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        while True:
            try:
                UnixConnection(self.socket).connect()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"plugin did not start: {self.proc.stderr.read()}")
                time.sleep(0.02)

    def connect(self):
        return UnixConnection(self.socket)

    def judge(self, req):
        conn = self.connect()
        try:
            status, answer, _ = call(conn, "/AuthZPlugin.AuthZReq", req)
        finally:
            conn.close()
        assert status == 200
        return answer

    def stop(self):
        """SIGTERM; the plugin's stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            err = self.proc.communicate(timeout=10)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            err = self.proc.communicate()[1]
        self.engine.shutdown()
        self.engine.server_close()
        return err

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def plugin():
    p = Plugin()
    yield p
    p.cleanup()


@pytest.fixture
def fresh_plugin():
    p = Plugin()
    yield p
    p.cleanup()


PRIVILEGED = authz("POST", "/v1.41/containers/create", {"Image": "alpine", "HostConfig": {"Privileged": True}})


def test_activate_then_requests_on_one_kept_alive_connection(plugin):
    conn = plugin.connect()
    try:
        assert call(conn, "/Plugin.Activate", {})[:2] == (200, {"Implements": ["authz"]})
        sock = conn.sock
        status, answer, connection = call(conn, "/AuthZPlugin.AuthZReq", authz("HEAD", "/_ping"))
        assert (status, answer["Allow"], connection) == (200, True, None)
        status, answer, _ = call(conn, "/AuthZPlugin.AuthZReq", PRIVILEGED)
        assert answer["Allow"] is False
        assert answer["Msg"].endswith(" [labapp:privileged]")
        res = {**PRIVILEGED, "ResponseStatusCode": 200, "ResponseHeaders": {},
               "ResponseBody": base64.b64encode(b'{"Id":"x"}').decode()}
        assert call(conn, "/AuthZPlugin.AuthZRes", res)[1]["Allow"] is True
        assert conn.sock is sock, "the plugin closed a keep-alive connection"
    finally:
        conn.close()


def test_recorded_cli_requests_get_the_policys_answer(plugin):
    recorded = Path(__file__).parent / "fixtures" / "authz" / "recorded"
    for name, want in [("bad-run-bind-root", "bind-mount"), ("bad-volume-create-bind", "volume-driver"),
                       ("bad-service-cap-add", "cap-add"), ("ok-run-volume", None),
                       ("ok-service-update-network-add", None)]:
        requests = json.loads((recorded / f"{name}.json").read_text())["requests"]
        decisive = [r for r in requests if r["RequestMethod"] == "POST"][0]
        answer = plugin.judge(decisive)
        if want is None:
            assert answer["Allow"] is True, (name, answer)
        else:
            assert (answer["Allow"], answer["Msg"][-len(want) - 9:]) == (False, f"[labapp:{want}]"), name


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b"null", b'{"RequestMethod": 7}',
                                 b"[" * 50000, b'{"RequestMethod":"POST","RequestUri":"/containers/create",'
                                               b'"RequestBody":"!!"}'])
def test_malformed_authz_requests_are_refused(plugin, raw):
    conn = plugin.connect()
    try:
        status, answer, _ = call(conn, "/AuthZPlugin.AuthZReq", raw=raw)
    finally:
        conn.close()
    assert status == 200 and answer["Allow"] is False
    assert "[labapp:" in answer["Msg"]


def test_oversized_chunked_and_garbage_requests_do_not_kill_it(plugin):
    conn = plugin.connect()
    try:
        status, answer, connection = call(conn, "/AuthZPlugin.AuthZReq", raw=b" " * (4 * 1024 * 1024 + 1))
        assert (status, answer["Allow"], connection) == (200, False, "close")
        assert answer["Msg"].endswith("[labapp:bad-request]")
    finally:
        conn.close()

    conn = plugin.connect()  # a chunked AuthZReq is read and judged
    try:
        conn.putrequest("POST", "/AuthZPlugin.AuthZReq")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        data = json.dumps(PRIVILEGED).encode()
        for piece in (data[:10], data[10:]):
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        assert json.loads(resp.read())["Msg"].endswith("[labapp:privileged]")
    finally:
        conn.close()

    with socket.socket(socket.AF_UNIX) as raw:
        raw.settimeout(5)
        raw.connect(plugin.socket)
        raw.sendall(b"BREW /AuthZPlugin.AuthZReq HTTP/1.1\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 501")
    with socket.socket(socket.AF_UNIX) as raw:
        raw.settimeout(5)
        raw.connect(plugin.socket)
        raw.sendall(b"\x00\xffGARBAGE\r\n\r\n")
        raw.recv(100)  # an answer or a close, never a hang (the timeout would raise)

    conn = plugin.connect()
    try:
        conn.request("GET", "/Plugin.Activate")
        assert conn.getresponse().status == 405
    finally:
        conn.close()
    conn = plugin.connect()
    try:
        assert call(conn, "/Nope", {})[0] == 404
    finally:
        conn.close()
    assert plugin.proc.poll() is None
    assert plugin.judge(authz("GET", "/v1.41/info"))["Allow"] is True


def test_the_network_resolver_asks_the_node_engine_which_asks_the_plugin_again(plugin):
    def create(mode):
        return plugin.judge(authz("POST", "/v1.41/containers/create",
                                  {"Image": "alpine", "HostConfig": {"NetworkMode": mode}}))

    plugin.engine.asked.clear()
    plugin.engine.authz_answers.clear()
    answer = create("hostnet")
    assert answer["Allow"] is False and answer["Msg"].endswith("[labapp:host-network]")
    assert plugin.engine.asked == ["hostnet"]
    assert plugin.engine.authz_answers == [("/v1.41/networks/hostnet", True)]  # the nested call
    assert create("test-net")["Allow"] is True
    assert create("nosuch")["Allow"] is True  # not on this node, so not its host network
    assert create("default")["Allow"] is True
    answer = plugin.judge(authz("POST", "/v1.41/services/create", {
        "Name": "s", "TaskTemplate": {"ContainerSpec": {"Image": "nginx"}, "Networks": [{"Target": HOST_ID}]}}))
    assert answer["Msg"].endswith("[labapp:host-network]")
    answer = plugin.judge(authz("POST", "/v1.41/networks/hostnet/connect", {"Container": "c"}))
    assert answer["Msg"].endswith("[labapp:host-network]")


def test_many_concurrent_nested_lookups_finish(plugin):
    modes = ["test-net", "hostnet", "shop-net", "nosuch"] * 12

    def one(mode):
        return plugin.judge(authz("POST", "/v1.41/containers/create",
                                  {"Image": "alpine", "HostConfig": {"NetworkMode": mode}}))["Allow"]

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(one, modes, timeout=30))  # a deadlock raises TimeoutError here
    assert answers == [m != "hostnet" for m in modes]


def test_an_unreachable_engine_refuses_network_references(fresh_plugin):
    fresh_plugin.engine.shutdown()
    fresh_plugin.engine.server_close()
    os.unlink(fresh_plugin.docker)
    answer = fresh_plugin.judge(authz("POST", "/v1.41/containers/create",
                                      {"Image": "alpine", "HostConfig": {"NetworkMode": "test-net"}}))
    assert answer["Msg"].endswith("[labapp:network-unknown]")
    assert fresh_plugin.judge(authz("POST", "/v1.41/containers/create", {"Image": "alpine"}))["Allow"] is True


def test_images_load_only_until_the_node_is_ready(fresh_plugin):
    load = authz("POST", "/v1.41/images/load?quiet=1")
    load["RequestHeaders"] = {"Content-Type": "application/x-tar"}
    assert fresh_plugin.judge(load)["Allow"] is True
    Path(fresh_plugin.ready).touch()
    assert fresh_plugin.judge(load)["Msg"].endswith("[labapp:image-transfer]")
    os.unlink(fresh_plugin.ready)  # once ready, always ready
    assert fresh_plugin.judge(load)["Allow"] is False


def test_one_log_line_per_refusal_and_a_clean_stop(fresh_plugin):
    fresh_plugin.judge(authz("GET", "/v1.41/info"))
    fresh_plugin.judge(PRIVILEGED)
    fresh_plugin.judge(authz("POST", "/v1.41/build"))
    fresh_plugin.judge(authz("GET", "/v1.41/containers/x%2Fy/json"))
    err = fresh_plugin.stop()
    assert fresh_plugin.proc.returncode == 0
    denials = [line for line in err.splitlines() if " deny " in line]
    assert len(denials) == 3, err
    assert "[privileged]" in denials[0] and "/v1.41/containers/create" in denials[0]
    assert all(len(line) < 500 for line in denials)
    assert not os.path.exists(fresh_plugin.socket)


def test_the_plugin_imports_on_the_host_with_the_package_policy():
    from labapp.sandbox.authz import plugin as plugin_module
    from labapp.sandbox.authz import policy

    assert plugin_module.policy is policy
    assert {f.name for f in PLUGIN_FILES} == {"plugin.py", "policy.py"}
