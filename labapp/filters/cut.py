"""cut: fields (-f), characters (-c) or bytes (-b) of every line of the piped output,
streaming, with GNU cut's lists, delimiters and --complement."""
from __future__ import annotations

import re
from typing import Sequence

from ..i18n import N_, msg
from .base import Filter, FilterError
from .options import HELP, ZERO, Lines, Opt, file_operand, getopt

_CUT_ALLOWED = "-f LIST, -d DELIM, -s, -c LIST, -b LIST, --complement, --output-delimiter=STRING"
_CUT_TABLE = (
    Opt("b", "b", ["bytes"], 1), Opt("c", "c", ["characters"], 1), Opt("f", "f", ["fields"], 1),
    Opt("d", "d", ["delimiter"], 1), Opt("n", "n", []), Opt("s", "s", ["only-delimited"]),
    Opt("complement", None, ["complement"]), Opt("outdelim", None, ["output-delimiter"], 1),
    ZERO, *HELP,
)
# A LIST that is not one, for fields (f) and for byte or character positions (b, c).
_NOT_A_LIST = {
    "f": N_("cut: fields are numbered from 1, as in 1,3-5,7- (got {list})"),
    "bc": N_("cut: byte/character positions are numbered from 1, as in 1,3-5,7- (got {list})"),
}
_ZERO_IN_LIST = {
    "f": N_("cut: fields are numbered from 1 (got {list})"),
    "bc": N_("cut: byte/character positions are numbered from 1 (got {list})"),
}


def _cut_list(spec: str, what: str) -> list[tuple[int, int | None]]:
    """A cut LIST ('1,3-5,7-', '-2') -> merged (low, high or None) ranges, 1-based."""
    unit = "f" if what == "f" else "bc"
    ranges = []
    for item in re.split(r"[,\s]", spec):
        m = re.fullmatch(r"(\d*)(-?)(\d*)", item)
        if not m or item == "":
            raise FilterError(msg(_NOT_A_LIST[unit], list=repr(spec)))
        lo, dash, hi = m.groups()
        if dash and not lo and not hi:
            raise FilterError(msg("cut: the range '-' has no end in {list}; write N-M, N- or -M", list=repr(spec)))
        low = int(lo[:18]) if lo else 1
        high = (int(hi[:18]) if hi else None) if dash else low
        if low == 0 or high == 0:
            raise FilterError(msg(_ZERO_IN_LIST[unit], list=repr(spec)))
        if high is not None and high < low:
            raise FilterError(msg("cut: {range} is a decreasing range; write the smaller number first",
                                  range=repr(item)))
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
        self.lines = Lines(self)

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


def parse_cut(args: Sequence[str]) -> Filter:
    opts, operands = getopt("cut", args, _CUT_TABLE, _CUT_ALLOWED)
    if operands:
        raise file_operand("cut", operands[0], _CUT_ALLOWED)
    mode = spec = None
    delim, out_delim = None, None
    given = {key for key, _, _ in opts}
    only, complement = "s" in given, "complement" in given
    for key, value, _ in opts:
        if key in ("b", "c", "f"):
            if mode is not None:
                raise FilterError(msg("cut takes one list: -f, -c or -b, not two (allowed options: {allowed})",
                                      allowed=_CUT_ALLOWED))
            mode, spec = key, value
        elif key == "d":
            if len(value) > 1:
                raise FilterError(msg("cut -d takes a single character, not {value}", value=repr(value)))
            delim = value or "\0"
        elif key == "outdelim":
            out_delim = value
    if mode is None:
        raise FilterError(msg("cut needs a list: -f LIST (fields), -c LIST (characters) or -b LIST (bytes) "
                              "(allowed options: {allowed})", allowed=_CUT_ALLOWED))
    if delim is not None and mode != "f":
        raise FilterError(msg("cut -d is for fields: use it with -f LIST"))
    if only and mode != "f":
        raise FilterError(msg("cut -s is for fields: use it with -f LIST"))
    ranges = _cut_list(spec, mode)
    if complement:
        ranges = _complement(ranges)
    return Cut(mode, ranges, "\t" if delim is None else delim, only, out_delim)
