"""Console filters that the app runs itself: grep, head, tail, wc, sort, cut and jq.

The docker command runs on a node as an argv list; its output comes back here and goes
through the filters of the console line. No node program ever sees learner text as a
filter, and no filter can read or write a file, run a program, read the app's environment,
or hang the server:

- Options are parsed like the real programs parse them (GNU getopt_long for the coreutils
  and grep, jq's own rules for jq) against an ALLOW-LIST; anything else, and any operand
  that would be a file, is a FilterError whose message says what is allowed.
- head, tail, wc and cut are linear Python over str, in the server.
- grep's regular expressions, sort and jq run in a sandbox: a fork server started once per
  app process (empty environment, empty working directory, user nobody when the app is
  root) that forks one child per job; the child sets RLIMIT_CPU/AS/NPROC/NOFILE/FSIZE, a
  wall-clock alarm and a seccomp allow-list of system calls (x86_64), then computes. A job
  that runs too long or needs too much memory dies alone and the learner is told why.
- jq programs also pass a lexer that follows jq's grammar and allows only pure builtins,
  names the program defines, and $variables it binds or gets with --arg/--argjson.
- A filter never outputs more than MAX_OUTPUT nor buffers more than MAX_INPUT; it says so
  in a note ("(sort: output cut at 1 MiB)") that goes to the learner, not down the pipe.

Filter.feed(text) returns the output available so far, Filter.close() the rest (and, for a
filter used alone, its notes); Pipeline(filters) does both through every filter in order.
This file is also the sandbox's program (python filters.py --sandbox-server JQDIR), so it
imports only the standard library at module level.
"""
from __future__ import annotations

import atexit
import bisect
import codecs
import collections
import contextlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from decimal import Decimal
from typing import Sequence

NAMES = ("jq", "grep", "head", "tail", "wc", "sort", "cut")

MAX_OUTPUT = 1 << 20   # bytes a filter may output
MAX_INPUT = 1 << 20    # bytes a buffering filter (sort, tail, jq) may hold
MAX_LINE = 1 << 20     # characters of one line a streaming filter may hold
_MIB = "1 MiB"

JQ_SECONDS = 3.0       # wall clock and CPU of one jq run
JQ_MEMORY = 384 << 20  # address space of one sandbox child
GREP_SECONDS = 3.0     # one grep batch
GREP_BUDGET = 10.0     # all batches of one grep filter
SORT_SECONDS = 5.0


class FilterError(ValueError):
    """A filter line the console refuses, with the reason."""


# ---------------------------------------------------------------------------------------
# Filter, Pipeline

class Filter:
    """One program of a console pipe. feed() returns the output so far, close() the rest."""

    name = ""
    streaming = True

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.done = False        # no further input can change the output
        self.status = 0          # the exit status the real program would have (after close)
        self._closed = False
        self._out_bytes = 0

    @property
    def exit_code(self) -> int:
        return self.status

    def feed(self, text: str) -> str:
        """The output that TEXT makes available now."""
        if self.done or self._closed or not text:
            return ""
        return self._cap(self._feed(text))

    def close(self, with_notes: bool = True) -> str:
        """The rest of the output, then (unless WITH_NOTES is false) this filter's notes, which
        a shell would print on stderr: jq's errors, a stopped or cut filter."""
        text = self._finish()
        return _with_notes(text, self.notes) if with_notes else text

    def _finish(self) -> str:
        if self._closed:
            return ""
        self._closed = True
        return self._cap(self._close())

    def _feed(self, text: str) -> str:
        raise NotImplementedError

    def _close(self) -> str:
        raise NotImplementedError

    def note(self, text: str) -> None:
        line = f"({self.name}: {text})"
        if line not in self.notes:
            self.notes.append(line)

    def _cap(self, text: str) -> str:
        """TEXT, cut so that this filter's output stays within MAX_OUTPUT bytes."""
        if not text:
            return ""
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        if self._out_bytes + size <= MAX_OUTPUT:
            self._out_bytes += size
            return text
        room = MAX_OUTPUT - self._out_bytes
        cut = text.encode("utf-8", "surrogatepass")[:max(room, 0)].decode("utf-8", "ignore")
        newline = cut.rfind("\n")
        cut = cut[:newline + 1] if newline >= 0 else cut
        self._out_bytes = MAX_OUTPUT
        self.done = True
        self.note(f"output cut at {_MIB}")
        return cut


class Pipeline:
    """Filters in order: a later filter gets what the earlier one produced."""

    def __init__(self, filters: Sequence[Filter]):
        self.filters = list(filters)
        self._closed = False

    @property
    def done(self) -> bool:
        """True when more input cannot change the output (e.g. head has its lines)."""
        return any(f.done for f in self.filters)

    @property
    def notes(self) -> list[str]:
        """What the filters would print on stderr (one line each)."""
        return [n for f in self.filters for n in f.notes]

    @property
    def exit_code(self) -> int:
        """The status of the last filter, as a shell pipeline's status is its last command's."""
        return self.filters[-1].exit_code if self.filters else 0

    def feed(self, text: str) -> str:
        if self._closed or self.done:
            return ""
        for f in self.filters:
            if not text:
                return ""
            text = f.feed(text)
        return text

    def close(self, with_notes: bool = True) -> str:
        """The rest of the output, then (unless WITH_NOTES is false) every filter's notes."""
        if self._closed:
            return ""
        self._closed = True
        done = [i for i, f in enumerate(self.filters) if f.done]
        start = done[-1] if done else 0   # what a finished filter would ignore is not computed
        text = ""
        for i, f in enumerate(self.filters[start:], start):
            text = (f.feed(text) if text and i > start else "") + f._finish()
        return _with_notes(text, self.notes) if with_notes else text


def _with_notes(text: str, notes: list[str]) -> str:
    """TEXT, then NOTES on lines of their own."""
    if not notes:
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    return text + "".join(n + "\n" for n in notes)


# ---------------------------------------------------------------------------------------
# Option parsing like GNU getopt_long (permuting, abbreviations, clusters, --)

class _Opt:
    __slots__ = ("key", "short", "longs", "arg", "refused")

    def __init__(self, key, short=None, longs=(), arg=0, refused=None):
        self.key, self.short, self.longs, self.arg, self.refused = key, short, tuple(longs), arg, refused


def _getopt(prog: str, args: Sequence[str], table: Sequence[_Opt], allowed: str,
            digits: bool = False) -> tuple[list[tuple[str, str | None, str]], list[str]]:
    """Parse ARGS like getopt_long: ([(key, value, as typed)], operands). DIGITS: -NUM options."""
    shorts = {o.short: o for o in table if o.short}
    longs = {name: o for o in table for name in o.longs}
    opts, operands = [], []
    i = 0

    def fail(what: str) -> FilterError:
        return FilterError(f"{prog} {what} (allowed options: {allowed})")

    def take(o: _Opt, spelled: str, value: str | None) -> None:
        if o.refused:
            raise fail(f"{spelled} {o.refused}")
        opts.append((o.key, value, spelled))

    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            operands.extend(args[i:])
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name in longs:
                o = longs[name]
            else:
                hits = {id(longs[n]): longs[n] for n in longs if n.startswith(name)} if name else {}
                if not hits:
                    raise fail(f"has no option --{name} here")
                if len(hits) > 1:
                    names = sorted("--" + n for n in longs if n.startswith(name))
                    raise fail(f"--{name} is ambiguous ({', '.join(names)})")
                o = next(iter(hits.values()))
            spelled = "--" + (o.longs[0] if o.longs else name)
            if o.arg == 0 and eq:
                raise fail(f"{spelled} takes no value")
            if o.arg == 1 and not eq:
                if i >= len(args):
                    raise fail(f"{spelled} needs a value")
                value = args[i]
                i += 1
            take(o, spelled, value if (eq or o.arg == 1) else None)
            continue
        if arg.startswith("-") and arg != "-":
            j = 1
            number = ""
            while j < len(arg):
                c = arg[j]
                j += 1
                if digits and c.isdigit():
                    number += c
                    if j == len(arg) or not arg[j].isdigit():
                        opts.append(("NUM", number, "-" + number))
                        number = ""
                    continue
                o = shorts.get(c)
                if o is None:
                    raise fail(f"has no option -{c} here")
                if o.arg == 1:
                    value = arg[j:]
                    if not value:
                        if i >= len(args):
                            raise fail(f"-{c} needs a value")
                        value = args[i]
                        i += 1
                    take(o, "-" + c, value)
                    break
                take(o, "-" + c, None)
            continue
        operands.append(arg)
    return opts, operands


_SIZE_POWER = {"k": 1, "K": 1, "m": 2, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6, "Z": 7, "Y": 8,
               "R": 9, "Q": 10}


def _gnu_count(prog: str, what: str, value: str) -> tuple[int, str]:
    """A coreutils count ('10', '+3', '-2', '1K', '2kB', '1MiB', '3b') -> (number, sign)."""
    m = re.fullmatch(r"([+-]?)(\d+)(?:(b)|([kKmMGTPEZYRQ])(iB|B)?)?", value.lstrip(" \t"))
    if not m:
        raise FilterError(f"{prog}: invalid number of {what}: {value!r} (a whole number, "
                          "optionally with a suffix like K, M, kB)")
    sign, digits, blocks, letter, unit = m.groups()
    n = int(digits[:40])  # a count past 10**40 is as good as infinite here
    if blocks:
        n *= 512
    elif letter:
        n *= (1000 if unit == "B" else 1024) ** _SIZE_POWER[letter]
    return n, sign


# ---------------------------------------------------------------------------------------
# Line-oriented helpers

class _Lines:
    """Splits fed text into complete lines; the last partial line waits for close().

    A line longer than MAX_LINE is cut there (with a note) and the rest of it is dropped."""

    def __init__(self, owner: Filter):
        self.owner = owner
        self.parts: list[str] = []     # the partial line, in pieces (no quadratic joining)
        self.size = 0
        self.dropping = False          # inside a line already cut at MAX_LINE

    def split(self, text: str) -> list[str]:
        if "\n" not in text:
            self._add(text)
            return []
        lines = text.split("\n")
        last = lines.pop()
        if self.dropping:
            lines[0] = ""
            self.dropping = False
            first = self._take()
            lines[0] = first
        else:
            self._add(lines[0])
            lines[0] = self._take()
        self._add(last)
        return lines

    def _add(self, piece: str) -> None:
        if self.dropping or not piece:
            return
        if self.size + len(piece) > MAX_LINE:
            piece = piece[:MAX_LINE - self.size]
            self.owner.note(f"a line longer than {_MIB} characters was cut there")
            self.dropping = True
        self.parts.append(piece)
        self.size += len(piece)

    def _take(self) -> str:
        line = "".join(self.parts)
        self.parts, self.size = [], 0
        return line

    def rest(self) -> str | None:
        self.dropping = False
        rest = self._take()
        return rest if rest else None


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _bytes_slice(text: str, start: int, stop: int | None = None) -> str:
    """TEXT[start:stop] in UTF-8 bytes; a split character shows as U+FFFD, as a terminal would."""
    if text.isascii():
        return text[start:stop]
    return text.encode("utf-8", "surrogatepass")[start:stop].decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------
# head

_HEAD_ALLOWED = "-n N (-n -N: all but the last N), -c N, -NUM, -q, -v"
_HEAD_TABLE = (
    _Opt("n", "n", ["lines"], 1), _Opt("c", "c", ["bytes"], 1),
    _Opt("q", "q", ["quiet", "silent"]), _Opt("v", "v", ["verbose"]),
    _Opt("z", "z", ["zero-terminated"], refused="splits on NUL bytes, which console output has not"),
    _Opt("help", None, ["help"], refused="is not available in the console"),
    _Opt("version", None, ["version"], refused="is not available in the console"),
)


class Head(Filter):
    """head: the first N lines or bytes (or all but the last N), streaming."""

    name = "head"

    def __init__(self, count: int, bytes_mode: bool, all_but: bool, header: bool):
        super().__init__()
        self.count, self.bytes_mode, self.all_but = count, bytes_mode, all_but
        self.header = header
        self.lines = _Lines(self)
        self.held: collections.deque = collections.deque()   # lines (-n -N) or byte chunks (-c -N)
        self.held_size = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.seen = 0
        if count == 0 and not all_but:
            self.done = True

    def _start(self) -> str:
        if self.header:
            self.header = False
            return "==> standard input <==\n"
        return ""

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
        size = _utf8_len(text)
        if self.seen + size < self.count:
            self.seen += size
            return text
        out = _bytes_slice(text, 0, self.count - self.seen)
        self.seen = self.count
        self.done = True
        return out

    def _hold(self, line: str) -> None:
        self.held.append(line)
        self.held_size += _utf8_len(line)

    def _release(self) -> str:
        """head -n -N: everything but the last N lines may go out."""
        out = []
        while len(self.held) > self.count:
            line = self.held.popleft()
            self.held_size -= _utf8_len(line)
            out.append(line)
        self._bound()
        return "".join(out)

    def _bound(self) -> None:
        """What head -n -N / -c -N holds back stays within MAX_INPUT (the oldest is dropped)."""
        while self.held_size > MAX_INPUT and self.held:
            piece = self.held.popleft()
            self.held_size -= len(piece) if isinstance(piece, bytes) else _utf8_len(piece)
            self.note(f"held back only {_MIB} of its input; the output lacks what was dropped")

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


def _parse_head(args: Sequence[str]) -> Filter:
    args = list(args)
    count, bytes_mode, all_but = 10, False, False
    if args and re.fullmatch(r"-\d+[bkm]?[cl]?[qv]*", args[0]):
        m = re.fullmatch(r"-(\d+)([bkm]?)([cl]?)([qv]*)", args[0])
        num, mult, unit, flags = m.groups()
        count = int(num[:40]) * {"": 1, "b": 512, "k": 1024, "m": 1 << 20}[mult]
        bytes_mode = unit == "c"
        args[0:1] = ["-" + f for f in flags]
    opts, operands = _getopt("head", args, _HEAD_TABLE, _HEAD_ALLOWED)
    if operands:
        raise FilterError(f"head reads only the piped output: {operands[0]!r} would be a file "
                          f"(allowed options: {_HEAD_ALLOWED})")
    header = False
    for key, value, _ in opts:
        if key in ("n", "c"):
            n, sign = _gnu_count("head", "lines" if key == "n" else "bytes", value)
            count, bytes_mode, all_but = n, key == "c", sign == "-"
        elif key == "v":
            header = True
        elif key == "q":
            header = False
    return Head(count, bytes_mode, all_but, header)


