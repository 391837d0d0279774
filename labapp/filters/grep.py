"""grep: the lines of the piped output that match (or not), with context, counts, -o and -m,
as GNU grep prints them; the patterns are translated by posixre and matched in the sandbox,
one child per grep for all its batches."""
from __future__ import annotations

import collections
import re
from typing import Sequence

from ..i18n import N_, msg, said
from .base import GREP_BUDGET, GREP_SECONDS, Filter, FilterError
from .options import NOT_HERE, NUL_BYTES, Lines, Opt, getopt
from .posixre import grep_regex
from .sandbox import JobFailed, Session, nonsense

_GREP_ALLOWED = ("-i -v -c -n -w -x -E -F -G -o -q -s -h -a -e PATTERN -m N -A/-B/-C N -NUM "
                 "--color=never --group-separator=SEP --no-group-separator")
_FILES = N_("reads files; here grep reads only the piped output")
_NAMES_FILES = N_("names files; here grep reads only the piped output")
_GREP_TABLE = (
    Opt("i", "i", ["ignore-case"]), Opt("noi", None, ["no-ignore-case"]), Opt("i", "y", []),
    Opt("v", "v", ["invert-match"]), Opt("c", "c", ["count"]), Opt("n", "n", ["line-number"]),
    Opt("w", "w", ["word-regexp"]), Opt("x", "x", ["line-regexp"]),
    Opt("E", "E", ["extended-regexp"]), Opt("F", "F", ["fixed-strings"]), Opt("G", "G", ["basic-regexp"]),
    Opt("o", "o", ["only-matching"]), Opt("q", "q", ["quiet", "silent"]),
    Opt("s", "s", ["no-messages"]), Opt("h", "h", ["no-filename"]), Opt("a", "a", ["text"]),
    Opt("e", "e", ["regexp"], 1), Opt("m", "m", ["max-count"], 1),
    Opt("A", "A", ["after-context"], 1), Opt("B", "B", ["before-context"], 1), Opt("C", "C", ["context"], 1),
    Opt("color", None, ["color", "colour"], 2),
    Opt("gsep", None, ["group-separator"], 1), Opt("nogsep", None, ["no-group-separator"]),
    Opt("line-buffered", None, ["line-buffered"]),
    Opt("f", "f", ["file"], 1, refused=N_("reads patterns from a file; give the pattern itself (-e PATTERN)")),
    Opt("r", "r", ["recursive"], refused=_FILES), Opt("R", "R", ["dereference-recursive"], refused=_FILES),
    Opt("d", "d", ["directories"], 1, refused=_FILES), Opt("D", "D", ["devices"], 1, refused=_FILES),
    Opt("include", None, ["include"], 1, refused=_FILES), Opt("exclude", None, ["exclude"], 1, refused=_FILES),
    Opt("exclude-from", None, ["exclude-from"], 1, refused=_FILES),
    Opt("exclude-dir", None, ["exclude-dir"], 1, refused=_FILES),
    Opt("l", "l", ["files-with-matches"], refused=_NAMES_FILES),
    Opt("L", "L", ["files-without-match"], refused=_NAMES_FILES),
    Opt("H", "H", ["with-filename"], refused=_NAMES_FILES),
    Opt("label", None, ["label"], 1, refused=_NAMES_FILES),
    Opt("P", "P", ["perl-regexp"], refused=N_("(Perl regular expressions) is not available; use -E")),
    Opt("b", "b", ["byte-offset"], refused=NOT_HERE),
    Opt("u", "u", ["unix-byte-offsets"], refused=NOT_HERE),
    Opt("T", "T", ["initial-tab"], refused=NOT_HERE),
    Opt("U", "U", ["binary"], refused=NOT_HERE),
    Opt("z", "z", ["null-data"], refused=NUL_BYTES),
    Opt("Z", "Z", ["null"], refused=NOT_HERE),
    Opt("binary-files", None, ["binary-files"], 1, refused=NOT_HERE),
    Opt("V", "V", ["version"], refused=NOT_HERE),
    Opt("help", None, ["help"], refused=NOT_HERE),
)


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
        self.lines = Lines(self)
        self.lineno = 0
        self.count = 0
        self.last_out: int | None = None  # number of the last line output (or virtually output)
        self.held: collections.deque[tuple[int, str]] = collections.deque(maxlen=max(self.before, 0) or 1)
        self.after_left = 0
        self.stopped = False           # -m reached: only trailing context remains
        self.session: Session | None = None
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
            self.session = Session({"op": "grep-session", "regex": self.regex, "flags": self.flags,
                                    "only": self.only and not self.invert, "varies": self.varies,
                                    "plain": self.plain, "word": self.word},
                                   GREP_SECONDS, GREP_BUDGET)
        try:
            got = self.session.call({"lines": lines})
        except JobFailed as exc:
            raise JobFailed(msg("{reason} (grep may use {seconds} s on one piece of output and {budget} s in all)",
                                reason=said(exc), seconds=format(GREP_SECONDS, "g"),
                                budget=format(GREP_BUDGET, "g"))) from None
        hits, spans = got.get("hits"), got.get("spans") or {}
        result: list = [None] * len(lines)
        try:   # the reply comes from a process that runs learner input: check its shape
            for index in hits:
                found = spans.get(str(index), [])
                result[index] = [(int(a), int(b)) for a, b in found]
                if not 0 <= index < len(lines):
                    raise IndexError(index)
        except (TypeError, ValueError, IndexError, AttributeError):
            raise JobFailed(nonsense()) from None
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
        except JobFailed as exc:
            self.note(said(exc))
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
        raise FilterError(msg("grep {option} takes a number of lines, not {value}", option=spelled, value=repr(value)))
    return int(value[:9])


