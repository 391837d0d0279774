"""head and tail: the first or last N lines or bytes of the piped output (head, and tail -n +N,
stream; tail -n N holds the last N), options as GNU coreutils reads them."""
from __future__ import annotations

import codecs
import collections
import re
from typing import Sequence

from ..i18n import N_, msg
from .base import MAX_INPUT, MIB, Filter, bytes_slice, utf8_len
from .options import HELP, ZERO, Lines, Opt, file_operand, getopt, gnu_count, refused

_HEAD_ALLOWED = N_("-n N (-n -N: all but the last N), -c N, -NUM, -q, -v")
_HEAD_TABLE = (
    Opt("n", "n", ["lines"], 1), Opt("c", "c", ["bytes"], 1),
    Opt("q", "q", ["quiet", "silent"]), Opt("v", "v", ["verbose"]), ZERO, *HELP,
)
_TAIL_ALLOWED = N_("-n N, -n +N (from line N on), -c N, -c +N, -NUM, -q, -v")
_FOLLOW = N_("follows a file as it grows; here tail reads the piped output once "
             "(use docker logs -f or docker service logs -f to follow)")
_TAIL_TABLE = (
    Opt("n", "n", ["lines"], 1), Opt("c", "c", ["bytes"], 1),
    Opt("q", "q", ["quiet", "silent"]), Opt("v", "v", ["verbose"]),
    Opt("f", "f", ["follow"], 2, refused=_FOLLOW), Opt("F", "F", [], refused=_FOLLOW),
    Opt("retry", None, ["retry"], refused=_FOLLOW), Opt("pid", None, ["pid"], 1, refused=_FOLLOW),
    Opt("s", "s", ["sleep-interval"], 1, refused=_FOLLOW),
    Opt("mus", None, ["max-unchanged-stats"], 1, refused=_FOLLOW), ZERO, *HELP,
)


class _End(Filter):
    """What head and tail share: the lines, what they hold back, the ==> header <== (-v)."""

    def __init__(self, header: bool):
        super().__init__()
        self.header = header
        self.lines = Lines(self)
        self.held: collections.deque = collections.deque()   # lines, or byte chunks (-c)
        self.held_size = 0

    def _start(self) -> str:
        if self.header:
            self.header = False
            return "==> standard input <==\n"
        return ""


class Head(_End):
    """head: the first N lines or bytes (or all but the last N), streaming."""

    name = "head"

    def __init__(self, count: int, bytes_mode: bool, all_but: bool, header: bool):
        super().__init__(header)
        self.count, self.bytes_mode, self.all_but = count, bytes_mode, all_but
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.seen = 0
        if count == 0 and not all_but:
            self.done = True

    def _feed(self, text: str) -> str:
        out = self._start()
        if self.bytes_mode:
            return out + self._feed_bytes(text)
        if self.all_but:
            for line in self.lines.split(text):
                self._hold(line + "\n")
            return out + self._release()
        parts = []
        for line in self.lines.split(text):
            parts.append(line + "\n")
            self.seen += 1
            if self.seen >= self.count:
                self.done = True
                break
        return out + "".join(parts)

    def _feed_bytes(self, text: str) -> str:
        if self.all_but:
            # head -c -N: everything but the last N bytes may go out
            data = text.encode("utf-8", "surrogatepass")
            self.held.append(data)
            self.held_size += len(data)
            out = []
            while self.held and self.held_size - len(self.held[0]) >= self.count:
                chunk = self.held.popleft()
                self.held_size -= len(chunk)
                out.append(chunk)
            if self.held and self.held_size > self.count:
                extra = self.held_size - self.count
                out.append(self.held[0][:extra])
                self.held[0] = self.held[0][extra:]
                self.held_size = self.count
            self._bound()
            return self.decoder.decode(b"".join(out))
        size = utf8_len(text)
        if self.seen + size < self.count:
            self.seen += size
            return text
        out = bytes_slice(text, 0, self.count - self.seen)
        self.seen = self.count
        self.done = True
        return out

    def _hold(self, line: str) -> None:
        self.held.append(line)
        self.held_size += utf8_len(line)

    def _release(self) -> str:
        """head -n -N: everything but the last N lines may go out."""
        out = []
        while len(self.held) > self.count:
            line = self.held.popleft()
            self.held_size -= utf8_len(line)
            out.append(line)
        self._bound()
        return "".join(out)

    def _bound(self) -> None:
        """What head -n -N / -c -N holds back stays within MAX_INPUT (the oldest is dropped)."""
        while self.held_size > MAX_INPUT and self.held:
            piece = self.held.popleft()
            self.held_size -= len(piece) if isinstance(piece, bytes) else utf8_len(piece)
            self.note(msg("held back only {size} of its input; the output lacks what was dropped", size=MIB))

    def _close(self) -> str:
        out = self._start()
        if self.bytes_mode:
            return out + (self.decoder.decode(b"", final=True) if self.all_but else "")
        rest = self.lines.rest()
        if rest is not None and not self.done:
            if self.all_but:
                self._hold(rest)
                out += self._release()
            elif self.seen < self.count:
                out += rest
        self.held.clear()
        return out