# ---------------------------------------------------------------------------------------
# tail

_TAIL_ALLOWED = "-n N, -n +N (from line N on), -c N, -c +N, -NUM, -q, -v"
_FOLLOW = "follows a file as it grows; here tail reads the piped output once " \
          "(use docker logs -f or docker service logs -f to follow)"
_TAIL_TABLE = (
    _Opt("n", "n", ["lines"], 1), _Opt("c", "c", ["bytes"], 1),
    _Opt("q", "q", ["quiet", "silent"]), _Opt("v", "v", ["verbose"]),
    _Opt("f", "f", ["follow"], 2, refused=_FOLLOW), _Opt("F", "F", [], refused=_FOLLOW),
    _Opt("retry", None, ["retry"], refused=_FOLLOW), _Opt("pid", None, ["pid"], 1, refused=_FOLLOW),
    _Opt("s", "s", ["sleep-interval"], 1, refused=_FOLLOW),
    _Opt("mus", None, ["max-unchanged-stats"], 1, refused=_FOLLOW),
    _Opt("z", "z", ["zero-terminated"], refused="splits on NUL bytes, which console output has not"),
    _Opt("help", None, ["help"], refused="is not available in the console"),
    _Opt("version", None, ["version"], refused="is not available in the console"),
)


class Tail(Filter):
    """tail: the last N lines or bytes (buffered), or everything from line/byte N on (streamed)."""

    name = "tail"
    streaming = False

    def __init__(self, count: int, bytes_mode: bool, from_start: bool, header: bool):
        super().__init__()
        self.count, self.bytes_mode, self.from_start, self.header = count, bytes_mode, from_start, header
        self.lines = _Lines(self)
        self.held: collections.deque = collections.deque()   # lines, or byte chunks for -c
        self.held_size = 0
        self.skipped = 0

    def _start(self) -> str:
        if self.header:
            self.header = False
            return "==> standard input <==\n"
        return ""

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
                self.note(f"kept only the last {_MIB} of its input")
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
            size = _utf8_len(text)
            if self.skipped + size <= skip:
                self.skipped += size
                return ""
            out = _bytes_slice(text, skip - self.skipped)
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
        self.held_size += _utf8_len(piece)
        while len(self.held) > self.count:
            self.held_size -= _utf8_len(self.held.popleft())
        while self.held_size > MAX_INPUT and len(self.held) > 1:
            self.held_size -= _utf8_len(self.held.popleft())
            self.note(f"kept only the last {_MIB} of its input")

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


def _parse_tail(args: Sequence[str]) -> Filter:
    args = list(args)
    count, bytes_mode, from_start = 10, False, False
    rest = args[1:]
    obsolete = re.fullmatch(r"-\d+[bcl]?f?|\+\d*[bcl]?f?", args[0]) if args else None
    if obsolete and (not rest or rest == ["--"]):
        m = re.fullmatch(r"([-+])(\d*)([bcl]?)(f?)", args[0])
        sign, num, unit, follow = m.groups()
        if follow:
            raise FilterError(f"tail {args[0]} {_FOLLOW} (allowed options: {_TAIL_ALLOWED})")
        count = int(num[:40]) if num else 10
        if unit == "b":
            count *= 512
        bytes_mode = unit in ("b", "c")
        from_start = sign == "+"
        return Tail(count, bytes_mode, from_start, False)
    opts, operands = _getopt("tail", args, _TAIL_TABLE, _TAIL_ALLOWED)
    if operands:
        raise FilterError(f"tail reads only the piped output: {operands[0]!r} would be a file "
                          f"(allowed options: {_TAIL_ALLOWED})")
    header = False
    for key, value, _ in opts:
        if key in ("n", "c"):
            n, sign = _gnu_count("tail", "lines" if key == "n" else "bytes", value)
            count, bytes_mode, from_start = n, key == "c", sign == "+"
        elif key == "v":
            header = True
        elif key == "q":
            header = False
    return Tail(count, bytes_mode, from_start, header)


# ---------------------------------------------------------------------------------------
# wc

_WC_ALLOWED = "-l -w -c -m -L"
_WC_TABLE = (
    _Opt("c", "c", ["bytes"]), _Opt("m", "m", ["chars"]), _Opt("l", "l", ["lines"]),
    _Opt("w", "w", ["words"]), _Opt("L", "L", ["max-line-length"]),
    _Opt("files0", None, ["files0-from"], 1, refused="reads file names from a file; wc counts the piped output only"),
    _Opt("total", None, ["total"], 1, refused="is about several files; wc counts the piped output only"),
    _Opt("help", None, ["help"], refused="is not available in the console"),
    _Opt("version", None, ["version"], refused="is not available in the console"),
)
# What GNU wc 9.1 (C.UTF-8) takes for a word separator, measured.
_WC_SEP = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u202f\u205f\u2060\u3000"
_WC_RUN = re.compile(f"[^{_WC_SEP}]+")
_WC_SEPSET = frozenset("\t\n\v\f\r \u00a0\u1680\u202f\u205f\u2060\u3000") | frozenset(map(chr, range(0x2000, 0x200b)))
_NONPRINT_CATEGORIES = ("Cc", "Cs", "Cn", "Zl", "Zp")
_PLAIN_ASCII = re.compile(r"[\n\x20-\x7e]*")


def _printable_run(run: str) -> bool:
    """Whether a run of non-separators holds a printable character (only those make a word)."""
    if run.isprintable():
        return True
    return any(unicodedata.category(c) not in _NONPRINT_CATEGORIES for c in run)


def _wcwidth(ch: str) -> int:
    """Display width of a printable character, like glibc's wcwidth."""
    if ch == "\u00ad":
        return 1
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Me", "Cf") or "\u1160" <= ch <= "\u11ff":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class Wc(Filter):
    """wc: lines, words, characters, bytes, longest line; formatted like GNU wc on stdin."""

    name = "wc"
    streaming = False

    def __init__(self, fields: list[str]):
        super().__init__()
        self.fields = fields
        self.lines = self.words = self.chars = self.nbytes = 0
        self.in_run = False
        self.run_printable = False
        self.linepos = self.maxlen = 0

    def _feed(self, text: str) -> str:
        self.lines += text.count("\n")
        self.chars += len(text)
        self.nbytes += _utf8_len(text)
        if "w" in self.fields:
            self._count_words(text)
        if "L" in self.fields:
            self._measure(text)
        return ""

    def _end_run(self) -> None:
        if self.in_run and self.run_printable:
            self.words += 1
        self.in_run = self.run_printable = False

    def _count_words(self, text: str) -> None:
        """Words are runs between separators that hold a printable character (GNU wc)."""
        runs = _WC_RUN.findall(text)
        if not runs:
            self._end_run()
            return
        flags = [r.isprintable() or _printable_run(r) for r in runs]
        if self.in_run and text[0] not in _WC_SEPSET:     # the first run goes on from the last chunk
            first = flags.pop(0)
            self.run_printable = self.run_printable or first
            if not flags and text[-1] not in _WC_SEPSET:
                return
        self._end_run()
        if flags and text[-1] not in _WC_SEPSET:          # the last run may go on in the next chunk
            self.in_run, self.run_printable = True, flags.pop()
        self.words += sum(flags)

    def _measure(self, text: str) -> None:
        if text.isascii() and _PLAIN_ASCII.fullmatch(text):
            segments = text.split("\n")
            if len(segments) > 1:
                self.maxlen = max(self.maxlen, self.linepos + len(segments[0]), *map(len, segments[1:-1]))
                self.linepos = 0
            self.linepos += len(segments[-1])
            return
        pos, longest = self.linepos, self.maxlen
        for ch in text:
            if ch in "\n\r\f":
                longest = max(longest, pos)
                pos = 0
            elif ch == "\t":
                pos += 8 - pos % 8
            elif ch < " " or "\x7f" <= ch < "\xa0":
                continue
            elif ch.isascii():
                pos += 1
            elif unicodedata.category(ch) not in _NONPRINT_CATEGORIES:
                pos += _wcwidth(ch)
        self.linepos, self.maxlen = pos, longest

    def _close(self) -> str:
        self._end_run()
        longest = max(self.maxlen, self.linepos)
        values = {"l": self.lines, "w": self.words, "m": self.chars, "c": self.nbytes, "L": longest}
        numbers = [str(values[f]) for f in "lwmcL" if f in self.fields]
        if len(numbers) == 1:
            return numbers[0] + "\n"
        return " ".join(n.rjust(7) for n in numbers) + "\n"


def _parse_wc(args: Sequence[str]) -> Filter:
    opts, operands = _getopt("wc", args, _WC_TABLE, _WC_ALLOWED)
    if operands:
        raise FilterError(f"wc counts only the piped output: {operands[0]!r} would be a file "
                          f"(allowed options: {_WC_ALLOWED})")
    fields = [key for key, _, _ in opts] or ["l", "w", "c"]
    return Wc(fields)


# ---------------------------------------------------------------------------------------
# cut

_CUT_ALLOWED = "-f LIST, -d DELIM, -s, -c LIST, -b LIST, --complement, --output-delimiter=STRING"
_CUT_TABLE = (
    _Opt("b", "b", ["bytes"], 1), _Opt("c", "c", ["characters"], 1), _Opt("f", "f", ["fields"], 1),
    _Opt("d", "d", ["delimiter"], 1), _Opt("n", "n", []), _Opt("s", "s", ["only-delimited"]),
    _Opt("complement", None, ["complement"]), _Opt("outdelim", None, ["output-delimiter"], 1),
    _Opt("z", "z", ["zero-terminated"], refused="splits on NUL bytes, which console output has not"),
    _Opt("help", None, ["help"], refused="is not available in the console"),
    _Opt("version", None, ["version"], refused="is not available in the console"),
)


def _cut_list(spec: str, what: str) -> list[tuple[int, int | None]]:
    """A cut LIST ('1,3-5,7-', '-2') -> merged (low, high or None) ranges, 1-based."""
    unit = "fields are" if what == "f" else "byte/character positions are"
    ranges = []
    for item in re.split(r"[,\s]", spec):
        m = re.fullmatch(r"(\d*)(-?)(\d*)", item)
        if not m or item == "":
            raise FilterError(f"cut: {unit} numbered from 1, as in 1,3-5,7- (got {spec!r})")
        lo, dash, hi = m.groups()
        if dash and not lo and not hi:
            raise FilterError(f"cut: the range '-' has no end in {spec!r}; write N-M, N- or -M")
        low = int(lo[:18]) if lo else 1
        high = (int(hi[:18]) if hi else None) if dash else low
        if low == 0 or high == 0:
            raise FilterError(f"cut: {unit} numbered from 1 (got {spec!r})")
        if high is not None and high < low:
            raise FilterError(f"cut: {item!r} is a decreasing range; write the smaller number first")
        ranges.append((low, high))
    ranges.sort(key=lambda r: r[0])
    merged: list[list] = []
    for low, high in ranges:
        if merged and (merged[-1][1] is None or merged[-1][1] >= low):
            if merged[-1][1] is not None and (high is None or high > merged[-1][1]):
                merged[-1][1] = high
        else:
            merged.append([low, high])
    return [(lo, hi) for lo, hi in merged]


