"""The wire under docker-py (labapp/sandbox/dockerwire.py) against a fake engine on a unix
socket that speaks the engine's hijacked exec protocol: bytes that come with the headers,
a stream quiet for longer than the client's timeout, stdin, errors, the node tunnel through
`docker system dial-stdio`, a multi-image save; and the shape of the libraries it reaches into."""
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time

import docker
import docker.errors
import pytest

from labapp.sandbox import dockerwire
from labapp.sandbox.execstream import STDERR, STDOUT, FrameDecoder, frame, start_exec
from labapp.sandbox.nodeclient import node_client

QUIET = 0.6  # seconds the "quiet" command prints nothing; the starting client's timeout is a third of it
UPGRADED = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _answer(status, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n"
            f"\r\n").encode() + data


def _read_request(reader):
    """(method, path, headers, body) of the next HTTP request on READER; None at its end."""
    line = reader.readline()
    if not line:
        return None
    method, path, _ = line.decode().split(" ", 2)
    headers = {}
    while (header := reader.readline()) not in (b"\r\n", b""):
        name, value = header.decode().split(":", 1)
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", 0)))
    return method, path, headers, body


class FakeEngine:
    """Just enough of the engine's API on a unix socket: exec create and a hijacked exec
    start whose command is one of a few scripts (below), and /images/get."""

    def __init__(self, path):
        self.path = path
        self.execs = {}  # id -> Cmd
        self.upgrade_asked = []
        self.tunnels_hang_up = False  # the node's end of a tunnel closes after one answer
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(path)
        self._server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._server.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        reader = conn.makefile("rb")
        try:
            while (request := _read_request(reader)) is not None:
                method, path, headers, body = request
                if re.fullmatch(r"POST /v1\.41/containers/[\w-]+/exec", f"{method} {path}"):
                    exec_id = f"exec{len(self.execs) + 1}"
                    self.execs[exec_id] = json.loads(body)["Cmd"]
                    conn.sendall(_answer("201 Created", {"Id": exec_id}))
                elif match := re.fullmatch(r"POST /v1\.41/exec/(\w+)/start", f"{method} {path}"):
                    self.upgrade_asked.append(headers.get("upgrade"))
                    if self._start(conn, reader, match.group(1)):
                        return  # the connection was the stream's; it is closed now
                elif method == "GET" and path.startswith("/v1.41/images/get?"):
                    names = re.findall(r"names=([^&]+)", path)
                    if "missing" in names:
                        conn.sendall(_answer("404 Not Found", {"message": "reference does not exist"}))
                    else:
                        conn.sendall(_answer("200 OK", ("saved:" + ",".join(names)).encode(), "application/x-tar"))
                else:
                    conn.sendall(_answer("404 Not Found", {"message": f"page not found: {method} {path}"}))
        finally:
            conn.close()

    def _start(self, conn, reader, exec_id):
        """Run exec EXEC_ID's script on the hijacked CONN; False when it answered an error."""
        cmd = self.execs.get(exec_id)
        if cmd is None:
            conn.sendall(_answer("404 Not Found", {"message": f"No such exec instance: {exec_id}"}))
            return False
        if cmd == ["stopped"]:
            conn.sendall(_answer("409 Conflict", {"message": "Container node1 is not running"}))
            return False
        script = cmd[0]
        if script == "greet":  # the whole output in the same write as the headers
            conn.sendall(UPGRADED + frame(STDOUT, b"hello\n") + frame(STDERR, "오류\n".encode()))
        elif script == "quiet":  # nothing for longer than the client's timeout, then a line
            conn.sendall(UPGRADED)
            time.sleep(QUIET)
            conn.sendall(frame(STDOUT, b"done\n"))
        elif script == "echo":  # stdin comes back as stdout, until "bye"
            conn.sendall(UPGRADED + frame(STDOUT, b"ready\n"))
            seen = b""
            while b"bye" not in seen and (data := reader.read1(65536)):
                seen += data
                conn.sendall(frame(STDOUT, data))
        elif cmd == ["docker", "system", "dial-stdio"]:  # the node's engine, behind the exec's stdio
            conn.sendall(UPGRADED)
            while (request := _read_request(reader)) is not None:
                method, path = request[:2]
                if path == "/v1.41/version":
                    answer = _answer("200 OK", {"Version": "20.10.fake", "ApiVersion": "1.41"})
                else:
                    answer = _answer("404 Not Found", {"message": f"page not found: {method} {path}"})
                cut = len(answer) // 2  # one answer over two frames, a stderr frame between
                conn.sendall(frame(STDOUT, answer[:cut]) + frame(STDERR, b"dial-stdio: noise\n")
                             + frame(STDOUT, answer[cut:]))
                if self.tunnels_hang_up:
                    break
        conn.shutdown(socket.SHUT_RDWR)
        return True