class Tail(_End):
    """tail: the last N lines or bytes (buffered), or everything from line/byte N on (streamed)."""

    name = "tail"
    streaming = False

    def __init__(self, count: int, bytes_mode: bool, from_start: bool, header: bool):
        super().__init__(header)
        self.count, self.bytes_mode, self.from_start = count, bytes_mode, from_start
        self.skipped = 0

    def _feed(self, text: str) -> str:
        out = self._start()
        if self.from_start:
            return out + self._skip(text)
        if self.bytes_mode:
            data = text.encode("utf-8", "surrogatepass")
            self.held.append(data)
            self.held_size += len(data)
            keep = min(self.count, MAX_INPUT)
            while self.held and self.held_size - len(self.held[0]) >= keep:
                self.held_size -= len(self.held.popleft())
            if self.held_size > MAX_INPUT:
                self._kept_only()
                first = self.held[0]
                self.held[0] = first[self.held_size - MAX_INPUT:]
                self.held_size = MAX_INPUT
        else:
            for line in self.lines.split(text):
                self._keep(line + "\n")
        return out

    def _skip(self, text: str) -> str:
        """tail -n +N / -c +N: drop the first N-1 lines or bytes, stream the rest."""
        skip = max(self.count - 1, 0)
        if self.bytes_mode:
            if self.skipped >= skip:
                return text
            size = utf8_len(text)
            if self.skipped + size <= skip:
                self.skipped += size
                return ""
            out = bytes_slice(text, skip - self.skipped)
            self.skipped = skip
            return out
        out = []
        for line in self.lines.split(text):
            if self.skipped < skip:
                self.skipped += 1
            else:
                out.append(line + "\n")
        return "".join(out)

    def _keep(self, piece: str) -> None:
        self.held.append(piece)
        self.held_size += utf8_len(piece)
        while len(self.held) > self.count:
            self.held_size -= utf8_len(self.held.popleft())
        while self.held_size > MAX_INPUT and len(self.held) > 1:
            self.held_size -= utf8_len(self.held.popleft())
            self._kept_only()

    def _kept_only(self) -> None:
        self.note(msg("kept only the last {size} of its input", size=MIB))

    def _close(self) -> str:
        out = self._start()
        rest = self.lines.rest()
        if self.from_start:
            if rest is not None:
                out += self._skip(rest) if self.bytes_mode else (
                    rest if self.skipped >= max(self.count - 1, 0) else "")
            return out
        if self.bytes_mode:
            data = b"".join(self.held)
            self.held.clear()
            if not self.count:
                return out
            return out + data[max(len(data) - self.count, 0):].decode("utf-8", "replace")
        if rest is not None:
            self._keep(rest)
        if self.count == 0:
            return out
        text = "".join(self.held)
        self.held.clear()
        return out + text


def _options(prog: str, args: Sequence[str], table, allowed: str, count: int, bytes_mode: bool,
             sign_means: str) -> tuple[int, bool, bool, bool]:
    """head's or tail's options after COUNT and BYTES_MODE (10 lines, or what -NUM said):
    (count, bytes_mode, whether the count had the sign SIGN_MEANS, header)."""
    opts, operands = getopt(prog, args, table, allowed)
    if operands:
        raise file_operand(prog, operands[0], allowed)
    header = signed = False
    for key, value, _ in opts:
        if key in ("n", "c"):
            n, sign = gnu_count(prog, "lines" if key == "n" else "bytes", value)
            count, bytes_mode, signed = n, key == "c", sign == sign_means
        elif key == "v":
            header = True
        elif key == "q":
            header = False
    return count, bytes_mode, signed, header


def parse_head(args: Sequence[str]) -> Filter:
    args = list(args)
    count, bytes_mode = 10, False
    if args and re.fullmatch(r"-\d+[bkm]?[cl]?[qv]*", args[0]):
        m = re.fullmatch(r"-(\d+)([bkm]?)([cl]?)([qv]*)", args[0])
        num, mult, unit, flags = m.groups()
        count = int(num[:40]) * {"": 1, "b": 512, "k": 1024, "m": 1 << 20}[mult]
        bytes_mode = unit == "c"
        args[0:1] = ["-" + f for f in flags]
    allowed = msg(_HEAD_ALLOWED)
    count, bytes_mode, all_but, header = _options("head", args, _HEAD_TABLE, allowed, count, bytes_mode, "-")
    return Head(count, bytes_mode, all_but, header)


def parse_tail(args: Sequence[str]) -> Filter:
    args = list(args)
    allowed = msg(_TAIL_ALLOWED)
    rest = args[1:]
    obsolete = re.fullmatch(r"-\d+[bcl]?f?|\+\d*[bcl]?f?", args[0]) if args else None
    if obsolete and (not rest or rest == ["--"]):
        m = re.fullmatch(r"([-+])(\d*)([bcl]?)(f?)", args[0])
        sign, num, unit, follow = m.groups()
        if follow:
            raise refused("tail", args[0], _FOLLOW, allowed)
        count = int(num[:40]) if num else 10
        if unit == "b":
            count *= 512
        return Tail(count, unit in ("b", "c"), sign == "+", False)
    count, bytes_mode, from_start, header = _options("tail", args, _TAIL_TABLE, allowed, 10, False, "+")
    return Tail(count, bytes_mode, from_start, header)