def _complement(ranges: list[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    out, nxt = [], 1
    for low, high in ranges:
        if low > nxt:
            out.append((nxt, low - 1))
        if high is None:
            return out
        nxt = max(nxt, high + 1)
    out.append((nxt, None))
    return out


class Cut(Filter):
    """cut: fields (-f), characters (-c) or bytes (-b) of every line, streaming."""

    name = "cut"

    def __init__(self, mode: str, ranges, delim: str, only_delimited: bool, out_delim: str | None):
        super().__init__()
        self.mode, self.ranges, self.delim = mode, ranges, delim
        self.only_delimited = only_delimited
        self.out_delim = out_delim
        self.lines = _Lines(self)

    def _select(self, items: Sequence, join: str) -> str:
        pieces = []
        n = len(items)
        for low, high in self.ranges:
            if low > n:
                break
            pieces.append(items[low - 1:high])
        if self.mode == "f":
            return join.join(x for piece in pieces for x in piece)
        return join.join("".join(piece) if isinstance(piece, list) else piece for piece in pieces)

    def _line(self, line: str) -> str | None:
        if self.mode == "f":
            if self.delim not in line:
                return None if self.only_delimited else line
            fields = line.split(self.delim)
            return self._select(fields, self.delim if self.out_delim is None else self.out_delim)
        join = "" if self.out_delim is None else self.out_delim
        if self.mode == "c" or line.isascii():
            return self._select(line, join)
        data = line.encode("utf-8", "surrogatepass")
        pieces = []
        for low, high in self.ranges:
            if low > len(data):
                break
            pieces.append(data[low - 1:high].decode("utf-8", "replace"))
        return join.join(pieces)

    def _feed(self, text: str) -> str:
        out = []
        for line in self.lines.split(text):
            got = self._line(line)
            if got is not None:
                out.append(got + "\n")
        return "".join(out)

    def _close(self) -> str:
        rest = self.lines.rest()
        if rest is None:
            return ""
        got = self._line(rest)
        return "" if got is None else got + "\n"


def _parse_cut(args: Sequence[str]) -> Filter:
    opts, operands = _getopt("cut", args, _CUT_TABLE, _CUT_ALLOWED)
    if operands:
        raise FilterError(f"cut reads only the piped output: {operands[0]!r} would be a file "
                          f"(allowed options: {_CUT_ALLOWED})")
    mode = spec = None
    delim, only, complement, out_delim = None, False, False, None
    for key, value, _ in opts:
        if key in ("b", "c", "f"):
            if mode is not None:
                raise FilterError("cut takes one list: -f, -c or -b, not two "
                                  f"(allowed options: {_CUT_ALLOWED})")
            mode, spec = key, value
        elif key == "d":
            if len(value) > 1:
                raise FilterError(f"cut -d takes a single character, not {value!r}")
            delim = value or "\0"
        elif key == "s":
            only = True
        elif key == "complement":
            complement = True
        elif key == "outdelim":
            out_delim = value
    if mode is None:
        raise FilterError(f"cut needs a list: -f LIST (fields), -c LIST (characters) or -b LIST "
                          f"(bytes) (allowed options: {_CUT_ALLOWED})")
    if delim is not None and mode != "f":
        raise FilterError("cut -d is for fields: use it with -f LIST")
    if only and mode != "f":
        raise FilterError("cut -s is for fields: use it with -f LIST")
    ranges = _cut_list(spec, mode)
    if complement:
        ranges = _complement(ranges)
    return Cut(mode, ranges, "\t" if delim is None else delim, only, out_delim)


# ---------------------------------------------------------------------------------------
# grep: POSIX BRE/ERE (GNU flavour) translated to Python re; matching in the sandbox

_GREP_ALLOWED = ("-i -v -c -n -w -x -E -F -G -o -q -s -h -a -e PATTERN -m N -A/-B/-C N -NUM "
                 "--color=never --group-separator=SEP --no-group-separator")
_FILES = "reads files; here grep reads only the piped output"
_GREP_TABLE = (
    _Opt("i", "i", ["ignore-case"]), _Opt("noi", None, ["no-ignore-case"]), _Opt("i", "y", []),
    _Opt("v", "v", ["invert-match"]), _Opt("c", "c", ["count"]), _Opt("n", "n", ["line-number"]),
    _Opt("w", "w", ["word-regexp"]), _Opt("x", "x", ["line-regexp"]),
    _Opt("E", "E", ["extended-regexp"]), _Opt("F", "F", ["fixed-strings"]), _Opt("G", "G", ["basic-regexp"]),
    _Opt("o", "o", ["only-matching"]), _Opt("q", "q", ["quiet", "silent"]),
    _Opt("s", "s", ["no-messages"]), _Opt("h", "h", ["no-filename"]), _Opt("a", "a", ["text"]),
    _Opt("e", "e", ["regexp"], 1), _Opt("m", "m", ["max-count"], 1),
    _Opt("A", "A", ["after-context"], 1), _Opt("B", "B", ["before-context"], 1), _Opt("C", "C", ["context"], 1),
    _Opt("color", None, ["color", "colour"], 2),
    _Opt("gsep", None, ["group-separator"], 1), _Opt("nogsep", None, ["no-group-separator"]),
    _Opt("line-buffered", None, ["line-buffered"]),
    _Opt("f", "f", ["file"], 1, refused="reads patterns from a file; give the pattern itself (-e PATTERN)"),
    _Opt("r", "r", ["recursive"], refused=_FILES), _Opt("R", "R", ["dereference-recursive"], refused=_FILES),
    _Opt("d", "d", ["directories"], 1, refused=_FILES), _Opt("D", "D", ["devices"], 1, refused=_FILES),
    _Opt("include", None, ["include"], 1, refused=_FILES), _Opt("exclude", None, ["exclude"], 1, refused=_FILES),
    _Opt("exclude-from", None, ["exclude-from"], 1, refused=_FILES),
    _Opt("exclude-dir", None, ["exclude-dir"], 1, refused=_FILES),
    _Opt("l", "l", ["files-with-matches"], refused="names files; here grep reads only the piped output"),
    _Opt("L", "L", ["files-without-match"], refused="names files; here grep reads only the piped output"),
    _Opt("H", "H", ["with-filename"], refused="names files; here grep reads only the piped output"),
    _Opt("label", None, ["label"], 1, refused="names files; here grep reads only the piped output"),
    _Opt("P", "P", ["perl-regexp"], refused="(Perl regular expressions) is not available; use -E"),
    _Opt("b", "b", ["byte-offset"], refused="is not available in the console"),
    _Opt("u", "u", ["unix-byte-offsets"], refused="is not available in the console"),
    _Opt("T", "T", ["initial-tab"], refused="is not available in the console"),
    _Opt("U", "U", ["binary"], refused="is not available in the console"),
    _Opt("z", "z", ["null-data"], refused="splits on NUL bytes, which console output has not"),
    _Opt("Z", "Z", ["null"], refused="is not available in the console"),
    _Opt("binary-files", None, ["binary-files"], 1, refused="is not available in the console"),
    _Opt("V", "V", ["version"], refused="is not available in the console"),
    _Opt("help", None, ["help"], refused="is not available in the console"),
)
_RE_DUP_MAX = 32767
_CLASS_NAMES = ("alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct",
                "print", "graph", "cntrl", "xdigit")
_class_cache: dict[str, str] = {}


def _set_escape(ch: str) -> str:
    return "\\" + ch if ch in "\\]^-[&~|" else ch


def _ranges_to_set(pred) -> str:
    """A Python character set of every code point (below U+30000, and no newline) PRED accepts."""
    parts, start, prev = [], None, None
    for cp in range(0x30000):
        if cp == 10 or 0xD800 <= cp < 0xE000 or not pred(chr(cp)):
            continue
        if prev is not None and cp == prev + 1:
            prev = cp
            continue
        if start is not None:
            parts.append((start, prev))
        start = prev = cp
    if start is not None:
        parts.append((start, prev))
    text = "".join(_set_escape(chr(a)) if a == b else f"{_set_escape(chr(a))}-{_set_escape(chr(b))}"
                   for a, b in parts)
    return f"[{text}]"


def _posix_class(name: str) -> str:
    """Python re for a POSIX bracket class in a UTF-8 locale (never matching a newline)."""
    if name in _class_cache:
        return _class_cache[name]
    cntrl = "\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029"
    fixed = {
        "digit": "[0-9]", "xdigit": "[0-9A-Fa-f]", "blank": "[ \t\u1680\u2000-\u2006\u2008-\u200a\u205f\u3000]",
        "space": "[ \t\v\f\r\u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f\u3000]",
        "cntrl": f"[{cntrl}]", "alpha": r"[^\W\d_]", "alnum": r"[^\W_]",
        "print": f"[^{cntrl}\n]", "graph": f"(?![ \t\v\f\r\u1680\u2000-\u200a\u205f\u3000])[^{cntrl}\n]",
    }
    if name in fixed:
        out = fixed[name]
    elif name == "upper":
        out = _ranges_to_set(str.isupper)
    elif name == "lower":
        out = _ranges_to_set(str.islower)
    else:  # punct: graphic characters that are not letters or digits
        out = _ranges_to_set(lambda c: unicodedata.category(c)[0] in "PS" or c == "_")
    _class_cache[name] = out
    return out


def _bracket(p: str, i: int) -> tuple[str, int]:
    """Parse the POSIX bracket expression at p[i] == '['; return (Python re, index after it)."""
    j = i + 1
    negate = j < len(p) and p[j] == "^"
    if negate:
        j += 1
    chars: list[str] = []
    classes: list[str] = []
    first = True
    while True:
        if j >= len(p):
            raise FilterError("grep: a bracket expression '[' is never closed with ']'")
        c = p[j]
        if c == "]" and not first:
            j += 1
            break
        first = False
        start_char = None
        if c == "[" and j + 1 < len(p) and p[j + 1] in ":.=":
            kind = p[j + 1]
            end = p.find(kind + "]", j + 2)
            if end < 0:
                raise FilterError("grep: a bracket expression '[' is never closed with ']'")
            name = p[j + 2:end]
            j = end + 2
            if kind == ":":
                if name not in _CLASS_NAMES:
                    raise FilterError(f"grep: [:{name}:] is not a character class; the classes are "
                                      + " ".join(f"[:{n}:]" for n in _CLASS_NAMES))
                classes.append(_posix_class(name))
                continue
            if len(name) != 1:
                raise FilterError(f"grep: [{kind}{name}{kind}] names more than one character")
            start_char = name
        else:
            start_char = c
            j += 1
        if j + 1 < len(p) and p[j] == "-" and p[j + 1] != "]":
            end_char = p[j + 1]
            j += 2
            if end_char == "[" and j < len(p) and p[j] in ".=":
                kind = p[j]
                end = p.find(kind + "]", j + 1)
                if end < 0 or end - j - 1 != 1:
                    raise FilterError("grep: a range in a bracket expression is malformed")
                end_char = p[j + 1]
                j = end + 2
            if ord(end_char) < ord(start_char):
                raise FilterError(f"grep: the range {start_char}-{end_char} goes backwards")
            chars.append(f"{_set_escape(start_char)}-{_set_escape(end_char)}")
        else:
            chars.append(_set_escape(start_char))
    if negate:
        if classes:
            positive = "|".join(([f"[{''.join(chars)}]"] if chars else []) + classes)
            return f"(?:(?!{positive})[^\n])", j
        return f"[^{''.join(chars)}\n]", j
    if not classes:
        return f"[{''.join(chars)}]", j
    return "(?:" + "|".join(([f"[{''.join(chars)}]"] if chars else []) + classes) + ")", j


_GNU_ESCAPES = {
    "w": r"\w", "W": r"[^\w\n]", "s": r"[^\S\n]", "S": r"\S",
}
_GNU_ASSERTIONS = {
    "b": r"\b", "B": r"\B", "<": r"\b(?=\w)", ">": r"\b(?<=\w)", "`": "^", "'": "(?!.)",
}


def _translate(p: str, extended: bool, group_offset: int) -> tuple[str, int, bool]:
    """One POSIX pattern (GNU grep flavour) -> (Python re, groups it opens, may vary in length)."""
    out: list[str] = []
    atom: int | None = None          # index in out where the last repeatable item starts
    after_quantifier = False
    groups_open: list[int] = []
    groups_closed = 0
    groups_total = 0
    varies = False
    at_start = True                  # start of the pattern, of a group or of an alternative
    i, n = 0, len(p)

    def add_atom(text: str) -> None:
        nonlocal atom, after_quantifier, at_start
        atom = len(out)
        out.append(text)
        after_quantifier = at_start = False

    def add_assertion(text: str) -> None:
        nonlocal atom, after_quantifier, at_start
        out.append(text)
        atom = None
        after_quantifier = False

    def quantify(q: str, shown: str) -> None:
        nonlocal after_quantifier, varies, atom
        if atom is None:
            raise FilterError(f"grep: {shown!r} has nothing before it to repeat; "
                              f"write \\{shown[-1] if shown[-1] != '}' else '{'} for the character itself")
        if after_quantifier:
            out[atom:] = ["(?:" + "".join(out[atom:]) + ")"]
        out.append(q)
        after_quantifier = True
        varies = True

    def interval(j: int, closing: str) -> tuple[str, int] | None:
        m = re.compile(r"(\d*)(,?)(\d*)" + re.escape(closing)).match(p, j)
        if not m:
            return None
        lo, comma, hi = m.groups()
        if not lo and not comma:
            raise FilterError("grep: an interval {} needs a count, as in {2} or {1,3}")
        low = int(lo[:6]) if lo else 0
        high = (int(hi[:6]) if hi else None) if comma else low
        if (high if high is not None else low) > _RE_DUP_MAX or low > _RE_DUP_MAX:
            raise FilterError(f"grep: a repeat count above {_RE_DUP_MAX} is too big")
        if high is not None and high < low:
            raise FilterError(f"grep: the interval {{{lo},{hi}}} counts backwards")
        q = "{%d}" % low if not comma else ("{%d,}" % low if high is None else "{%d,%d}" % (low, high))
        return q, m.end()

    while i < n:
        c = p[i]
        if c == "\\":
            if i + 1 >= n:
                raise FilterError("grep: the pattern ends with a lone backslash")
            d = p[i + 1]
            i += 2
            if d in "123456789":
                ref = int(d)
                if ref > groups_closed:
                    raise FilterError(f"grep: \\{d} refers to a group that is not closed before it")
                add_atom(f"(?:\\{ref + group_offset})")
                varies = True
            elif d in _GNU_ESCAPES:
                add_atom(_GNU_ESCAPES[d])
            elif d in _GNU_ASSERTIONS:
                add_assertion(_GNU_ASSERTIONS[d])
            elif not extended and d == "(":
                groups_open.append(len(out))
                groups_total += 1
                out.append("(")
                atom, after_quantifier, at_start = None, False, True
            elif not extended and d == ")":
                if not groups_open:
                    raise FilterError("grep: \\) has no \\( before it")
                atom = groups_open.pop()
                out.append(")")
                groups_closed += 1
                after_quantifier = at_start = False
            elif not extended and d == "|":
                out.append("|")
                atom, after_quantifier, at_start = None, False, True
                varies = True
            elif not extended and d in "+?":
                quantify(d, "\\" + d)
            elif not extended and d == "{":
                got = interval(i, "\\}")
                if got is None:
                    raise FilterError("grep: \\{ is not closed by a valid \\}")
                if atom is None:
                    raise FilterError("grep: \\{...\\} has nothing before it to repeat")
                quantify(got[0], "\\{")
                i = got[1]
            elif not extended and d == "}":
                add_atom(r"\}")
            elif d.isalnum() or d == "_" or ord(d) > 127:
                hint = " (use [0-9] for a digit)" if d in "dD" else ""
                raise FilterError(f"grep: \\{d} is not a grep escape{hint}; the escapes are "
                                  r"\w \W \s \S \b \B \< \> and \ before a special character")
            else:
                add_atom(re.escape(d))
        elif c == "[":
            text, i = _bracket(p, i)
            add_atom(text)
        elif c == ".":
            add_atom(".")
            i += 1
        elif c == "^":
            i += 1
            if extended or at_start:
                add_assertion("^")
            else:
                add_atom(r"\^")
        elif c == "$":
            i += 1
            if extended or i == n or p.startswith("\\)", i) or p.startswith("\\|", i):
                add_assertion("(?!.)")
            else:
                add_atom(r"\$")
        elif c == "*":
            i += 1
            if atom is None and not extended and (at_start or not out or out[-1] == "^"):
                add_atom(r"\*")
            else:
                quantify("*", "*")
        elif extended and c in "+?":
            i += 1
            quantify(c, c)
        elif extended and c == "{":
            got = interval(i + 1, "}")
            if got is None:
                add_atom(r"\{")
                i += 1
            else:
                quantify(got[0], "{")
                i = got[1]
        elif extended and c == "(":
            groups_open.append(len(out))
            groups_total += 1
            out.append("(")
            atom, after_quantifier, at_start = None, False, True
            i += 1
        elif extended and c == ")" and groups_open:
            atom = groups_open.pop()
            out.append(")")
            groups_closed += 1
            after_quantifier = at_start = False
            i += 1
        elif extended and c == "|":
            out.append("|")
            atom, after_quantifier, at_start = None, False, True
            varies = True
            i += 1
        else:
            add_atom(re.escape(c))
            i += 1
    if groups_open:
        raise FilterError("grep: a group '(' is never closed")
    return "".join(out), groups_total, varies


def _grep_regex(patterns: list[str], kind: str, word: bool, line: bool) -> tuple[str, str, bool]:
    """All of grep's patterns as one Python re source (with -w/-x applied), the same without
    -w/-x, and whether match lengths can vary."""
    parts, groups, varies = [], 0, False
    for pat in patterns:
        if kind == "F":
            parts.append(re.escape(pat))
            continue
        src, opened, var = _translate(pat, kind == "E", groups)
        parts.append(src)
        groups += opened
        varies = varies or var
    varies = varies or len(set(map(len, patterns))) > 1 or (kind != "F" and len(patterns) > 1)
    body = "|".join(f"(?:{s})" for s in parts)
    if line:
        return f"^(?:{body})(?!.)", body, varies
    if word:
        return rf"(?<!\w)(?:{body})(?!\w)", body, varies
    return body, body, varies


class Grep(Filter):
    """grep: lines that match (or not), with context, counts and -o; matching in the sandbox."""

    name = "grep"

    def __init__(self, regex: str, flags: int, varies: bool, opts: dict):
        super().__init__()
        self.regex, self.flags, self.varies = regex, flags, varies
        self.invert = opts["invert"]
        self.count_only = opts["count"]
        self.quiet = opts["quiet"]
        self.numbers = opts["numbers"]
        self.only = opts["only"]
        self.max_count = opts["max_count"]
        self.before, self.after = opts["before"], opts["after"]
        self.context = opts["context_given"]
        self.group_sep = opts["group_sep"]
        self.plain, self.word = opts.get("plain", regex), opts.get("word", False)
        self.lines = _Lines(self)
        self.lineno = 0
        self.count = 0
        self.last_out: int | None = None  # number of the last line output (or virtually output)
        self.held: collections.deque[tuple[int, str]] = collections.deque(maxlen=max(self.before, 0) or 1)
        self.after_left = 0
        self.stopped = False           # -m reached: only trailing context remains
        self.session: _Session | None = None
        self.failed = False
        if self.max_count == 0:
            self.done = True

    @property
    def exit_code(self) -> int:
        """0 when a line was selected, 1 when none was, 2 when grep could not finish."""
        if self.failed:
            return 2
        return 0 if self.count else 1

    def _matches(self, lines: list[str]):
        """For each line, None (no match) or its -o spans, from this filter's sandbox child."""
        if not lines:
            return []
        if self.session is None:
            self.session = _Session({"op": "grep-session", "regex": self.regex, "flags": self.flags,
                                     "only": self.only and not self.invert, "varies": self.varies,
                                     "plain": self.plain, "word": self.word},
                                    GREP_SECONDS, GREP_BUDGET)
        try:
            got = self.session.call({"lines": lines})
        except _JobFailed as exc:
            raise _JobFailed(f"{exc} (grep may use {GREP_SECONDS:g} s on one piece of output and "
                             f"{GREP_BUDGET:g} s in all)") from None
        hits, spans = got.get("hits"), got.get("spans") or {}
        result: list = [None] * len(lines)
        try:   # the reply comes from a process that runs learner input: check its shape
            for index in hits:
                found = spans.get(str(index), [])
                result[index] = [(int(a), int(b)) for a, b in found]
                if not 0 <= index < len(lines):
                    raise IndexError(index)
        except (TypeError, ValueError, IndexError, AttributeError):
            raise _JobFailed("stopped: the sandbox replied nonsense") from None
        return result

    def _emit(self, no: int, line: str, mark: str, spans=None) -> list[str]:
        self.last_out = no
        if self.count_only or self.quiet:
            return []
        prefix = f"{no}{mark}" if self.numbers else ""
        if self.only:
            if mark != ":" or spans is None:
                return []
            return [f"{prefix}{line[s:e]}\n" for s, e in spans]
        return [f"{prefix}{line}\n"]

    def _separator(self, first: int) -> list[str]:
        if (self.context and self.last_out is not None and first > self.last_out + 1
                and self.group_sep is not None and not (self.count_only or self.quiet)):
            return [self.group_sep + "\n"]
        return []

    def _run(self, lines: list[str]) -> str:
        if self.done:
            return ""
        try:
            found = self._matches(lines) if not self.stopped else [None] * len(lines)
        except _JobFailed as exc:
            self.note(str(exc))
            self.done = True
            self.failed = True
            if self.session is not None:
                self.session.close()
            return ""
        out: list[str] = []
        for line, spans in zip(lines, found):
            self.lineno += 1
            no = self.lineno
            if self.stopped:
                out += self._emit(no, line, "-")
                self.after_left -= 1
                if self.after_left <= 0:
                    self.done = True
                    break
                continue
            selected = (spans is not None) != self.invert
            if selected:
                self.count += 1
                first = self.held[0][0] if self.before > 0 and self.held else no
                out += self._separator(first)
                if self.before > 0:
                    for hno, hline in self.held:
                        out += self._emit(hno, hline, "-")
                    self.held.clear()
                out += self._emit(no, line, ":", spans)
                self.after_left = self.after
                if self.quiet or (self.max_count is not None and self.count >= self.max_count):
                    self.stopped = True
                    if self.after_left <= 0 or self.quiet or self.count_only:
                        self.done = True
                        break
            elif self.after_left > 0:
                out += self._emit(no, line, "-")
                self.after_left -= 1
            elif self.before > 0:
                self.held.append((no, line))
        return "".join(out)

    def _feed(self, text: str) -> str:
        return self._run(self.lines.split(text))

    def _close(self) -> str:
        rest = self.lines.rest()
        out = self._run([rest]) if rest is not None else ""
        if self.session is not None:
            self.session.close()
        if self.count_only and not self.quiet and self.max_count != 0:
            out += f"{self.count}\n"
        return out


def _context_number(value: str, spelled: str) -> int:
    if not re.fullmatch(r"\d+", value or ""):
        raise FilterError(f"grep {spelled} takes a number of lines, not {value!r}")
    return int(value[:9])


def _parse_grep(args: Sequence[str]) -> Filter:
    opts, operands = _getopt("grep", args, _GREP_TABLE, _GREP_ALLOWED, digits=True)
    patterns: list[str] | None = None
    kind = None
    flags = dict(invert=False, count=False, quiet=False, numbers=False, only=False, max_count=None,
                 before=-1, after=-1, context_given=False, group_sep="--")
    ignore = word = line = False
    default_context = -1
    for key, value, spelled in opts:
        if key in ("E", "F", "G"):
            if kind is not None and kind != key:
                raise FilterError("grep takes one kind of pattern: -E (extended), -F (fixed strings) "
                                  "or -G (basic), not two")
            kind = key
        elif key == "e":
            patterns = (patterns or []) + value.split("\n")
        elif key == "i":
            ignore = True
        elif key == "noi":
            ignore = False
        elif key == "w":
            word = True
        elif key == "x":
            line = True
        elif key in ("v", "c", "n", "o", "q"):
            flags[{"v": "invert", "c": "count", "n": "numbers", "o": "only", "q": "quiet"}[key]] = True
        elif key == "m":
            if not re.fullmatch(r"-?\d+", value):
                raise FilterError(f"grep -m takes a number of matches, not {value!r}")
            number = int(value[:12])
            flags["max_count"] = None if number < 0 else number
        elif key in ("A", "B"):
            flags["after" if key == "A" else "before"] = _context_number(value, spelled)
        elif key in ("C", "NUM"):
            default_context = _context_number(value, spelled)
        elif key == "color":
            if value not in (None, "never", "auto", "none", "tty", "if-tty", "no"):
                raise FilterError("grep --color=always is not available: the console shows plain text "
                                  "(--color=never and --color=auto are accepted)")
        elif key == "gsep":
            flags["group_sep"] = value
        elif key == "nogsep":
            flags["group_sep"] = None
    if patterns is None:
        if not operands:
            raise FilterError(f"grep needs a pattern, as in grep Running (allowed options: {_GREP_ALLOWED})")
        patterns = operands[0].split("\n")
        operands = operands[1:]
    if operands:
        raise FilterError(f"grep reads only the piped output: give it a pattern, not a file "
                          f"({operands[0]!r}) (allowed options: {_GREP_ALLOWED})")
    if flags["after"] < 0:
        flags["after"] = default_context
    if flags["before"] < 0:
        flags["before"] = default_context
    flags["context_given"] = flags["after"] >= 0 or flags["before"] >= 0
    flags["after"], flags["before"] = max(flags["after"], 0), max(flags["before"], 0)
    regex, plain, varies = _grep_regex(patterns, kind or "G", word, line)
    re_flags = re.IGNORECASE if ignore else 0
    if len(regex) > 200_000:
        raise FilterError("grep: the pattern is too large")
    try:
        re.compile(regex, re_flags)
    except (re.error, RecursionError, OverflowError) as exc:
        raise FilterError(f"grep cannot use this pattern: {exc}") from None
    flags["plain"] = plain
    flags["word"] = word and not line
    return Grep(regex, re_flags, varies, flags)


def _grep_job(job: dict, rx: re.Pattern | None = None) -> dict:
    """Sandbox side of grep: which lines match, and the -o spans as GNU grep finds them."""
    rx = rx or re.compile(job["regex"], job["flags"])
    lines = job["lines"]
    if not job["only"]:
        return {"hits": [i for i, line in enumerate(lines) if rx.search(line)]}
    word = job.get("word", False)
    plain = re.compile(job["plain"], job["flags"]) if word else rx
    finder = _Longest(job["plain"] if word else job["regex"], job["flags"], job["varies"])
    hits, spans = [], {}
    for index, line in enumerate(lines):
        if not rx.search(line):
            continue
        hits.append(index)
        found, pos = [], 0
        while pos <= len(line):
            got = _word_match(plain, finder, line, pos) if word else _match(rx, finder, line, pos)
            if got is None:
                break
            start, end = got
            if end > start:
                found.append((start, end))
                pos = end
            else:
                pos = start + 1
        spans[str(index)] = found
    return {"hits": hits, "spans": spans}


def _match(rx: re.Pattern, finder: "_Longest", line: str, pos: int) -> tuple[int, int] | None:
    """The leftmost-longest match at or after POS."""
    m = rx.search(line, pos)
    if m is None:
        return None
    return m.start(), finder.end(line, m.start(), m.end())


def _word_match(plain: re.Pattern, finder: "_Longest", line: str, pos: int) -> tuple[int, int] | None:
    """grep -o -w as GNU grep 3 does it: the leftmost-longest match; while it is not a whole word,
    a shorter match at the same start, else the next match one character on. GNU measures the
    shorter text in bytes from the search start POS, not from the line start, so after the
    first match of a line it often finds none: this follows it, bytes included."""
    m = plain.search(line, pos)
    if m is None:
        return None
    offsets = None if line.isascii() else _byte_offsets(line)
    start = m.start()
    end = finder.end(line, start, m.end())
    while True:
        if ((start == 0 or not _wordchar(line[start - 1]))
                and (end == len(line) or not _wordchar(line[end]))):
            return start, end
        shorter = 0
        if end > start:
            if offsets is None:
                limit = end - 1 - pos
            else:    # the character boundary at or before byte end - 1 - pos
                limit = bisect.bisect_right(offsets, offsets[end] - 1 - offsets[pos]) - 1
            if limit >= start:
                shorter = finder.within(plain, line, start, limit) - start
        if shorter > 0:
            end = start + shorter
            continue
        if start >= len(line):
            return None
        m = plain.search(line, start + 1)
        if m is None:
            return None
        start = m.start()
        end = finder.end(line, start, m.end())


def _byte_offsets(line: str) -> list[int]:
    """The UTF-8 byte offset of every character of LINE, and of its end."""
    offsets = [0]
    for ch in line:
        offsets.append(offsets[-1] + (1 if ch < "\x80" else len(ch.encode("utf-8", "surrogatepass"))))
    return offsets


def _wordchar(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class _Longest:
    """Ends of POSIX leftmost-longest matches, from Python's leftmost-first ones.

    For a pattern whose matches can vary in length, LONGER is the pattern followed by a
    lookahead that holds when what the match leaves of the text is a suffix of the text
    after a newline; matching it against TEXT + newline + TEXT[e:] tells whether a match
    ends at e or later, so a binary search finds the longest. It looks at a window of the
    line: one character before the start (for lookbehinds), the longest text the pattern can
    match, and one character after (for $ and word ends)."""

    def __init__(self, regex: str, flags: int, varies: bool):
        self.longer = None
        self.width = 0
        if varies:
            self.longer = re.compile(f"(?:{regex})(?=(?P<_rest>[^\n]*)\n[^\n]*(?P=_rest)\\Z)", flags)
            self.width = _max_width(regex, flags)

    def end(self, line: str, start: int, end: int, limit: int | None = None) -> int:
        """The end of the longest match at START, at least END (a match's end), within LIMIT."""
        if self.longer is None:
            return end
        stop = len(line) if limit is None else limit
        low_cut = max(start - 1, 0)
        window = line[low_cut:min(stop, start + self.width + 1)]
        at, end = start - low_cut, end - low_cut
        n = len(window)

        def reaches(e: int) -> bool:  # does a match from AT end at E or later?
            return self.longer.match(window + "\n" + window[e:], at) is not None

        if end >= n or not reaches(end + 1):
            return end + low_cut
        lo, hi = end + 1, n
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if reaches(mid):
                lo = mid
            else:
                hi = mid - 1
        return lo + low_cut

    def within(self, plain: re.Pattern, line: str, start: int, limit: int) -> int:
        """The end of the longest match at START in LINE[:LIMIT] (GNU's re_match), or START."""
        m = plain.match(line, start, limit)
        if m is None:
            return start
        return self.end(line[:limit], start, m.end())


_LONGEST_WINDOW = 16384


def _max_width(regex: str, flags: int) -> int:
    """The longest text REGEX can match, or _LONGEST_WINDOW when it is unbounded or unknown."""
    try:
        from re import _parser
        high = _parser.parse(regex, flags).getwidth()[1]
    except Exception:  # an internal API: without it, fall back to the window
        return _LONGEST_WINDOW
    return min(high, _LONGEST_WINDOW)


class _JobFailed(Exception):
    """A sandbox job that did not finish; the message is for the learner."""


# ---------------------------------------------------------------------------------------
# sort (computed in the sandbox)

_SORT_ALLOWED = "-r -n -h -V -f -b -u -s -k KEYDEF -t SEP"
_SORT_WRITES = "would write a file; filters only read the piped output and print it"
_SORT_TABLE = (
    _Opt("r", "r", ["reverse"]), _Opt("n", "n", ["numeric-sort"]), _Opt("h", "h", ["human-numeric-sort"]),
    _Opt("V", "V", ["version-sort"]), _Opt("f", "f", ["ignore-case"]), _Opt("b", "b", ["ignore-leading-blanks"]),
    _Opt("u", "u", ["unique"]), _Opt("s", "s", ["stable"]), _Opt("k", "k", ["key"], 1),
    _Opt("t", "t", ["field-separator"], 1),
    _Opt("sortname", None, ["sort"], 1),
    _Opt("o", "o", ["output"], 1, refused=_SORT_WRITES),
    _Opt("T", "T", ["temporary-directory"], 1, refused=_SORT_WRITES),
    _Opt("compress", None, ["compress-program"], 1, refused="runs a program; that is not allowed in the console"),
    _Opt("files0", None, ["files0-from"], 1, refused="reads a file; sort reads only the piped output"),
    _Opt("random-source", None, ["random-source"], 1, refused="reads a file; sort reads only the piped output"),
    _Opt("m", "m", ["merge"], refused="merges files; sort reads only the piped output"),
    _Opt("c", "c", ["check"], 2, refused="is not available in the console"),
    _Opt("C", "C", [], refused="is not available in the console"),
    _Opt("S", "S", ["buffer-size"], 1, refused="is not needed: the console sorts in memory"),
    _Opt("parallel", None, ["parallel"], 1, refused="is not needed: the console sorts in memory"),
    _Opt("batch-size", None, ["batch-size"], 1, refused="is not needed: the console sorts in memory"),
    _Opt("g", "g", ["general-numeric-sort"], refused="is not available; use -n"),
    _Opt("M", "M", ["month-sort"], refused="is not available in the console"),
    _Opt("R", "R", ["random-sort"], refused="is not available in the console"),
    _Opt("d", "d", ["dictionary-order"], refused="is not available in the console"),
    _Opt("i", "i", ["ignore-nonprinting"], refused="is not available in the console"),
    _Opt("z", "z", ["zero-terminated"], refused="splits on NUL bytes, which console output has not"),
    _Opt("debug", None, ["debug"], refused="is not available in the console"),
    _Opt("help", None, ["help"], refused="is not available in the console"),
    _Opt("version", None, ["version"], refused="is not available in the console"),
)
_SORT_KEY_LETTERS = "bfnhVr"
_SIZE_MAX = -1


def _sort_key(spec: str) -> dict:
    """-k POS1[,POS2] (F[.C][OPTS]) parsed like GNU sort."""
    bad = f"sort -k {spec!r} is not a key; write FIELD[.CHAR][OPTS][,FIELD[.CHAR][OPTS]], e.g. -k2,2n"
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?([a-zA-Z]*)(?:,(\d+)(?:\.(\d+))?([a-zA-Z]*))?", spec)
    if not m:
        raise FilterError(bad)
    sf, sc, sopts, ef, ec, eopts = m.groups()
    key = {"sword": int(sf[:9]) - 1, "schar": 0, "eword": _SIZE_MAX, "echar": 0,
           "skipsblanks": False, "skipeblanks": False}
    if key["sword"] < 0:
        raise FilterError(f"sort -k {spec!r}: fields are numbered from 1")
    if sc is not None:
        key["schar"] = int(sc[:9]) - 1
        if key["schar"] < 0:
            raise FilterError(f"sort -k {spec!r}: characters are numbered from 1")
    if key["sword"] == 0 and key["schar"] == 0:
        key["sword"] = _SIZE_MAX
    if ef is not None:
        key["eword"] = int(ef[:9]) - 1
        if key["eword"] < 0:
            raise FilterError(f"sort -k {spec!r}: fields are numbered from 1")
        key["echar"] = int(ec[:9]) if ec else 0
    for letters, where in ((sopts, "skipsblanks"), (eopts or "", "skipeblanks")):
        for letter in letters:
            if letter not in _SORT_KEY_LETTERS:
                raise FilterError(f"sort -k {spec!r}: the key option {letter!r} is not available "
                                  f"(key options: {' '.join(_SORT_KEY_LETTERS)})")
            if letter == "b":
                key[where] = True
            else:
                key[letter] = True
    _sort_check_kinds(key, f"-k {spec}")
    return key


def _sort_check_kinds(key: dict, where: str) -> None:
    kinds = [k for k in "nhV" if key.get(k)]
    if len(kinds) > 1:
        raise FilterError(f"sort {where}: -{''.join(kinds)} cannot be combined; choose one of -n -h -V")


def _parse_sort(args: Sequence[str]) -> Filter:
    opts, operands = _getopt("sort", args, _SORT_TABLE, _SORT_ALLOWED)
    if operands:
        raise FilterError(f"sort reads only the piped output: {operands[0]!r} would be a file "
                          f"(allowed options: {_SORT_ALLOWED})")
    glob = {"skipsblanks": False, "skipeblanks": False}
    keys, tab, unique, stable = [], None, False, False
    for key, value, _ in opts:
        if key in ("r", "n", "h", "V", "f"):
            glob[key] = True
        elif key == "sortname":
            names = {"numeric": "n", "human-numeric": "h", "version": "V"}
            if value not in names:
                raise FilterError(f"sort --sort={value} is not available (numeric, human-numeric, version)")
            glob[names[value]] = True
        elif key == "b":
            glob["skipsblanks"] = glob["skipeblanks"] = True
        elif key == "u":
            unique = True
        elif key == "s":
            stable = True
        elif key == "k":
            keys.append(_sort_key(value))
        elif key == "t":
            if value == "\\0":
                value = "\0"
            if len(value) != 1:
                raise FilterError(f"sort -t takes a single character, not {value!r}")
            if tab is not None and tab != value:
                raise FilterError("sort -t was given twice with different separators")
            tab = value
    _sort_check_kinds(glob, "options")
    ordering = ("skipsblanks", "skipeblanks", "f", "n", "h", "V")
    for key in keys:
        if not any(key.get(k) for k in ordering + ("r",)):
            for k in ordering + ("r",):
                key[k] = glob.get(k, False)
    if not keys and any(glob.get(k) for k in ordering):
        keys = [dict(glob, sword=_SIZE_MAX, schar=0, eword=_SIZE_MAX, echar=0)]
    spec = {"keys": keys, "tab": tab, "unique": unique, "stable": stable, "reverse": bool(glob.get("r"))}
    return Sort(spec)


class Sort(Filter):
    """sort: GNU sort's order (C.UTF-8: code point order), computed in the sandbox."""

    name = "sort"
    streaming = False

    def __init__(self, spec: dict):
        super().__init__()
        self.spec = spec
        self.parts: list[str] = []
        self.size = 0

    def _feed(self, text: str) -> str:
        if self.size >= MAX_INPUT:
            return ""
        size = _utf8_len(text)
        if self.size + size > MAX_INPUT:
            text = _bytes_slice(text, 0, MAX_INPUT - self.size)
            text = text[:text.rfind("\n") + 1]
            self.note(f"input cut at {_MIB}")
            size = MAX_INPUT - self.size
        self.parts.append(text)
        self.size += size
        return ""

    def _close(self) -> str:
        text = "".join(self.parts)
        self.parts = []
        if not text:
            return ""
        try:
            got = _sandbox().run({"op": "sort", "spec": self.spec, "text": text}, SORT_SECONDS)
        except _JobFailed as exc:
            self.note(str(exc))
            self.status = 2
            return ""
        if not isinstance(got.get("out"), str):
            self.note("stopped: the sandbox replied nonsense")
            self.status = 2
            return ""
        return got["out"]


_FOLD = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NUM = re.compile(r"[ \t]*(-?)(\d*)(?:\.(\d*))?")
_UNIT_ORDER = {"K": 1, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6, "Z": 7, "Y": 8}


_BLANK_FIELD = re.compile(r"[ \t]*[^ \t]*")   # a field when no -t: its blanks, then the rest
_SKIP_BLANKS = re.compile(r"[ \t]*")


def _begfield(line: str, key: dict, tab: str | None) -> int:
    """Where KEY starts in LINE (GNU sort's begfield)."""
    ptr, lim = 0, len(line)
    if key["sword"] == _SIZE_MAX:
        return _SKIP_BLANKS.match(line).end() if key["skipsblanks"] else 0
    sword = key["sword"]
    while ptr < lim and sword > 0:
        sword -= 1
        if tab is not None:
            found = line.find(tab, ptr)
            ptr = lim if found < 0 else found + 1
        else:
            ptr = _BLANK_FIELD.match(line, ptr).end()
    if key["skipsblanks"]:
        ptr = _SKIP_BLANKS.match(line, ptr).end()
    return min(lim, ptr + key["schar"])


def _limfield(line: str, key: dict, tab: str | None) -> int:
    """Where KEY ends in LINE (GNU sort's limfield)."""
    lim = len(line)
    if key["eword"] == _SIZE_MAX:
        return lim
    ptr, eword, echar = 0, key["eword"], key["echar"]
    if echar == 0:
        eword += 1
    while ptr < lim and eword > 0:
        eword -= 1
        if tab is not None:
            found = line.find(tab, ptr)
            ptr = lim if found < 0 else found
            if ptr < lim and (eword or echar):
                ptr += 1
        else:
            ptr = _BLANK_FIELD.match(line, ptr).end()
    if echar != 0:
        if key["skipeblanks"]:
            ptr = _SKIP_BLANKS.match(line, ptr).end()
        ptr = min(lim, ptr + echar)
    return ptr


def _numeric(text: str) -> Decimal:
    m = _NUM.match(text)
    sign, whole, frac = m.groups()
    if not whole and not frac:
        return Decimal(0)
    return Decimal(f"{sign}{whole or '0'}.{frac or '0'}")


def _human(text: str) -> tuple[int, Decimal]:
    m = _NUM.match(text)
    sign, whole, frac = m.groups()
    value = Decimal(f"{sign}{whole or '0'}.{frac or '0'}") if (whole or frac) else Decimal(0)
    if not ((whole or "") + (frac or "")).strip("0"):
        return 0, value
    order = _UNIT_ORDER.get(text[m.end():m.end() + 1], 0)
    return (-order if sign else order), value


_VER_SUFFIX = re.compile(r"(?:\.[A-Za-z~][A-Za-z0-9~]*)*\Z")
_VER_PART = re.compile(r"([^0-9]*)([0-9]*)")


def _verkey(text: str) -> tuple:
    """A key that orders like gnulib's verrevcmp (Debian version comparison)."""
    key: list = []
    pos = 0
    while True:
        m = _VER_PART.match(text, pos)
        nondigits, digits = m.groups()
        key.append(tuple(ord(c) if c.isascii() and c.isalpha() else (-2 if c == "~" else ord(c) + 256)
                         for c in nondigits) + (-1,))
        digits = digits.lstrip("0")
        key.append((len(digits), digits))
        pos = m.end()
        if pos >= len(text):
            break
    key.append((-1,))
    return tuple(key)


def _file_prefix(text: str) -> str:
    """TEXT without its file suffix (\\.[A-Za-z~][A-Za-z0-9~]*)*$, cut as coreutils 9.1 cuts it
    (the whole of '.x.tar.gz' is a suffix, measured against GNU sort -V)."""
    i, n = 0, len(text)
    while True:
        prefix = i
        while i + 1 < n and text[i] == "." and (text[i + 1].isascii() and text[i + 1].isalpha()
                                                 or text[i + 1] == "~"):
            i += 2
            while i < n and (text[i].isascii() and text[i].isalnum() or text[i] == "~"):
                i += 1
        if i >= n:
            return text[:prefix]
        i += 1


def _filever(text: str) -> tuple:
    """A key that orders like gnulib's filevercmp (sort -V)."""
    if not text:
        return (0,)
    if text == ".":
        return (1,)
    if text == "..":
        return (2,)
    rank = 3 if text.startswith(".") else 4
    return (rank, _verkey(_file_prefix(text)), _verkey(text))


def _sort_keyfunc(key: dict, tab: str | None):
    def func(line: str):
        text = line[_begfield(line, key, tab):]
        lim = _limfield(line, key, tab) - (len(line) - len(text))
        text = text[:max(lim, 0)]
        if key.get("f"):
            text = text.translate(_FOLD)
        if key.get("n"):
            return _numeric(text)
        if key.get("h"):
            return _human(text)
        if key.get("V"):
            return _filever(text)
        return text
    return func


def _sort_job(job: dict) -> dict:
    """Sandbox side of sort: GNU sort's order by multi-pass stable sorting."""
    spec = job["spec"]
    text = job["text"]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    tab = spec["tab"]
    keys = spec["keys"]
    funcs = [_sort_keyfunc(k, tab) for k in keys]
    if not (spec["stable"] or spec["unique"]) or not keys:
        lines.sort(reverse=spec["reverse"])
    for key, func in reversed(list(zip(keys, funcs))):
        lines.sort(key=func, reverse=bool(key.get("r")))
    if spec["unique"]:
        kept, last = [], None
        for line in lines:
            composite = tuple(f(line) for f in funcs) if funcs else line
            if last is None or composite != last[0]:
                kept.append(line)
                last = (composite,)
        lines = kept
    out = "\n".join(lines) + "\n" if lines else ""
    return {"out": out}


# ---------------------------------------------------------------------------------------
# jq: options, program lexer (allow-list), output formatting like the jq 1.6 CLI

_JQ_ALLOWED = ("-r -j -c -a -S -M -n -s -R -e --tab --indent N --arg NAME VALUE "
               "--argjson NAME JSON, and one program")
_JQ_FLAGS = {"r": "raw", "j": "join", "a": "ascii", "c": "compact", "S": "sort", "M": "mono",
             "n": "null", "s": "slurp", "R": "rawin", "e": "exit"}
_JQ_LONG = {"raw-output": "r", "join-output": "j", "ascii-output": "a", "compact-output": "c",
            "sort-keys": "S", "monochrome-output": "M", "null-input": "n", "slurp": "s",
            "raw-input": "R", "exit-status": "e"}
_JQ_REFUSED = {
    "f": "reads the program from a file; give the program itself",
    "from-file": "reads the program from a file; give the program itself",
    "L": "names a module directory; jq programs here cannot import modules",
    "library-path": "names a module directory; jq programs here cannot import modules",
    "rawfile": "reads a file; jq reads only the piped output",
    "slurpfile": "reads a file; jq reads only the piped output",
    "args": "turns the other arguments into values; pass them with --arg NAME VALUE",
    "jsonargs": "turns the other arguments into values; pass them with --argjson NAME JSON",
    "C": "colours the output; the console shows plain text",
    "color-output": "colours the output; the console shows plain text",
    "seq": "is not available in the console", "stream": "is not available in the console",
    "stream-errors": "is not available in the console", "raw-output0": "is not available in the console",
    "0": "is not available in the console", "nul-output": "is not available in the console",
    "h": "is not available in the console", "help": "is not available in the console",
    "V": "is not available in the console", "version": "is not available in the console",
    "build-configuration": "is not available in the console", "run-tests": "is not available in the console",
    "debug-dump-disasm": "is not available in the console", "debug-trace": "is not available in the console",
    "unbuffered": None,
}

# Pure builtins a program may call (jq 1.6 to 1.8). Everything else is refused.
JQ_ALLOWED_BUILTINS = frozenset("""
IN INDEX JOIN abs acos acosh add all any arrays ascii ascii_downcase ascii_upcase asin asinh atan
atan2 atanh booleans bsearch builtins capture cbrt ceil combinations contains copysign cos cosh
date dateadd datesub del delpaths drem empty endswith erf erfc error exp exp10 exp2 explode
expm1 fabs fdim finites first flatten floor fma fmax fmin fmod format frexp from_entries
fromdate fromdateiso8601 fromjson fromstream gamma getpath gmtime group_by gsub has
have_decnum have_literal_numbers hypot implode in index indices infinite inside isempty
isfinite isinfinite isnan isnormal isvalid iterables j0 j1 jn join keys keys_unsorted last
ldexp leaf_paths length lgamma lgamma_r limit log log10 log1p log2 logb ltrim ltrimstr map
map_values match max max_by min min_by mktime modf nan nearbyint nextafter nexttoward normals
not now nth nulls numbers objects path paths pick pow pow10 range recurse recurse_down
remainder repeat reverse rindex rint round rtrim rtrimstr scalars scalb scalbln scan select
setpath significand sin sinh skip sort sort_by split splits sqrt startswith strftime strings
strptime sub tan tanh test tgamma to_entries toarray toboolean todate todateiso8601 tojson
tonumber tostream tostring transpose trim trimstr trunc truncate_stream type unique unique_by
until utf8bytelength values walk while with_entries y0 y1 yn
""".split())
# Builtins that reach outside the value (environment, files, stdin, stderr, time zone files,
# the program's own location) or stop jq: refused, and a program may not define them either.
JQ_DENIED_BUILTINS = frozenset("""
env input inputs debug stderr input_filename input_line_number halt halt_error get_search_list
get_jq_origin get_prog_origin modulemeta localtime strflocaltime
""".split())
_JQ_FORMATS = frozenset("text json html uri csv tsv sh base64 base64d base32 base32d".split())
_JQ_KEYWORDS = frozenset("def if then elif else end as reduce foreach try catch label import "
                         "include module and or __loc__ break".split())
_JQ_RESERVED_VARS = frozenset({"ENV", "__loc__", "__prog_args", "__prog_name", "JQ_BUILD_CONFIGURATION"})
_JQ_MAX_PROGRAM = 4096
_JQ_MAX_DEPTH = 100
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JQ_OPS = ("?//=", "?//", "//=", "|=", "+=", "-=", "*=", "/=", "%=", "==", "!=", "<=", ">=", "//",
           "..", "|", ",", "+", "-", "*", "/", "%", "=", "<", ">", ":", ";", "?", ".")
_JQ_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _jq_tokens(program: str) -> list[tuple[str, str, int]]:
    """Lex a jq program into (kind, text, depth) tokens, following jq's lexer; refuse the unknown.

    Kinds: ident, kw, var, field, format, num, op, open, close, str (a whole string literal;
    its interpolations are lexed as tokens between 'istart' and 'iend')."""
    tokens: list[tuple[str, str, int]] = []
    stack: list[str] = []      # '(', '[', '{', '"' (in a string), 'i' (in an interpolation)
    i, n = 0, len(program)

    def refuse(what: str) -> FilterError:
        return FilterError(f"jq: {what}")

    while i < n:
        c = program[i]
        if stack and stack[-1] == '"':
            if c == '"':
                stack.pop()
                tokens.append(("strend", '"', len(stack)))
                i += 1
            elif c == "\\":
                if i + 1 >= n:
                    raise refuse("a string ends with a lone backslash")
                if program[i + 1] == "(":
                    stack.append("i")
                    if len(stack) > _JQ_MAX_DEPTH:
                        raise refuse("the program is nested too deeply")
                    tokens.append(("istart", "\\(", len(stack)))
                    i += 2
                else:
                    i += 2
            else:
                i += 1
            continue
        if c in " \t\n\r":
            i += 1
            continue
        if c == "#":
            while i < n and program[i] not in "\n\r":
                i += 1
            continue
        if c == '"':
            stack.append('"')
            if len(stack) > _JQ_MAX_DEPTH:
                raise refuse("the program is nested too deeply")
            tokens.append(("strstart", '"', len(stack)))
            i += 1
            continue
        if c in "([{":
            stack.append(c)
            if len(stack) > _JQ_MAX_DEPTH:
                raise refuse("the program is nested too deeply")
            tokens.append(("open", c, len(stack)))
            i += 1
            continue
        if c in ")]}":
            want = {")": "(", "]": "[", "}": "{"}[c]
            if c == ")" and stack and stack[-1] == "i":
                stack.pop()
                tokens.append(("iend", ")", len(stack)))
                i += 1
                continue
            if not stack or stack[-1] != want:
                raise refuse(f"'{c}' does not close anything")
            stack.pop()
            tokens.append(("close", c, len(stack)))
            i += 1
            continue
        if c == "$":
            j = i + 1
            while j < n and program[j] in " \t\n\r":
                j += 1
            m = _IDENT.match(program, j)
            if not m:
                raise refuse("'$' must be followed by a variable name")
            name = m.group()
            i = m.end()
            if program.startswith("::", i):
                raise refuse(f"${name}::... names a module's variable; modules are not available")
            tokens.append(("var", name, len(stack)))
            continue
        if c == "@":
            m = _IDENT.match(program, i + 1)
            if not m:
                raise refuse("'@' must be followed by a format name such as @csv")
            tokens.append(("format", m.group(), len(stack)))
            i = m.end()
            continue
        if c == "." and i + 1 < n and (program[i + 1].isascii() and program[i + 1].isalpha()
                                       or program[i + 1] == "_"):
            m = _IDENT.match(program, i + 1)
            tokens.append(("field", m.group(), len(stack)))
            i = m.end()
            continue
        m = _JQ_NUMBER.match(program, i)
        if m and (c.isdigit() or (c == "." and i + 1 < n and program[i + 1].isdigit())):
            tokens.append(("num", m.group(), len(stack)))
            i = m.end()
            continue
        m = _IDENT.match(program, i)
        if m:
            name = m.group()
            i = m.end()
            if program.startswith("::", i):
                raise refuse(f"{name}::... calls into a module; modules are not available")
            tokens.append(("kw" if name in _JQ_KEYWORDS else "ident", name, len(stack)))
            continue
        for op in _JQ_OPS:
            if program.startswith(op, i):
                tokens.append(("op", op, len(stack)))
                i += len(op)
                break
        else:
            shown = c if c.isprintable() else f"U+{ord(c):04X}"
            word = re.match(r"\w+", program[i:])
            hint = f'; for a field with that name write .["{word.group()}"]' if word and not c.isascii() else ""
            raise refuse(f"the character {shown!r} is not part of jq's language here "
                         f"(outside strings a program is plain ASCII{hint})")
    if stack:
        raise refuse("a string, '(', '[' or '{' is never closed")
    return tokens


def _jq_check(program: str, variables: Sequence[str]) -> bool:
    """Refuse a jq program that could reach past its input; True when it has any token."""
    if len(program) > _JQ_MAX_PROGRAM:
        raise FilterError(f"jq: the program is longer than {_JQ_MAX_PROGRAM} characters")
    if "\0" in program:
        raise FilterError("jq: the program contains a NUL character")
    tokens = _jq_tokens(program)
    significant = [t for t in tokens if t[0] not in ("strstart", "strend", "istart", "iend")]
    # Names the program defines (def f / def f(g; $h)) and variables it binds.
    defined: set[str] = set()
    bound: set[str] = set(variables) | {"ARGS"}
    for k, (kind, text, depth) in enumerate(tokens):
        if kind == "kw" and text == "def":
            if k + 1 >= len(tokens) or tokens[k + 1][0] not in ("ident", "kw"):
                raise FilterError("jq: def must be followed by a name")
            name = tokens[k + 1][1]
            _jq_definable(name, "a def")
            defined.add(name)
            if k + 2 < len(tokens) and tokens[k + 2][1] == "(":
                j = k + 3
                while j < len(tokens) and tokens[j][1] != ")":
                    pkind, ptext, _ = tokens[j]
                    if pkind in ("ident", "kw"):
                        _jq_definable(ptext, "a parameter")
                        defined.add(ptext)
                    elif pkind == "var":
                        _jq_bindable(ptext)
                        _jq_definable(ptext, "a parameter")
                        bound.add(ptext)
                        defined.add(ptext)
                    elif ptext != ";":
                        raise FilterError("jq: a def's parameters are names or $names separated by ';'")
                    j += 1
        elif kind == "kw" and text in ("as", "label"):
            for ptext in _jq_pattern_vars(tokens, k + 1, text == "label"):
                _jq_bindable(ptext)
                bound.add(ptext)
    keys = _jq_key_positions(tokens)
    for k, (kind, text, depth) in enumerate(tokens):
        if kind == "kw" and text in ("import", "include", "module"):
            raise FilterError(f"jq: {text} reads modules from files; it is not available in the console")
        if kind == "kw" and text == "__loc__":
            raise FilterError("jq: $__loc__ is not available in the console")
        if kind == "var":
            if text in _JQ_RESERVED_VARS or text.startswith("__"):
                raise FilterError(f"jq: ${text} is not available in the console "
                                  "(pass values with --arg NAME VALUE)")
            if text not in bound:
                raise FilterError(f"jq: ${text} is not defined: bind it (... as ${text}) or pass it "
                                  f"with --arg {text} VALUE")
        elif kind == "format":
            if text not in _JQ_FORMATS:
                raise FilterError(f"jq: @{text} is not a format; the formats are "
                                  + " ".join("@" + f for f in sorted(_JQ_FORMATS)))
        elif kind == "ident" and k not in keys:
            if k > 0 and tokens[k - 1][:2] == ("kw", "def"):
                continue
            if text in defined or text in JQ_ALLOWED_BUILTINS:
                continue
            if text in JQ_DENIED_BUILTINS:
                raise FilterError(f"jq: {text} reaches outside the piped value (environment, files, "
                                  "other inputs or stderr); it is not available in the console")
            raise FilterError(f"jq: {text} is not a builtin the console allows (pure builtins such "
                              "as map, select, keys, length, to_entries, test; or a def of your own)")
    return bool(significant)


def _jq_definable(name: str, what: str) -> None:
    """A def or parameter may not take the name of a refused builtin or of jq's own _names."""
    if name.startswith("_") or name in JQ_DENIED_BUILTINS or name in _JQ_KEYWORDS:
        raise FilterError(f"jq: {name} cannot be the name of {what} in the console (names that "
                          "start with _ and builtins such as env, input or debug are jq's own)")


def _jq_bindable(name: str) -> None:
    if name in _JQ_RESERVED_VARS or name.startswith("__") or name == "ARGS":
        raise FilterError(f"jq: ${name} is reserved; choose another variable name")


def _jq_pattern_vars(tokens, k: int, label: bool) -> list[str]:
    """The $names bound by the pattern that starts at tokens[k] (after 'as' or 'label')."""
    if label:
        return [tokens[k][1]] if k < len(tokens) and tokens[k][0] == "var" else []
    names, depth, parens = [], 0, 0
    while k < len(tokens):
        kind, text, _ = tokens[k]
        if kind == "open":
            depth += 1
            if text == "(":
                if depth == 1:
                    break       # reduce/foreach: the pattern ends at the '('
                parens += 1
        elif kind == "close":
            depth -= 1
            if text == ")":
                parens -= 1
            if depth < 0:
                break
        elif kind == "op" and text == "|" and depth == 0:
            break
        elif kind in ("istart",):
            parens += 1
        elif kind in ("iend",):
            parens -= 1
        elif kind == "var" and parens == 0:
            names.append(text)
        k += 1
    return names


def _jq_key_positions(tokens) -> set[int]:
    """Indexes of identifiers that are object keys ({name: ...}, {name}), not calls."""
    keys = set()
    brace_depths = []
    for k, (kind, text, depth) in enumerate(tokens):
        if kind == "open" and text == "{":
            brace_depths.append(depth)
        elif kind == "close" and text == "}":
            if brace_depths:
                brace_depths.pop()
        if kind in ("ident", "kw") and k > 0:
            prev = tokens[k - 1]
            nxt = tokens[k + 1] if k + 1 < len(tokens) else None
            in_brace = brace_depths and brace_depths[-1] == depth
            after = prev[1] == "{" and prev[0] == "open" or (prev[1] == "," and in_brace)
            if in_brace and after and nxt is not None and nxt[1] in (":", ",", "}"):
                keys.add(k)
    return keys


class Jq(Filter):
    """jq: one program over the piped JSON, run in the sandbox; output like the jq CLI."""

    name = "jq"
    streaming = False

    def __init__(self, program: str, named: dict, opts: dict):
        super().__init__()
        self.program, self.named, self.opts = program, named, opts
        self.parts: list[str] = []
        self.size = 0

    def _feed(self, text: str) -> str:
        if self.size >= MAX_INPUT or self.opts["null"]:   # jq -n reads no input
            return ""
        size = _utf8_len(text)
        if self.size + size > MAX_INPUT:
            text = _bytes_slice(text, 0, MAX_INPUT - self.size)
            text = text[:text.rfind("\n") + 1]
            self.note(f"input cut at {_MIB}; the values after it were not read")
            size = MAX_INPUT - self.size
        self.parts.append(text)
        self.size += size
        return ""

    def _close(self) -> str:
        text = "".join(self.parts)
        self.parts = []
        if not text.strip() and not (self.opts["null"] or self.opts["slurp"]):
            self.status = 4 if self.opts["exit"] else 0
            return ""
        try:
            got = _sandbox().run({"op": "jq", "program": self.program, "named": self.named,
                                  "opts": self.opts, "text": text, "cap": MAX_OUTPUT,
                                  "seconds": JQ_SECONDS}, JQ_SECONDS)
        except _JobFailed as exc:
            self.note(str(exc))
            self.status = 5
            return ""
        out, errors = got.get("out", ""), got.get("errors", [])
        if not (isinstance(out, str) and isinstance(errors, list) and all(isinstance(e, str) for e in errors)):
            self.note("stopped: the sandbox replied nonsense")
            self.status = 5
            return ""
        status = got.get("status", 0)
        self.status = status if isinstance(status, int) and 0 <= status < 256 else 5
        self.notes.extend(e[:2000] for e in errors[:21])
        if got.get("error"):
            self.note(str(got["error"])[:200])
        if got.get("cut"):
            self.note(f"output cut at {_MIB}")
        return out


def _parse_jq(args: Sequence[str]) -> Filter:
    opts = {v: False for v in _JQ_FLAGS.values()}
    opts["indent"] = 2       # spaces; 0 = compact; -1 = tab
    named: dict = {}
    program = None
    i = 0
    only_operands = False

    def fail(what: str) -> FilterError:
        return FilterError(f"jq {what} (allowed options: {_JQ_ALLOWED})")

    def set_flag(letter: str) -> None:
        opts[_JQ_FLAGS[letter]] = True
        if letter == "c":
            opts["indent"] = 0
        elif letter == "j":
            opts["raw"] = True

    def arg_name(spelled: str) -> tuple[str, str]:
        if i + 2 > len(args):
            raise fail(f"{spelled} needs a NAME and a value")
        name, value = args[i], args[i + 1]
        if not _IDENT.fullmatch(name):
            raise fail(f"{spelled} {name!r}: a variable name is letters, digits and _")
        _jq_bindable(name)
        return name, value

    while i < len(args):
        arg = args[i]
        i += 1
        if not only_operands and arg == "--":
            only_operands = True
            continue
        if not only_operands and arg.startswith("--") and len(arg) > 2:
            name = arg[2:]
            if name in _JQ_LONG:
                set_flag(_JQ_LONG[name])
            elif name == "tab":
                opts["indent"] = -1
            elif name == "indent":
                if i >= len(args) or not re.fullmatch(r"-?\d+", args[i]):
                    raise fail("--indent takes a number between -1 and 7")
                number = int(args[i][:4])
                i += 1
                if not -1 <= number <= 7:
                    raise fail("--indent takes a number between -1 and 7")
                opts["indent"] = number
            elif name in ("arg", "argjson"):
                key, value = arg_name(arg)
                i += 2
                if name == "argjson":
                    try:
                        value = json.loads(value, parse_constant=_no_constant)
                    except (ValueError, RecursionError):
                        raise fail(f"--argjson {key}: the value is not JSON text") from None
                named.setdefault(key, value)
            elif name in _JQ_REFUSED:
                if _JQ_REFUSED[name] is None:
                    continue
                raise fail(f"--{name} {_JQ_REFUSED[name]}")
            else:
                raise fail(f"has no option --{name} here")
            continue
        if not only_operands and arg.startswith("-") and len(arg) > 1:
            for letter in arg[1:]:
                if letter in _JQ_FLAGS:
                    set_flag(letter)
                elif letter in _JQ_REFUSED and _JQ_REFUSED[letter]:
                    raise fail(f"-{letter} {_JQ_REFUSED[letter]}")
                else:
                    raise fail(f"has no option -{letter} here")
            continue
        if program is None:
            program = arg
            continue
        raise FilterError(f"jq reads only the piped output: {arg!r} would be a file; give one "
                          f"program (allowed options: {_JQ_ALLOWED})")
    if program is None:
        program = "."
    for value in list(named.values()) + [program]:
        if isinstance(value, str) and "\0" in value:
            raise FilterError("jq: a NUL character cannot be passed to jq")
    if not _jq_check(program, list(named)):
        program = "."
    return Jq(program, named, opts)


def _no_constant(name: str):
    raise ValueError(name)


# --- sandbox side of jq

_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,14})")


def _jq_number(token: str) -> str:
    """A JSON number as the jq 1.6 CLI prints it (a double, 17 significant digits at most)."""
    if _PLAIN_INT.fullmatch(token):
        return token
    value = float(token)
    if value != value:
        return "null"
    if value in (float("inf"), float("-inf")):
        value = 1.7976931348623157e308 if value > 0 else -1.7976931348623157e308
    text = repr(value)
    sign = "-" if text.startswith("-") else ""
    text = text.lstrip("-")
    mantissa, _, exponent = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    if frac == "0":
        frac = ""
    digits = (whole + frac).lstrip("0")
    decpt = len(whole) + (int(exponent) if exponent else 0)
    if not digits:
        return sign + "0"
    decpt -= len(whole + frac) - len((whole + frac).lstrip("0"))
    digits = digits.rstrip("0")
    if decpt <= -4 or decpt > len(digits) + 15:
        exp = decpt - 1
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if decpt <= 0:
        return f"{sign}0.{'0' * -decpt}{digits}"
    if decpt >= len(digits):
        return sign + digits + "0" * (decpt - len(digits))
    return f"{sign}{digits[:decpt]}.{digits[decpt:]}"


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]|[^\[\]{},:"]+')


def _jq_ascii(token: str) -> str:
    return json.dumps(json.loads(token), ensure_ascii=True).replace("\x7f", "\\u007f")


def _jq_format(text: str, opts: dict) -> str:
    """jq's compact JSON TEXT (from tojson) formatted like the jq CLI with OPTS."""
    ascii_out = opts["ascii"]
    first = text[:1]
    if first == '"':
        if ascii_out and not text.isascii():
            return _jq_ascii(text)
        return json.loads(text) if opts["raw"] and not ascii_out else text
    if first not in "[{":
        return _jq_number(text) if first in "-0123456789" else text
    indent = opts["indent"]
    unit = "\t" if indent == -1 else " " * indent
    pretty = indent != 0
    tokens = _JSON_TOKEN.findall(text)
    out: list[str] = []
    level = 0
    skip = False
    for k, tok in enumerate(tokens):
        if skip:
            skip = False
            continue
        first = tok[0]
        if first in "[{":
            nxt = tokens[k + 1] if k + 1 < len(tokens) else ""
            if nxt and nxt in "]}":
                out.append(tok + nxt)
                skip = True
                continue
            level += 1
            out.append(tok + ("\n" + unit * level if pretty else ""))
        elif first in "]}":
            level -= 1
            out.append(("\n" + unit * level if pretty else "") + tok)
        elif first == ",":
            out.append(",\n" + unit * level if pretty else ",")
        elif first == ":":
            out.append(": " if pretty else ":")
        elif first == '"':
            out.append(_jq_ascii(tok) if ascii_out and not tok.isascii() else tok)
        elif first in "-0123456789":
            out.append(_jq_number(tok))
        else:
            out.append(tok)
    return "".join(out)


def _line_of_value(text: str, index: int) -> int:
    """The line jq's CLI reports for an error in input value INDEX (0-based): lines read so far."""
    decoder = json.JSONDecoder()
    pos, end = 0, len(text)
    ws = re.compile(r"[ \t\n\r]*")
    try:
        for _ in range(index + 1):
            pos = ws.match(text, pos).end()
            _, pos = decoder.raw_decode(text, pos)
    except (ValueError, RecursionError):
        return text.count("\n")
    newline = text.find("\n", max(pos - 1, 0))
    end = len(text) if newline < 0 else newline + 1
    return text.count("\n", 0, end)


def _jq_job(job: dict) -> dict:
    """Sandbox side of jq: run the program and format its values like the jq CLI."""
    import jq as libjq
    program, opts, text, cap = job["program"], job["opts"], job["text"], job["cap"]
    named = dict(job["named"])
    named["ARGS"] = {"positional": [], "named": dict(job["named"])}
    body = f"({program}\n\n)"   # a comment that ends the program ends before the ')'
    if opts["sort"]:
        body += ' | walk(if type == "object" then (to_entries | sort_by(.key) | from_entries) else . end)'
    wrapped = f'(try (({body}) | tojson) catch ("\\u0000" + tojson)), "\\u0001"'
    try:
        compiled = libjq.compile(wrapped, args=named)
    except ValueError:
        try:
            libjq.compile(program, args=named)
        except ValueError as exc:
            return {"errors": [str(exc).strip()], "status": 3}
        return {"error": "the program could not be prepared", "status": 3}
    if opts["null"]:
        results = compiled.input_value(None)
    elif opts["rawin"]:
        if opts["slurp"]:
            results = compiled.input_value(text)
        else:
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            results = compiled.input_values(lines)
    elif opts["slurp"]:
        results = compiled.input_text(text, slurp=True)
    else:
        results = compiled.input_text(text)
    out: list[str] = []
    errors: list[str] = []
    size = 0
    value_index = 0
    end = "" if opts["join"] else "\n"
    iterator = iter(results)
    cut = False
    started = time.monotonic()
    budget = float(job.get("seconds", 3)) * 0.8
    count = 0
    status = 0
    last = None          # the last value output, for -e
    while True:
        count += 1
        if count % 512 == 0 and time.monotonic() - started > budget:
            errors.append(f"(jq: stopped after {budget:.1f} s; the output so far is shown)")
            status = 5
            break
        try:
            item = next(iterator)
        except StopIteration:
            break
        except ValueError as exc:   # a parse error in the input stops jq, as in the CLI
            errors.append(str(exc))
            status = 2
            break
        if item == "\x01":
            value_index += 1
            continue
        if item.startswith("\x00"):
            status = 5
            if len(errors) < 20:
                errors.append(_jq_error(item[1:], opts, text, value_index))
            continue
        last = item
        piece = _jq_format(item, opts) + end
        size += len(piece)
        if size > cap:
            room = piece[:max(cap - (size - len(piece)), 0)]
            newline = room.rfind("\n")
            out.append(room[:newline + 1] if newline >= 0 or not out else "")
            cut = True
            break
        out.append(piece)
    if not status and opts["exit"]:   # jq -e: 1 if the last value was false or null, 4 if none
        status = 4 if last is None else (1 if last in ("false", "null") else 0)
    return {"out": "".join(out), "errors": errors, "cut": cut, "status": status}


def _jq_error(value_json: str, opts: dict, text: str, index: int) -> str:
    if opts["null"]:
        where = "<unknown>"
    elif opts["slurp"]:
        where = f"<stdin>:{text.count(chr(10))}"
    elif opts["rawin"]:
        where = f"<stdin>:{index + 1}"
    else:
        where = f"<stdin>:{_line_of_value(text, index)}"
    value = json.loads(value_json)
    if isinstance(value, str):
        return f"jq: error (at {where}): {value}"
    return f"jq: error (at {where}) (not a string): {value_json}"


# ---------------------------------------------------------------------------------------
# parse()

_PARSERS = {"head": _parse_head, "tail": _parse_tail, "wc": _parse_wc, "cut": _parse_cut,
            "grep": _parse_grep, "sort": _parse_sort, "jq": _parse_jq}


def parse(argv: Sequence[str]) -> Filter:
    """The filter for ARGV (argv[0] one of NAMES), or FilterError saying what is allowed."""
    if not argv or argv[0] not in _PARSERS:
        raise FilterError(f"{argv[0] if argv else 'an empty command'} is not a filter; the filters "
                          f"are {', '.join(NAMES)}")
    for arg in argv:
        if "\0" in arg:
            raise FilterError(f"{argv[0]}: an argument contains a NUL character")
    return _PARSERS[argv[0]](list(argv[1:]))


# ---------------------------------------------------------------------------------------
# The sandbox: a fork server started once per app process

_FRAME = struct.Struct(">I")
_MAX_FRAME = 16 << 20


def _send_frame(sock: socket.socket, obj) -> None:
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


def _recv_frame(sock: socket.socket):
    (size,) = _FRAME.unpack(_recv_exact(sock, _FRAME.size))
    if size > _MAX_FRAME:
        raise ValueError("frame too large")
    return json.loads(_recv_exact(sock, size).decode("utf-8", "surrogatepass"))


class _Sandbox:
    """The fork server (started lazily, restarted when it dies) and the jobs sent to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
        self._proc: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        self._dir: str | None = None
        self._owner = 0
        self.info: dict = {}

    def _start(self) -> socket.socket:
        import importlib.util
        spec = importlib.util.find_spec("jq")
        if spec is None or not spec.origin:
            raise _JobFailed("cannot run: the jq package is not installed")
        jq_dir = os.path.dirname(spec.origin)
        # Started as the app's user (it must read Python and libjq); when that is root, the
        # server drops to nobody itself once everything is loaded, before any job.
        user = "%d:%d" % _nobody() if os.geteuid() == 0 else "-"
        workdir = tempfile.mkdtemp(prefix="labapp-filters-")
        os.chmod(workdir, 0o555)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", os.path.abspath(__file__), "--sandbox-server",
                 jq_dir, user],
                stdin=child, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={},
                cwd=workdir, close_fds=True, start_new_session=True)
        except OSError as exc:
            parent.close()
            os.rmdir(workdir)
            raise _JobFailed(f"cannot run: {exc}") from None
        finally:
            child.close()
        parent.settimeout(15)
        try:
            hello = json.loads(parent.recv(65536) or b"null")
        except (OSError, ValueError):
            hello = None
        if not isinstance(hello, dict):
            parent.close()
            proc.kill()
            proc.wait()
            os.rmdir(workdir)
            raise _JobFailed("cannot run: the sandbox did not start")
        parent.settimeout(None)
        self._proc, self._ctrl, self._dir, self._owner = proc, parent, workdir, os.getpid()
        self.info = hello
        return parent

    def _ensure(self) -> socket.socket:
        with self._lock:
            if self._ctrl is None or self._owner != os.getpid() or self._proc.poll() is not None:
                self._stop_locked()
                self._start()
            return self._ctrl

    def _stop_locked(self) -> None:
        """Stop the server (it exits when its socket closes); a forked app only drops its copy."""
        mine = self._owner == os.getpid()
        if self._ctrl is not None:
            self._ctrl.close()
        if self._proc is not None and mine:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._dir and mine:
            try:
                os.rmdir(self._dir)
            except OSError:
                pass
        self._proc = self._ctrl = self._dir = None

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    @contextlib.contextmanager
    def _slot(self, seconds: float):
        """One of the few jobs that may compute at once (the host has few cores)."""
        if not self._slots.acquire(timeout=seconds * 3):
            raise _JobFailed("stopped: the server is busy with other filters; try again")
        try:
            yield
        finally:
            self._slots.release()

    def connect(self, limits: dict) -> socket.socket:
        """A socket to a fresh child of the fork server, which applies LIMITS to itself."""
        data = json.dumps(limits).encode()
        for attempt in range(2):
            ctrl = self._ensure()
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                with self._lock:
                    socket.send_fds(ctrl, [data], [theirs.fileno()])
            except OSError:
                mine.close()
                self.stop()
                if attempt:
                    raise _JobFailed("cannot run: the sandbox is not available") from None
                continue
            finally:
                theirs.close()
            return mine
        raise _JobFailed("cannot run: the sandbox is not available")

    @staticmethod
    def exchange(sock: socket.socket, job: dict, seconds: float, memory: int, last: bool) -> dict:
        """Send JOB, read the reply; a child that dies or overruns becomes _JobFailed."""
        start = time.monotonic()
        sock.settimeout(seconds + 2)
        try:
            _send_frame(sock, job)
            if last:
                sock.shutdown(socket.SHUT_WR)
            reply = _recv_frame(sock)
        except (EOFError, OSError, ValueError, RecursionError):
            if time.monotonic() - start >= seconds * 0.9:
                raise _JobFailed(f"stopped: it ran longer than {seconds:g} s") from None
            raise _JobFailed(f"stopped: it needed more than {memory >> 20} MiB of memory, more "
                             "CPU time than it may use, or failed") from None
        if not isinstance(reply, dict):
            raise _JobFailed("stopped: the sandbox replied nonsense")
        if reply.get("failed"):
            raise _JobFailed(reply["failed"])
        return reply

    def run(self, job: dict, seconds: float, memory: int = JQ_MEMORY) -> dict:
        """Run JOB in a fresh child with SECONDS of wall clock and CPU; its reply, or _JobFailed."""
        with self._slot(seconds):
            sock = self.connect({"seconds": seconds, "cpu": seconds, "memory": memory})
            try:
                return self.exchange(sock, job, seconds, memory, last=True)
            finally:
                sock.close()


class _Session:
    """One sandbox child kept for one filter: it prepares once (compiles a pattern) and then
    answers batch after batch, within SECONDS of wall clock per batch and BUDGET of CPU in all."""

    IDLE = 300  # seconds a child waits for the next batch before it exits

    def __init__(self, header: dict, seconds: float, budget: float, memory: int = 128 << 20):
        self.header, self.seconds, self.budget, self.memory = header, seconds, budget, memory
        self.sock: socket.socket | None = None
        self.last_used = 0.0

    def call(self, job: dict) -> dict:
        sandbox = _sandbox()
        with sandbox._slot(self.seconds):
            for attempt in range(2):
                fresh = self.sock is None
                if fresh:
                    self.sock = sandbox.connect({"seconds": self.seconds, "cpu": self.budget,
                                                 "memory": self.memory, "idle": self.IDLE})
                idle = time.monotonic() - self.last_used
                try:
                    if fresh:
                        _send_frame(self.sock, self.header)
                    reply = sandbox.exchange(self.sock, job, self.seconds, self.memory, last=False)
                    self.last_used = time.monotonic()
                    return reply
                except _JobFailed:
                    self.close()
                    if fresh or attempt or idle < self.IDLE - 5:
                        raise
                except OSError:
                    self.close()
                    if attempt:
                        raise _JobFailed("stopped: the sandbox went away") from None
        raise _JobFailed("stopped: the sandbox went away")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


_SANDBOX = _Sandbox()
atexit.register(_SANDBOX.stop)


def _sandbox() -> _Sandbox:
    return _SANDBOX


def _nobody() -> tuple[int, int]:
    try:
        import pwd
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except (ImportError, KeyError):
        return 65534, 65534


def isolation() -> dict:
    """What the sandbox holds on this host: its user, environment and which escapes failed."""
    reply = _SANDBOX.run({"op": "selftest"}, 5.0)
    return dict(_SANDBOX.info, **reply)


def shutdown() -> None:
    """Stop this process's sandbox (it starts again when a filter needs it)."""
    _SANDBOX.stop()


# --- inside the sandbox

_SECCOMP_X86_64 = {
    # I/O on the job's socket, memory, signals, time, exit: what Python and libjq need to compute.
    "read": 0, "write": 1, "close": 3, "fstat": 5, "lseek": 8, "mmap": 9, "mprotect": 10,
    "munmap": 11, "brk": 12, "rt_sigaction": 13, "rt_sigprocmask": 14, "rt_sigreturn": 15,
    "writev": 20, "sched_yield": 24, "mremap": 25, "madvise": 28, "getpid": 39,
    "sendto": 44, "recvfrom": 45, "shutdown": 48, "exit": 60,
    "fcntl": 72, "gettimeofday": 96, "getrusage": 98, "getuid": 102, "getgid": 104,
    "geteuid": 107, "getegid": 108, "getppid": 110, "sigaltstack": 131, "gettid": 186,
    "time": 201, "futex": 202, "clock_gettime": 228, "clock_getres": 229, "clock_nanosleep": 230,
    "exit_group": 231, "newfstatat": 262, "getrandom": 318, "rseq": 334,
}


class _Seccomp:
    """The BPF program, built once in the fork server; each child adds its pid and loads it."""

    def __init__(self) -> None:
        import ctypes
        self.ctypes = ctypes
        machine = os.uname().machine
        self.why_not = None if machine == "x86_64" else \
            f"off (the allow-list is written for x86_64, this is {machine})"
        ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
        allow, errno, kill = 0x7FFF0000, 0x00050000 | 1, 0x80000000
        code: list = []                               # (op, jt, jf, k); labels patched below
        code.append((ld, 0, 0, 4))                    # arch
        code.append((jeq, 1, 0, 0xC000003E))          # AUDIT_ARCH_X86_64
        code.append((ret, 0, 0, kill))
        code.append((ld, 0, 0, 0))                    # syscall number
        code.append((0x35, "ERR", 0, 0x40000000))     # x32 ABI: refuse
        code.append((jeq, "TGKILL", 0, 234))          # tgkill only at itself (abort)
        code.append((jeq, "MAP", 0, 9))               # mmap/mprotect without PROT_EXEC
        code.append((jeq, "MAP", 0, 10))
        for number in sorted(set(_SECCOMP_X86_64.values()) - {9, 10}):
            code.append((jeq, "OK", 0, number))
        code.append((ret, 0, 0, errno))               # everything else: EPERM
        labels = {"TGKILL": len(code)}                # (BPF jumps only forward: blocks, then returns)
        code.append((ld, 0, 0, 16))                   # args[0]: the thread group
        self.pid_at = len(code)
        code.append((jeq, "OK", "ERR", 0))            # k: the child's pid, set per child
        labels["MAP"] = len(code)
        code.append((ld, 0, 0, 32))                   # args[2]: prot
        code.append((jset, "ERR", "OK", 4))           # PROT_EXEC
        labels["ERR"] = len(code)
        code.append((ret, 0, 0, errno))
        labels["OK"] = len(code)
        code.append((ret, 0, 0, allow))
        self.code = []
        for index, (op, jt, jf, k) in enumerate(code):
            jt = labels[jt] - index - 1 if isinstance(jt, str) else jt
            jf = labels[jf] - index - 1 if isinstance(jf, str) else jf
            self.code.append((op, jt, jf, k))

        class Fprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

        self.Fprog = Fprog
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                                    ctypes.c_ulong]

    def load(self, pid: int) -> str:
        """Allow only the system calls in _SECCOMP_X86_64 (EPERM for the rest): 'on' or why not."""
        if self.why_not:
            return self.why_not
        code = list(self.code)
        op, jt, jf, _ = code[self.pid_at]
        code[self.pid_at] = (op, jt, jf, pid)
        packed = b"".join(struct.pack("HBBI", *ins) for ins in code)
        prog = self.Fprog(len(code), packed)
        if self.libc.prctl(38, 1, None, 0, 0) != 0:   # PR_SET_NO_NEW_PRIVS
            return f"off (no_new_privs: errno {self.ctypes.get_errno()})"
        if self.libc.prctl(22, 2, self.ctypes.addressof(prog), 0, 0) != 0:   # PR_SET_SECCOMP
            return f"off (seccomp: errno {self.ctypes.get_errno()})"
        return "on"


