"""A docker SDK client for the engine inside a node, tunnelled through the host engine.

A node's dockerd listens on its unix socket only. To read its state with the docker SDK,
each HTTP connection is an exec of `docker system dial-stdio` in the node: the request
bytes go to the exec's stdin, the response comes back in the exec's stdout frames. It
works wherever the host engine is (local socket or DOCKER_HOST), and opens no port.
Only requests' and urllib3's documented extension points are used here (the shape they
must keep is checked by dockerwire.shape_problems()).
"""
from __future__ import annotations

import io
import threading

import docker
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool
from urllib3.util.wait import wait_for_read

from .execstream import STDERR, STDOUT, FrameDecoder, start_exec

NODE_API_VERSION = "1.41"  # the node image's engine (Debian's docker.io 20.10)


class DialStdioSocket:
    """A socket-like pipe to a node's engine: sendall() writes the exec's stdin raw; reads
    return the stdout payload of its multiplexed frames."""

    def __init__(self, host_api: docker.APIClient, container: str):
        exec_id = host_api.exec_create(container, ["docker", "system", "dial-stdio"],
                                       stdin=True, stdout=True, stderr=True)["Id"]
        self._response, self._reader, self._sock = start_exec(host_api, exec_id)
        self._frames = FrameDecoder()
        self._pending = bytearray()
        self.stderr = bytearray()
        self.closed = False
        self._lock = threading.Lock()

    def sendall(self, data: bytes) -> None:
        self._sock.sendall(data)

    def settimeout(self, timeout) -> None:
        self._sock.settimeout(timeout)

    def read_some(self, size: int) -> bytes:
        """Up to SIZE bytes of the engine's answer; b'' at its end."""
        with self._lock:
            while not self._pending:
                data = self._reader.read1(65536)
                if not data:
                    self.closed = True
                    return b""
                for stream, payload in self._frames.feed(data):
                    if stream == STDOUT:
                        self._pending += payload
                    elif stream == STDERR:
                        self.stderr += payload
            out = bytes(self._pending[:size])
            del self._pending[:size]
            return out

    def dropped(self) -> bool:
        """Between requests: has the tunnel ended (the exec gone, the engine's end closed)?
        As urllib3 asks of an idle socket: anything to read now means it has (EOF or bytes
        nobody asked for)."""
        if self.closed or self._pending:
            return True
        return wait_for_read(self._sock, timeout=0.0)

    def makefile(self, mode="rb", buffering=None, **_kwargs):
        return io.BufferedReader(_RawReader(self))

    def close(self) -> None:
        self.closed = True
        self._response.close()


class _RawReader(io.RawIOBase):
    def __init__(self, sock: DialStdioSocket):
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._sock.read_some(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _NodeConnection(urllib3.connection.HTTPConnection):
    """An HTTP connection whose socket is a DialStdioSocket into the node's engine."""

    def __init__(self, host, port=None, *, host_api, container, **kwargs):
        super().__init__(host, port, **kwargs)
        self._host_api = host_api
        self._container = container

    def connect(self):
        self.sock = DialStdioSocket(self._host_api, self._container)

    @property
    def is_connected(self) -> bool:
        # urllib3 polls the socket's fd here; the tunnel knows from its own stream instead.
        return self.sock is not None and not self.sock.dropped()


class _NodePool(urllib3.connectionpool.HTTPConnectionPool):
    """urllib3 makes each new connection as ConnectionCls(host, port, timeout, **conn_kw)."""

    ConnectionCls = _NodeConnection


class _NodeAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, host_api, container, timeout):
        self._pool = _NodePool("localhost", timeout=timeout, maxsize=4, host_api=host_api, container=container)
        super().__init__()

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        return self._pool

    def request_url(self, request, proxies):
        return request.path_url

    def close(self):
        self._pool.close()


def node_client(host: docker.DockerClient, container: str, timeout: float = 30) -> docker.DockerClient:
    """A DockerClient whose requests reach the engine inside CONTAINER (a node)."""
    client = docker.DockerClient(base_url="unix:///labapp-node.sock", version=NODE_API_VERSION,
                                 timeout=timeout)
    client.api.mount("http+docker://", _NodeAdapter(host.api, container, timeout))
    return client
