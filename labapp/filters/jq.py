"""jq: its options read as jq reads them, the program checked by jqlex, and the program run
over the piped JSON in the sandbox (jail/jqrun.py), its output and exit status as the jq CLI's."""
from __future__ import annotations

import json
import re
from typing import Sequence

from ..i18n import N_, msg
from .base import JQ_SECONDS, MAX_OUTPUT, MIB, Buffered, Filter, FilterError
from .jqlex import IDENT, bindable, check
from .options import NOT_HERE, no_such_option, refused
from .sandbox import answer

_JQ_ALLOWED = N_("-r -j -c -a -S -M -n -s -R -e --tab --indent N --arg NAME VALUE "
                 "--argjson NAME JSON, and one program")
_JQ_FLAGS = {"r": "raw", "j": "join", "a": "ascii", "c": "compact", "S": "sort", "M": "mono",
             "n": "null", "s": "slurp", "R": "rawin", "e": "exit"}
_JQ_LONG = {"raw-output": "r", "join-output": "j", "ascii-output": "a", "compact-output": "c",
            "sort-keys": "S", "monochrome-output": "M", "null-input": "n", "slurp": "s",
            "raw-input": "R", "exit-status": "e"}
_FROM_FILE = N_("reads the program from a file; give the program itself")
_MODULES = N_("names a module directory; jq programs here cannot import modules")
_READS_A_FILE = N_("reads a file; jq reads only the piped output")
_COLOURS = N_("colours the output; the console shows plain text")
_JQ_REFUSED = {
    "f": _FROM_FILE, "from-file": _FROM_FILE, "L": _MODULES, "library-path": _MODULES,
    "rawfile": _READS_A_FILE, "slurpfile": _READS_A_FILE,
    "args": N_("turns the other arguments into values; pass them with --arg NAME VALUE"),
    "jsonargs": N_("turns the other arguments into values; pass them with --argjson NAME JSON"),
    "C": _COLOURS, "color-output": _COLOURS,
    "seq": NOT_HERE, "stream": NOT_HERE, "stream-errors": NOT_HERE, "raw-output0": NOT_HERE,
    "0": NOT_HERE, "nul-output": NOT_HERE, "h": NOT_HERE, "help": NOT_HERE, "V": NOT_HERE, "version": NOT_HERE,
    "build-configuration": NOT_HERE, "run-tests": NOT_HERE, "debug-dump-disasm": NOT_HERE, "debug-trace": NOT_HERE,
    "unbuffered": None,
}


class Jq(Buffered):
    """jq: one program over the piped JSON, run in the sandbox; output like the jq CLI."""

    name = "jq"
    INPUT_CUT = N_("input cut at {size}; the values after it were not read")

    def __init__(self, program: str, named: dict, opts: dict):
        super().__init__()
        self.program, self.named, self.opts = program, named, opts

    def _feed(self, text: str) -> str:
        if self.opts["null"]:   # jq -n reads no input
            return ""
        return super()._feed(text)

    def _close(self) -> str:
        text = self._input()
        if not text.strip() and not (self.opts["null"] or self.opts["slurp"]):
            self.status = 4 if self.opts["exit"] else 0
            return ""
        got = answer(self, {"op": "jq", "program": self.program, "named": self.named, "opts": self.opts,
                            "text": text, "cap": MAX_OUTPUT, "seconds": JQ_SECONDS}, JQ_SECONDS, 5, _sound)
        if got is None:
            return ""
        status = got.get("status", 0)
        self.status = status if isinstance(status, int) and 0 <= status < 256 else 5
        self.notes.extend(e[:2000] for e in got.get("errors", [])[:21])   # jq's own words
        if got.get("stopped"):
            self.note(msg("stopped after {seconds} s; the output so far is shown",
                          seconds=format(got["stopped"], ".1f")))
        if got.get("unprepared"):
            self.note(msg("the program could not be prepared"))
        if got.get("cut"):
            self.note(msg("output cut at {size}", size=MIB))
        return got.get("out", "")


def _sound(reply: dict) -> bool:
    """Whether the sandbox's REPLY to a jq job has the shape jail/jqrun.py gives it."""
    out, errors, stopped = reply.get("out", ""), reply.get("errors", []), reply.get("stopped", 0)
    return (isinstance(out, str) and isinstance(errors, list) and all(isinstance(e, str) for e in errors)
            and isinstance(stopped, (int, float)))


def parse_jq(args: Sequence[str]) -> Filter:
    opts = {v: False for v in _JQ_FLAGS.values()}
    opts["indent"] = 2       # spaces; 0 = compact; -1 = tab
    named: dict = {}
    program = None
    i = 0
    only_operands = False
    allowed = msg(_JQ_ALLOWED)

    def set_flag(letter: str) -> None:
        opts[_JQ_FLAGS[letter]] = True
        if letter == "c":
            opts["indent"] = 0
        elif letter == "j":
            opts["raw"] = True

    def arg_name(spelled: str) -> tuple[str, str]:
        if i + 2 > len(args):
            raise FilterError(msg("jq {option} needs a NAME and a value (allowed options: {allowed})",
                                  option=spelled, allowed=allowed))
        name, value = args[i], args[i + 1]
        if not IDENT.fullmatch(name):
            raise FilterError(msg("jq {option} {name}: a variable name is letters, digits and _ "
                                  "(allowed options: {allowed})", option=spelled, name=repr(name), allowed=allowed))
        bindable(name)
        return name, value

    def bad_indent() -> FilterError:
        return FilterError(msg("jq --indent takes a number between -1 and 7 (allowed options: {allowed})",
                               allowed=allowed))

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
                    raise bad_indent()
                number = int(args[i][:4])
                i += 1
                if not -1 <= number <= 7:
                    raise bad_indent()
                opts["indent"] = number
            elif name in ("arg", "argjson"):
                key, value = arg_name(arg)
                i += 2
                if name == "argjson":
                    try:
                        value = json.loads(value, parse_constant=_no_constant)
                    except (ValueError, RecursionError):
                        raise FilterError(msg("jq --argjson {name}: the value is not JSON text "
                                              "(allowed options: {allowed})", name=key, allowed=allowed)) from None
                named.setdefault(key, value)
            elif name in _JQ_REFUSED:
                if _JQ_REFUSED[name] is None:
                    continue
                raise refused("jq", f"--{name}", _JQ_REFUSED[name], allowed)
            else:
                raise no_such_option("jq", f"--{name}", allowed)
            continue
        if not only_operands and arg.startswith("-") and len(arg) > 1:
            for letter in arg[1:]:
                if letter in _JQ_FLAGS:
                    set_flag(letter)
                elif letter in _JQ_REFUSED and _JQ_REFUSED[letter]:
                    raise refused("jq", f"-{letter}", _JQ_REFUSED[letter], allowed)
                else:
                    raise no_such_option("jq", f"-{letter}", allowed)
            continue
        if program is None:
            program = arg
            continue
        raise FilterError(msg("jq reads only the piped output: {operand} would be a file; give one program "
                              "(allowed options: {allowed})", operand=repr(arg), allowed=allowed))
    if program is None:
        program = "."
    for value in list(named.values()) + [program]:
        if isinstance(value, str) and "\0" in value:
            raise FilterError(msg("jq: a NUL character cannot be passed to jq"))
    if not check(program, list(named)):
        program = "."
    return Jq(program, named, opts)


def _no_constant(name: str):
    raise ValueError(name)
