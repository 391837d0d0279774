"""Docker's multiplexed exec stream, decoded: frames apart by stream, UTF-8 decoded incrementally."""
from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass

from .dockerwire import start_hijacked

STDOUT, STDERR = 1, 2
_NAMES = {STDOUT: "stdout", STDERR: "stderr"}
_HEADER = struct.Struct(">BxxxL")


@dataclass(frozen=True)
class Chunk:
    """A piece of a command's output, as text, with the stream it came on."""

    stream: str  # "stdout" or "stderr"
    text: str


class FrameDecoder:
    """Splits the bytes of a non-TTY exec stream into (stream, payload) frames.

    Each frame is an 8-byte header (stream id, three zero bytes, big-endian size) and its
    payload. Bytes may arrive cut anywhere; whole frames come out, in order.
    """

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add DATA; return every frame now complete."""
        self._buffer += data
        frames = []
        while len(self._buffer) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            frames.append((stream, bytes(self._buffer[_HEADER.size:end])))
            del self._buffer[:end]
        return frames

    @property
    def pending(self) -> int:
        """How many bytes wait for the rest of their frame."""
        return len(self._buffer)


class OutputDecoder:
    """Turns raw exec output into Chunks of text, one UTF-8 decoder per stream.

    A character whose bytes are split across frames (or across reads) is held back until
    its last byte arrives, so Korean text is never garbled or dropped. With tty=True the
    bytes are the terminal's, not framed, and all of it is stdout.
    """

    def __init__(self, tty: bool = False):
        self._tty = tty
        self._frames = FrameDecoder()
        self._text = {
            STDOUT: codecs.getincrementaldecoder("utf-8")(errors="replace"),
            STDERR: codecs.getincrementaldecoder("utf-8")(errors="replace"),
        }

    def feed(self, data: bytes) -> list[Chunk]:
        """Decode DATA; return the chunks of text it completes."""
        frames = [(STDOUT, data)] if self._tty else self._frames.feed(data)
        chunks: list[Chunk] = []
        for stream, payload in frames:
            decoder = self._text.get(stream)
            if decoder is None:  # stdin echo or an unknown stream id: not output
                continue
            text = decoder.decode(payload)
            if text:
                _append(chunks, Chunk(_NAMES[stream], text))
        return chunks

    def close(self) -> list[Chunk]:
        """Flush what is held back at the end of the stream (a cut-off character becomes U+FFFD)."""
        chunks: list[Chunk] = []
        for stream, decoder in self._text.items():
            text = decoder.decode(b"", final=True)
            if text:
                chunks.append(Chunk(_NAMES[stream], text))
        return chunks


def _append(chunks: list[Chunk], chunk: Chunk) -> None:
    """Add CHUNK, merged into the last one when they share a stream."""
    if chunks and chunks[-1].stream == chunk.stream:
        chunks[-1] = Chunk(chunk.stream, chunks[-1].text + chunk.text)
    else:
        chunks.append(chunk)


def start_exec(api, exec_id: str, tty: bool = False):
    """Start exec EXEC_ID hijacked, as `docker exec` does; return (response, reader, sock).

    The reader is the connection's buffered reader, not its raw socket: bytes that arrived
    with the HTTP headers wait there. The socket (for writing stdin) reads without a
    timeout: a command may run for minutes, and the caller's own deadline decides when
    it ends, not docker-py's 60 s socket timeout. (How, and why not docker-py's
    exec_start(socket=True): dockerwire.py.)
    """
    return start_hijacked(api, f"/exec/{exec_id}/start", {"Tty": tty, "Detach": False})


def frame(stream: int, payload: bytes) -> bytes:
    """Encode one frame as the engine sends it (used by tests and benchmarks)."""
    return _HEADER.pack(stream, len(payload)) + payload
