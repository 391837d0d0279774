"""sort: GNU sort's options and keys read here (-k F.C,F.C with its letters, -t, -n -h -V -f
-r -b -u -s); the sorting itself runs in the sandbox (jail/sortorder.py)."""
from __future__ import annotations

import re
from typing import Sequence

from ..i18n import N_, msg
from .base import SORT_SECONDS, Buffered, Filter, FilterError
from .jail.sortorder import SIZE_MAX
from .options import HELP, NOT_HERE, ZERO, Opt, file_operand, getopt
from .sandbox import answer

_SORT_ALLOWED = "-r -n -h -V -f -b -u -s -k KEYDEF -t SEP"
_SORT_WRITES = N_("would write a file; filters only read the piped output and print it")
_READS_A_FILE = N_("reads a file; sort reads only the piped output")
_IN_MEMORY = N_("is not needed: the console sorts in memory")
_SORT_TABLE = (
    Opt("r", "r", ["reverse"]), Opt("n", "n", ["numeric-sort"]), Opt("h", "h", ["human-numeric-sort"]),
    Opt("V", "V", ["version-sort"]), Opt("f", "f", ["ignore-case"]), Opt("b", "b", ["ignore-leading-blanks"]),
    Opt("u", "u", ["unique"]), Opt("s", "s", ["stable"]), Opt("k", "k", ["key"], 1),
    Opt("t", "t", ["field-separator"], 1),
    Opt("sortname", None, ["sort"], 1),
    Opt("o", "o", ["output"], 1, refused=_SORT_WRITES),
    Opt("T", "T", ["temporary-directory"], 1, refused=_SORT_WRITES),
    Opt("compress", None, ["compress-program"], 1, refused=N_("runs a program; that is not allowed in the console")),
    Opt("files0", None, ["files0-from"], 1, refused=_READS_A_FILE),
    Opt("random-source", None, ["random-source"], 1, refused=_READS_A_FILE),
    Opt("m", "m", ["merge"], refused=N_("merges files; sort reads only the piped output")),
    Opt("c", "c", ["check"], 2, refused=NOT_HERE),
    Opt("C", "C", [], refused=NOT_HERE),
    Opt("S", "S", ["buffer-size"], 1, refused=_IN_MEMORY),
    Opt("parallel", None, ["parallel"], 1, refused=_IN_MEMORY),
    Opt("batch-size", None, ["batch-size"], 1, refused=_IN_MEMORY),
    Opt("g", "g", ["general-numeric-sort"], refused=N_("is not available; use -n")),
    Opt("M", "M", ["month-sort"], refused=NOT_HERE),
    Opt("R", "R", ["random-sort"], refused=NOT_HERE),
    Opt("d", "d", ["dictionary-order"], refused=NOT_HERE),
    Opt("i", "i", ["ignore-nonprinting"], refused=NOT_HERE),
    ZERO,
    Opt("debug", None, ["debug"], refused=NOT_HERE),
    *HELP,
)
_SORT_KEY_LETTERS = "bfnhVr"


def _sort_key(spec: str) -> dict:
    """-k POS1[,POS2] (F[.C][OPTS]) parsed like GNU sort."""
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?([a-zA-Z]*)(?:,(\d+)(?:\.(\d+))?([a-zA-Z]*))?", spec)
    if not m:
        raise FilterError(msg("sort -k {key} is not a key; write FIELD[.CHAR][OPTS][,FIELD[.CHAR][OPTS]], "
                              "e.g. -k2,2n", key=repr(spec)))
    sf, sc, sopts, ef, ec, eopts = m.groups()
    key = {"sword": int(sf[:9]) - 1, "schar": 0, "eword": SIZE_MAX, "echar": 0,
           "skipsblanks": False, "skipeblanks": False}
    if key["sword"] < 0:
        raise FilterError(msg("sort -k {key}: fields are numbered from 1", key=repr(spec)))
    if sc is not None:
        key["schar"] = int(sc[:9]) - 1
        if key["schar"] < 0:
            raise FilterError(msg("sort -k {key}: characters are numbered from 1", key=repr(spec)))
    if key["sword"] == 0 and key["schar"] == 0:
        key["sword"] = SIZE_MAX
    if ef is not None:
        key["eword"] = int(ef[:9]) - 1
        if key["eword"] < 0:
            raise FilterError(msg("sort -k {key}: fields are numbered from 1", key=repr(spec)))
        key["echar"] = int(ec[:9]) if ec else 0
    for letters, where in ((sopts, "skipsblanks"), (eopts or "", "skipeblanks")):
        for letter in letters:
            if letter not in _SORT_KEY_LETTERS:
                raise FilterError(msg("sort -k {key}: the key option {letter} is not available "
                                      "(key options: {letters})", key=repr(spec), letter=repr(letter),
                                      letters=" ".join(_SORT_KEY_LETTERS)))
            if letter == "b":
                key[where] = True
            else:
                key[letter] = True
    _sort_check_kinds(key, spec)
    return key


def _sort_check_kinds(key: dict, spec: str | None) -> None:
    """-n, -h and -V do not go together, in the key -k SPEC or (SPEC None) in the options."""
    kinds = [k for k in "nhV" if key.get(k)]
    if len(kinds) > 1:
        options = "-" + "".join(kinds)
        if spec is None:
            raise FilterError(msg("sort options: {options} cannot be combined; choose one of -n -h -V",
                                  options=options))
        raise FilterError(msg("sort -k {key}: {options} cannot be combined; choose one of -n -h -V",
                              key=spec, options=options))


def parse_sort(args: Sequence[str]) -> Filter:
    opts, operands = getopt("sort", args, _SORT_TABLE, _SORT_ALLOWED)
    if operands:
        raise file_operand("sort", operands[0], _SORT_ALLOWED)
    glob = {"skipsblanks": False, "skipeblanks": False}
    keys, tab, unique, stable = [], None, False, False
    for key, value, _ in opts:
        if key in ("r", "n", "h", "V", "f"):
            glob[key] = True
        elif key == "sortname":
            names = {"numeric": "n", "human-numeric": "h", "version": "V"}
            if value not in names:
                raise FilterError(msg("sort --sort={value} is not available (numeric, human-numeric, version)",
                                      value=value))
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
                raise FilterError(msg("sort -t takes a single character, not {value}", value=repr(value)))
            if tab is not None and tab != value:
                raise FilterError(msg("sort -t was given twice with different separators"))
            tab = value
    _sort_check_kinds(glob, None)
    ordering = ("skipsblanks", "skipeblanks", "f", "n", "h", "V")
    for key in keys:
        if not any(key.get(k) for k in ordering + ("r",)):
            for k in ordering + ("r",):
                key[k] = glob.get(k, False)
    if not keys and any(glob.get(k) for k in ordering):
        keys = [dict(glob, sword=SIZE_MAX, schar=0, eword=SIZE_MAX, echar=0)]
    spec = {"keys": keys, "tab": tab, "unique": unique, "stable": stable, "reverse": bool(glob.get("r"))}
    return Sort(spec)


class Sort(Buffered):
    """sort: GNU sort's order (C.UTF-8: code point order), computed in the sandbox."""

    name = "sort"

    def __init__(self, spec: dict):
        super().__init__()
        self.spec = spec

    def _close(self) -> str:
        text = self._input()
        if not text:
            return ""
        got = answer(self, {"op": "sort", "spec": self.spec, "text": text}, SORT_SECONDS, 2,
                     lambda reply: isinstance(reply.get("out"), str))
        return "" if got is None else got["out"]