@pytest.fixture
def engine():
    where = tempfile.mkdtemp(prefix="lw")  # a unix socket's path must be short
    fake = FakeEngine(os.path.join(where, "engine.sock"))
    yield fake
    fake.close()
    shutil.rmtree(where)


def _api(engine, timeout=5):
    return docker.APIClient(base_url="unix://" + engine.path, version="1.41", timeout=timeout)


def _run(api, cmd, stdin=b"", bye=b"", starter=None):
    """Start CMD through start_exec (with STARTER, a client, if given), write STDIN (then
    BYE), read to the end: {stream: bytes}."""
    exec_id = api.exec_create("node1", cmd, stdin=bool(stdin))["Id"]
    response, reader, sock = start_exec(starter or api, exec_id)
    out = {STDOUT: b"", STDERR: b""}
    decoder = FrameDecoder()
    try:
        if stdin:
            sock.sendall(stdin)
        while data := reader.read1(65536):
            for stream, payload in decoder.feed(data):
                out[stream] += payload
            if bye and stdin in out[STDOUT]:
                sock.sendall(bye)
                bye = b""
    finally:
        response.close()
    return out


def test_output_that_comes_with_the_headers_is_not_lost(engine):
    api = _api(engine)
    assert _run(api, ["greet"]) == {STDOUT: b"hello\n", STDERR: "오류\n".encode()}
    assert engine.upgrade_asked == ["tcp"]  # asked for the connection, as `docker exec` does


def test_a_stream_quiet_for_longer_than_the_clients_timeout_goes_on(engine):
    started = time.monotonic()
    short = _api(engine, timeout=QUIET / 3)  # starts the exec; a roomy client creates it
    assert _run(_api(engine), ["quiet"], starter=short)[STDOUT] == b"done\n"
    assert time.monotonic() - started >= QUIET  # it did wait past the client's 0.2 s timeout


def test_stdin_is_written_to_the_stream(engine):
    out = _run(_api(engine), ["echo"], stdin="ls -l 한글\r".encode(), bye=b"bye")
    assert out[STDOUT] == b"ready\n" + "ls -l 한글\r".encode() + b"bye"


def test_a_start_that_fails_raises_dockers_error_with_the_daemons_words(engine):
    api = _api(engine)
    with pytest.raises(docker.errors.NotFound, match="No such exec instance: nope"):
        start_exec(api, "nope")
    exec_id = api.exec_create("node1", ["stopped"])["Id"]
    with pytest.raises(docker.errors.APIError) as raised:
        start_exec(api, exec_id)
    assert raised.value.explanation == "Container node1 is not running"  # what swarm.py reads


def test_the_node_tunnel_speaks_http_through_dial_stdio_and_keeps_its_connection(engine):
    host = docker.DockerClient(base_url="unix://" + engine.path, version="1.41", timeout=5)
    node = node_client(host, "node1", timeout=5)
    try:
        assert node.version()["Version"] == "20.10.fake"
        assert node.version()["ApiVersion"] == "1.41"
        with pytest.raises(docker.errors.NotFound, match="page not found: GET /v1.41/info"):
            node.info()
    finally:
        node.close()
        host.close()
    dials = [cmd for cmd in engine.execs.values() if cmd == ["docker", "system", "dial-stdio"]]
    assert len(dials) == 1  # three requests over one tunnel: the pool kept the connection


def test_a_tunnel_that_ended_while_idle_is_not_used_again(engine):
    """The exec behind a pooled connection may end between requests (its process killed,
    the node's engine restarted): the next request opens a new tunnel instead of failing."""
    engine.tunnels_hang_up = True
    host = docker.DockerClient(base_url="unix://" + engine.path, version="1.41", timeout=5)
    node = node_client(host, "node1", timeout=5)
    try:
        for _ in range(3):
            assert node.version()["Version"] == "20.10.fake"
            time.sleep(0.05)  # the hang-up reaches the client's socket
    finally:
        node.close()
        host.close()
    dials = [cmd for cmd in engine.execs.values() if cmd == ["docker", "system", "dial-stdio"]]
    assert len(dials) == 3


def test_stream_get_streams_a_save_of_several_images(engine):
    api = _api(engine, timeout=5)
    response = dockerwire.stream_get(api, "/images/get", {"names": ["alpine:1", "nginx:2"]})
    assert b"".join(response.iter_content(4)) == b"saved:alpine%3A1,nginx%3A2"
    with pytest.raises(docker.errors.NotFound, match="reference does not exist"):
        dockerwire.stream_get(api, "/images/get", {"names": ["missing"]})


def test_the_libraries_keep_the_shape_labapp_relies_on():
    problems = dockerwire.shape_problems()
    assert not problems, "docker, requests, urllib3 or http.client changed shape:\n- " + "\n- ".join(problems)


def test_the_pins_in_pyproject_are_the_versions_dockerwire_was_measured_with():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as handle:
        pins = dict(re.findall(r'"(docker|requests|urllib3)==([\w.]+)"', handle.read()))
    assert pins == dockerwire.PINNED
