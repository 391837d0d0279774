#!/usr/bin/env python3
"""Ask the real docker CLI what it would send to an engine, without an engine.

A tiny fake engine listens on a unix socket, answers /_ping like a 20.10 engine (API 1.41),
records every request with its JSON body and fails it, so the CLI stops at its first
request (a network lookup is answered, name = ID, so that service create gets through). The console's tests use it to check that
labapp/console reads a docker line exactly as the CLI does (which words are flags, which
value each flag gets, what the container's command is, what a --mount or --network csv
becomes): parse the same argv both ways and compare.

  python scripts/console-oracle.py --docker /path/to/docker run -v data:/d alpine echo hi

prints one JSON object: {"requests": [{"method", "path", "body"}...], "output": "..."}.
As a module: Oracle(docker_binary).run(argv_without_docker) -> (requests, output).
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import socketserver
import subprocess
import sys
import tempfile
import threading
import urllib.parse

PING_HEADERS = {"Api-Version": "1.41", "OSType": "linux", "Docker-Experimental": "false",
                "Content-Type": "text/plain; charset=utf-8"}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class Oracle:
    """A fake engine on a unix socket and the docker CLI pointed at it."""

    def __init__(self, docker: str):
        self.docker = docker
        self.scratch = tempfile.mkdtemp(prefix="console-oracle-")
        os.makedirs(os.path.join(self.scratch, "home"), exist_ok=True)
        self.socket = os.path.join(self.scratch, "engine.sock")
        self.requests: list[dict] = []
        self.env = {"PATH": "/usr/bin:/bin", "HOME": os.path.join(self.scratch, "home"), "LANG": "C",
                    "DOCKER_HOST": "unix://" + self.socket}
        self.lock = threading.Lock()
        oracle = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def address_string(self):
                return "oracle"

            def _answer(self, code: int, body: bytes, headers: dict | None = None):
                self.send_response(code)
                for key, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                if path.endswith("/_ping"):
                    return self._answer(200, b"OK", PING_HEADERS)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with oracle.lock:
                    oracle.requests.append({"method": self.command, "path": self.path, "body": body})
                parts = path.split("/")
                if self.command == "GET" and len(parts) == 4 and parts[2] == "networks":
                    # service create resolves each network name to its ID first: the name is the ID here
                    name = urllib.parse.unquote(parts[3])
                    return self._answer(200, json.dumps({"Name": name, "Id": name, "Scope": "swarm"}).encode())
                self._answer(500, json.dumps({"message": "console-oracle: recorded"}).encode())

            do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = _handle

        self.server = _Server(self.socket, Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def run(self, args: list[str], timeout: float = 20) -> tuple[list[dict], str]:
        """(requests the CLI made, its output) for `docker ARGS`."""
        with self.lock:
            self.requests = []
        proc = subprocess.run([self.docker, *args], env=self.env, cwd=self.scratch, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        with self.lock:
            return list(self.requests), proc.stdout.decode("utf-8", "replace")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docker", required=True, help="a docker 20.10 CLI binary")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the docker command line after 'docker'")
    args = parser.parse_args(argv)
    oracle = Oracle(args.docker)
    try:
        requests, output = oracle.run(args.args)
    finally:
        oracle.close()
    json.dump({"requests": requests, "output": output}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
