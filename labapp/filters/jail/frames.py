"""How the app and a sandbox child talk: JSON values in frames, each after its length as a
4-byte big-endian number."""
from __future__ import annotations

import json
import socket
import struct

_FRAME = struct.Struct(">I")
_MAX_FRAME = 16 << 20


def send(sock: socket.socket, obj) -> None:
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    sock.sendall(_FRAME.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(size - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket):
    (size,) = _FRAME.unpack(_recv_exact(sock, _FRAME.size))
    if size > _MAX_FRAME:
        raise ValueError("frame too large")
    return json.loads(_recv_exact(sock, size).decode("utf-8", "surrogatepass"))
