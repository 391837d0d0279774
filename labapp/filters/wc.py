"""wc: lines, words, characters, bytes and the longest line of the piped output, counted and
formatted as GNU wc counts standard input in C.UTF-8."""
from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from ..i18n import N_, msg
from .base import Filter, FilterError, utf8_len
from .options import HELP, Opt, getopt

_WC_ALLOWED = "-l -w -c -m -L"
_WC_TABLE = (
    Opt("c", "c", ["bytes"]), Opt("m", "m", ["chars"]), Opt("l", "l", ["lines"]),
    Opt("w", "w", ["words"]), Opt("L", "L", ["max-line-length"]),
    Opt("files0", None, ["files0-from"], 1,
        refused=N_("reads file names from a file; wc counts the piped output only")),
    Opt("total", None, ["total"], 1, refused=N_("is about several files; wc counts the piped output only")),
    *HELP,
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
        self.nbytes += utf8_len(text)
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


def parse_wc(args: Sequence[str]) -> Filter:
    opts, operands = getopt("wc", args, _WC_TABLE, _WC_ALLOWED)
    if operands:
        raise FilterError(msg("wc counts only the piped output: {operand} would be a file "
                              "(allowed options: {allowed})", operand=repr(operands[0]), allowed=_WC_ALLOWED))
    fields = [key for key, _, _ in opts] or ["l", "w", "c"]
    return Wc(fields)
