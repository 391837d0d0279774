"""Reading a filter's arguments as GNU getopt_long does (permuting, abbreviations, clusters,
--) against an allow-list, coreutils counts, the refusals the filters share, and Lines, which
splits fed text into lines."""
from __future__ import annotations

import re
from typing import Sequence

from ..i18n import N_, Message, msg
from .base import MAX_LINE, MIB, Filter, FilterError

# Why an option is refused, said after its name: "head -z splits on NUL bytes, ..."
NOT_HERE = N_("is not available in the console")
NUL_BYTES = N_("splits on NUL bytes, which console output has not")


class Opt:
    """One option of an allow-list: its key, -X, --long names, whether it takes a value
    (0 no, 1 yes, 2 only as --long=VALUE) and, for an option that is refused, why."""

    __slots__ = ("key", "short", "longs", "arg", "refused")

    def __init__(self, key, short=None, longs=(), arg=0, refused=None):
        self.key, self.short, self.longs, self.arg, self.refused = key, short, tuple(longs), arg, refused


# --help, --version and -z are refused the same way by head, tail, cut and sort (wc has no -z).
HELP = (Opt("help", None, ["help"], refused=NOT_HERE), Opt("version", None, ["version"], refused=NOT_HERE))
ZERO = Opt("z", "z", ["zero-terminated"], refused=NUL_BYTES)


def refused(program: str, option: str, why: str, allowed: str) -> FilterError:
    """PROGRAM's OPTION is refused for the reason WHY (an N_ sentence)."""
    return FilterError(msg("{program} {option} {refusal} (allowed options: {allowed})",
                           program=program, option=option, refusal=msg(why), allowed=allowed))


def no_such_option(program: str, option: str, allowed: str) -> FilterError:
    return FilterError(msg("{program} has no option {option} here (allowed options: {allowed})",
                           program=program, option=option, allowed=allowed))


def file_operand(program: str, operand: str, allowed: str) -> FilterError:
    """An operand that the real PROGRAM would open as a file."""
    return FilterError(msg("{program} reads only the piped output: {operand} would be a file "
                           "(allowed options: {allowed})", program=program, operand=repr(operand), allowed=allowed))


def getopt(prog: str, args: Sequence[str], table: Sequence[Opt], allowed: str | Message,
           digits: bool = False) -> tuple[list[tuple[str, str | None, str]], list[str]]:
    """Parse ARGS like getopt_long: ([(key, value, as typed)], operands). DIGITS: -NUM options."""
    shorts = {o.short: o for o in table if o.short}
    longs = {name: o for o in table for name in o.longs}
    opts, operands = [], []
    i = 0

    def take(o: Opt, spelled: str, value: str | None) -> None:
        if o.refused:
            raise refused(prog, spelled, o.refused, allowed)
        opts.append((o.key, value, spelled))

    def needs_value(spelled: str) -> FilterError:
        return FilterError(msg("{program} {option} needs a value (allowed options: {allowed})",
                               program=prog, option=spelled, allowed=allowed))

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
                    raise no_such_option(prog, f"--{name}", allowed)
                if len(hits) > 1:
                    names = sorted("--" + n for n in longs if n.startswith(name))
                    raise FilterError(msg("{program} {option} is ambiguous ({candidates}) (allowed options: {allowed})",
                                          program=prog, option="--" + name, candidates=", ".join(names),
                                          allowed=allowed))
                o = next(iter(hits.values()))
            spelled = "--" + (o.longs[0] if o.longs else name)
            if o.arg == 0 and eq:
                raise FilterError(msg("{program} {option} takes no value (allowed options: {allowed})",
                                      program=prog, option=spelled, allowed=allowed))
            if o.arg == 1 and not eq:
                if i >= len(args):
                    raise needs_value(spelled)
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
                    raise no_such_option(prog, f"-{c}", allowed)
                if o.arg == 1:
                    value = arg[j:]
                    if not value:
                        if i >= len(args):
                            raise needs_value(f"-{c}")
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
_INVALID_COUNT = {
    "lines": N_("{program}: invalid number of lines: {value} (a whole number, optionally with a suffix "
                "like K, M, kB)"),
    "bytes": N_("{program}: invalid number of bytes: {value} (a whole number, optionally with a suffix "
                "like K, M, kB)"),
}


def gnu_count(prog: str, what: str, value: str) -> tuple[int, str]:
    """A coreutils count of WHAT ('lines' or 'bytes': '10', '+3', '-2', '1K', '2kB', '1MiB',
    '3b') -> (number, sign)."""
    m = re.fullmatch(r"([+-]?)(\d+)(?:(b)|([kKmMGTPEZYRQ])(iB|B)?)?", value.lstrip(" \t"))
    if not m:
        raise FilterError(msg(_INVALID_COUNT[what], program=prog, value=repr(value)))
    sign, digits, blocks, letter, unit = m.groups()
    n = int(digits[:40])  # a count past 10**40 is as good as infinite here
    if blocks:
        n *= 512
    elif letter:
        n *= (1000 if unit == "B" else 1024) ** _SIZE_POWER[letter]
    return n, sign


class Lines:
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
            self.owner.note(msg("a line longer than {size} characters was cut there", size=MIB))
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
