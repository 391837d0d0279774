#!/usr/bin/env python3
"""labapp-authz: the Docker authorization plugin every node's dockerd runs with
--authorization-plugin=labapp-authz, served on a unix socket (Docker's plugin protocol).

    python3 -I /usr/local/lib/labapp/authz/plugin.py \\
        --socket /run/docker/plugins/labapp-authz.sock --docker /run/docker.sock \\
        --ready /run/labapp/ready

POST /Plugin.Activate answers {"Implements": ["authz"]}; POST /AuthZPlugin.AuthZReq is
judged by policy.py (beside this file in the node, labapp.sandbox.authz.policy on the host);
POST /AuthZPlugin.AuthZRes is always allowed (the request was judged before it ran). The
server is threaded and keeps HTTP/1.1 connections open: dockerd calls it concurrently, and a
network lookup (GET /networks/{ref} on --docker) makes dockerd call it again while the first
call waits. Until the --ready file exists the node is booting and may load images. Every
error refuses; each refusal is one line on stderr. Standard library only.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import socketserver
import stat
import sys
import threading
from http.server import BaseHTTPRequestHandler
from typing import Optional
from urllib.parse import quote

if __package__:
    from . import policy
else:  # run as a file (python3 -I puts no script directory on sys.path): load the sibling
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "labapp_authz_policy", os.path.join(os.path.dirname(os.path.abspath(__file__)), "policy.py"))
    policy = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = policy  # dataclasses look the module up while the file runs
    _spec.loader.exec_module(policy)

MAX_REQUEST = 4 * 1024 * 1024  # an AuthZReq carries at most a 1 MiB body (base64) and headers
CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"
API_VERSION = "1.41"


def log(line: str) -> None:
    """One line on stderr (control characters escaped: a request cannot forge log lines)."""
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    sys.stderr.write(f"labapp-authz: {line}\n")
    sys.stderr.flush()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DockerNetworks:
    """Looks networks up on the node's own engine: GET /networks/{ref} (full id, then name,
    then id prefix: the order dockerd itself resolves a reference in)."""

    def __init__(self, socket_path: str, timeout: float = 5.0):
        self.socket_path = socket_path
        self.timeout = timeout

    def __call__(self, ref: str) -> Optional[dict]:
        conn = _UnixConnection(self.socket_path, self.timeout)
        try:
            conn.request("GET", f"/v{API_VERSION}/networks/{quote(ref, safe='')}",
                         headers={"Host": "docker", "User-Agent": "labapp-authz"})
            resp = conn.getresponse()
            data = resp.read(MAX_REQUEST)
        finally:
            conn.close()
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise LookupError(f"GET /networks/{ref} answered {resp.status}")
        return json.loads(data)


class ReadyFlag:
    """The node is booting until PATH exists; once it has, it stays ready."""

    def __init__(self, path: Optional[str]):
        self.path = path
        self._ready = path is None

    def booting(self) -> bool:
        if not self._ready and os.path.exists(self.path):
            self._ready = True
        return not self._ready


class BadRequest(Exception):
    pass


class PluginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "labapp-authz"
    sys_version = ""
    # No idle timeout: dockerd's plugin client keeps idle connections without limit and a
    # POST it sends just as the server closes one would fail (Go does not replay a POST).
    timeout = None

    def log_message(self, format, *args):  # one line per refusal only (see _authz_request)
        pass

    # -- reading ---------------------------------------------------------------------
    def _chunks(self):
        """The request body in pieces (Content-Length or chunked)."""
        encoding = self.headers.get("Transfer-Encoding")
        if encoding:
            if encoding.strip().lower() != "chunked":
                raise BadRequest(f"transfer encoding {encoding!r}")
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadRequest("bad chunk size") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                yield from self._exactly(size)
                self.rfile.readline(16)
        try:
            remaining = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("bad Content-Length") from None
        if remaining < 0:
            raise BadRequest("bad Content-Length")
        yield from self._exactly(remaining)

    def _exactly(self, size: int):
        """The next SIZE bytes of the request, in pieces; fewer raises BadRequest."""
        while size:
            piece = self.rfile.read(min(size, 65536))
            if not piece:
                raise BadRequest("body cut short")
            size -= len(piece)
            yield piece

    def _read(self, limit: Optional[int]) -> bytes:
        """The whole body; past LIMIT bytes raises BadRequest (LIMIT None: read and drop)."""
        data = bytearray()
        for piece in self._chunks():
            if limit is None:
                continue
            data += piece
            if len(data) > limit:
                raise BadRequest(f"request larger than {limit} bytes")
        return bytes(data)

    # -- answering -------------------------------------------------------------------
    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _refuse(self, refusal_id: str, detail: str, uri: str = "?") -> dict:
        log(f"deny {uri} [{refusal_id}] {detail}"[:400])
        return {"Allow": False, "Msg": policy.message(refusal_id), "Err": detail[:200]}

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if path == "/AuthZPlugin.AuthZReq":
                try:
                    body = self._read(MAX_REQUEST)
                except BadRequest as exc:
                    self.close_connection = True
                    return self._send(200, self._refuse("bad-request", str(exc)))
                return self._send(200, self._authz_request(body))
            if path == "/AuthZPlugin.AuthZRes":
                self._read(None)
                return self._send(200, {"Allow": True, "Msg": "", "Err": ""})
            self._read(MAX_REQUEST)
            if path == "/Plugin.Activate":
                return self._send(200, {"Implements": ["authz"]})
            return self._send(404, {"Err": f"labapp-authz has no {path}"})
        except BadRequest as exc:
            self.close_connection = True
            self._send(400, {"Allow": False, "Msg": policy.message("bad-request"), "Err": str(exc)})
        except Exception as exc:  # noqa: BLE001 - never die on one request
            self.close_connection = True
            self._send(500, self._refuse("internal-error", f"{type(exc).__name__}: {exc}"))

    def do_GET(self) -> None:
        self.close_connection = True
        self._send(405, {"Err": "labapp-authz takes POST only"})

    do_PUT = do_DELETE = do_HEAD = do_GET

    def _authz_request(self, body: bytes) -> dict:
        try:
            request = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return self._refuse("bad-request", f"AuthZReq is not JSON: {exc}")
        decision = self.server.policy.judge(request)
        if decision.allow:
            return decision.to_json()
        uri = (request.get("RequestUri") or request.get("RequestURI")) if isinstance(request, dict) else None
        method = request.get("RequestMethod") if isinstance(request, dict) else None
        detail = f" ({decision.detail})" if decision.detail else ""
        log(f"deny {method!r:.10} {uri!r:.200} [{decision.id}]{detail:.200}")
        return decision.to_json()


class PluginServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The AuthZ plugin on a unix socket, one thread per connection."""
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, socket_path: str, judge_policy):
        self.policy = judge_policy
        parent = os.path.dirname(socket_path)
        if parent:
            os.makedirs(parent, mode=0o755, exist_ok=True)
        try:
            if stat.S_ISSOCK(os.lstat(socket_path).st_mode):
                os.unlink(socket_path)  # left over from an earlier run
        except FileNotFoundError:
            pass
        old_umask = os.umask(0o177)  # the socket is created 0600: dockerd runs as root
        try:
            super().__init__(socket_path, PluginHandler)
        finally:
            os.umask(old_umask)


def make_server(socket_path: str, docker_socket: str, ready_path: Optional[str]) -> PluginServer:
    judge_policy = policy.Policy(resolve_network=DockerNetworks(docker_socket),
                                 booting=ReadyFlag(ready_path).booting)
    return PluginServer(socket_path, judge_policy)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="labapp-authz: the node engine's AuthZ plugin")
    parser.add_argument("--socket", default="/run/docker/plugins/labapp-authz.sock",
                        help="where to listen (dockerd finds labapp-authz.sock there)")
    parser.add_argument("--docker", default="/run/docker.sock", help="the node engine's socket")
    parser.add_argument("--ready", default=None,
                        help="images may be loaded until this file exists (the node's ready mark)")
    args = parser.parse_args(argv)
    server = make_server(args.socket, args.docker, args.ready)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    log(f"listening on {args.socket}")
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        try:
            os.unlink(args.socket)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