def _selftest() -> dict:
    """Try what a job must not be able to do; report what happened (for tests and doctor)."""
    results = {}

    def attempt(name, action):
        try:
            action()
            results[name] = "allowed"
        except Exception as exc:  # each escape is expected to fail; say how
            results[name] = f"blocked ({type(exc).__name__}: {exc})"[:200]

    attempt("read /etc/passwd", lambda: open("/etc/passwd", "rb").read(1))
    attempt("list the working directory", lambda: os.listdir("."))
    attempt("write a file", lambda: open("selftest", "wb").write(b"x"))
    attempt("run a program", lambda: os.execv("/bin/true", ["true"]))
    attempt("start a process", lambda: os._exit(0) if os.fork() == 0 else None)
    attempt("open a socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    attempt("signal the parent", lambda: os.kill(os.getppid(), 0))
    results["environment"] = dict(os.environ)
    results["uid"] = os.getuid()
    return results


def _child(fd: int, limits: dict, seccomp: _Seccomp) -> None:
    """A forked child: limit itself, lock itself in, then answer its job (or its batches)."""
    import resource
    import signal
    seconds = max(1, int(float(limits["seconds"]) + 0.999))
    cpu = max(1, int(float(limits.get("cpu", seconds)) + 0.999))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)   # the alarm kills; no handler can delay it
    signal.alarm(seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (int(limits["memory"]), int(limits["memory"])))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (fd + 1, fd + 1))
    sock = socket.socket(fileno=fd)
    state = seccomp.load(os.getpid())
    try:
        job = _recv_frame(sock)
        op = job.get("op")
        if op == "grep-session":
            _grep_session(sock, job, seconds, int(limits.get("idle", 300)))
            return
        if op == "jq":
            reply = _jq_job(job)
        elif op == "grep":
            reply = _grep_job(job)
        elif op == "sort":
            reply = _sort_job(job)
        elif op == "selftest":
            reply = dict(_selftest(), seccomp=state)
        elif op == "ping":
            reply = {"pong": True, "seccomp": state}
        else:
            reply = {"failed": f"unknown job {op!r}"}
    except EOFError:
        return
    except MemoryError:
        reply = {"failed": f"stopped: it needed more than {int(limits['memory']) >> 20} MiB of memory"}
    except RecursionError:
        reply = {"failed": "stopped: the data is nested too deeply"}
    except Exception as exc:  # reported to the learner as the filter's failure
        reply = {"failed": f"failed: {type(exc).__name__}: {exc}"[:500]}
    try:
        reply["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _send_frame(sock, reply)
    except (OSError, MemoryError):
        pass
    sock.close()


def _grep_session(sock: socket.socket, header: dict, seconds: int, idle: int) -> None:
    """Batches of lines for one grep: the alarm waits IDLE between batches, SECONDS in one."""
    import signal
    rx = re.compile(header["regex"], header["flags"])
    while True:
        signal.alarm(idle)
        try:
            batch = _recv_frame(sock)
        except EOFError:
            return
        signal.alarm(seconds)
        started = time.monotonic()
        try:
            reply = _grep_job(dict(header, lines=batch["lines"]), rx)
        except MemoryError:
            reply = {"failed": "stopped: it needed more memory than it may use"}
        reply["seconds"] = time.monotonic() - started
        signal.alarm(0)
        _send_frame(sock, reply)


def _serve(jq_dir: str, user: str) -> None:
    """The fork server: a clean process that forks one child per job it is handed."""
    import resource
    import signal
    import traceback
    os.environ.clear()              # Python may have set LC_CTYPE while starting
    sys.path.insert(0, jq_dir)
    import jq  # noqa: F401  (loaded once, shared by every child)
    seccomp = _Seccomp()
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    seccomp.libc.prctl(4, 0, None, 0, 0)   # PR_SET_DUMPABLE 0: no ptrace, no core dump
    if user != "-":                 # the app is root: become nobody, with no groups
        uid, gid = (int(x) for x in user.split(":"))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    ctrl = socket.socket(fileno=0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the kernel
    ctrl.send(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                          "cwd": os.getcwd(), "environment": dict(os.environ)}).encode())
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 4096, 4)
        except InterruptedError:
            continue
        if not msg:
            return
        if not fds:
            continue
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                ctrl.close()
                for extra in fds[1:]:
                    os.close(extra)
                _child(fds[0], json.loads(msg), seccomp)
            except BaseException:   # stderr is /dev/null unless someone debugs the sandbox
                traceback.print_exc()
                status = 1
            finally:
                os._exit(status)
        for fd in fds:
            os.close(fd)


if __name__ == "__main__" and sys.argv[1:2] == ["--sandbox-server"]:
    _serve(sys.argv[2], sys.argv[3])