def parse_grep(args: Sequence[str]) -> Filter:
    opts, operands = getopt("grep", args, _GREP_TABLE, _GREP_ALLOWED, digits=True)
    patterns: list[str] | None = None
    kind = None
    flags = dict(invert=False, count=False, quiet=False, numbers=False, only=False, max_count=None,
                 before=-1, after=-1, context_given=False, group_sep="--")
    ignore = word = line = False
    default_context = -1
    for key, value, spelled in opts:
        if key in ("E", "F", "G"):
            if kind is not None and kind != key:
                raise FilterError(msg("grep takes one kind of pattern: -E (extended), -F (fixed strings) "
                                      "or -G (basic), not two"))
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
                raise FilterError(msg("grep -m takes a number of matches, not {value}", value=repr(value)))
            number = int(value[:12])
            flags["max_count"] = None if number < 0 else number
        elif key in ("A", "B"):
            flags["after" if key == "A" else "before"] = _context_number(value, spelled)
        elif key in ("C", "NUM"):
            default_context = _context_number(value, spelled)
        elif key == "color":
            if value not in (None, "never", "auto", "none", "tty", "if-tty", "no"):
                raise FilterError(msg("grep --color=always is not available: the console shows plain text "
                                      "(--color=never and --color=auto are accepted)"))
        elif key == "gsep":
            flags["group_sep"] = value
        elif key == "nogsep":
            flags["group_sep"] = None
    if patterns is None:
        if not operands:
            raise FilterError(msg("grep needs a pattern, as in grep Running (allowed options: {allowed})",
                                  allowed=_GREP_ALLOWED))
        patterns = operands[0].split("\n")
        operands = operands[1:]
    if operands:
        raise FilterError(msg("grep reads only the piped output: give it a pattern, not a file ({operand}) "
                              "(allowed options: {allowed})", operand=repr(operands[0]), allowed=_GREP_ALLOWED))
    if flags["after"] < 0:
        flags["after"] = default_context
    if flags["before"] < 0:
        flags["before"] = default_context
    flags["context_given"] = flags["after"] >= 0 or flags["before"] >= 0
    flags["after"], flags["before"] = max(flags["after"], 0), max(flags["before"], 0)
    regex, plain, varies = grep_regex(patterns, kind or "G", word, line)
    re_flags = re.IGNORECASE if ignore else 0
    if len(regex) > 200_000:
        raise FilterError(msg("grep: the pattern is too large"))
    try:
        re.compile(regex, re_flags)
    except (re.error, RecursionError, OverflowError) as exc:
        raise FilterError(msg("grep cannot use this pattern: {error}", error=str(exc))) from None
    flags["plain"] = plain
    flags["word"] = word and not line
    return Grep(regex, re_flags, varies, flags)

