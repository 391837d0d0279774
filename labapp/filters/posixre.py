"""POSIX regular expressions as GNU grep reads them (BRE and ERE, bracket expressions and
classes in a UTF-8 locale, GNU's escapes), translated to Python re for the sandbox to run;
a pattern grep would reject is a FilterError."""
from __future__ import annotations

import re
import unicodedata

from ..i18n import msg
from .base import FilterError

_RE_DUP_MAX = 32767
_CLASS_NAMES = ("alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct",
                "print", "graph", "cntrl", "xdigit")
_CLASS_LIST = " ".join("[:" + n + ":]" for n in _CLASS_NAMES)
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
            raise FilterError(msg("grep: a bracket expression '[' is never closed with ']'"))
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
                raise FilterError(msg("grep: a bracket expression '[' is never closed with ']'"))
            name = p[j + 2:end]
            j = end + 2
            if kind == ":":
                if name not in _CLASS_NAMES:
                    raise FilterError(msg("grep: {name} is not a character class; the classes are {classes}",
                                          name="[:" + name + ":]", classes=_CLASS_LIST))
                classes.append(_posix_class(name))
                continue
            if len(name) != 1:
                raise FilterError(msg("grep: {element} names more than one character",
                                      element="[" + kind + name + kind + "]"))
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
                    raise FilterError(msg("grep: a range in a bracket expression is malformed"))
                end_char = p[j + 1]
                j = end + 2
            if ord(end_char) < ord(start_char):
                raise FilterError(msg("grep: the range {range} goes backwards", range=start_char + "-" + end_char))
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


def translate(p: str, extended: bool, group_offset: int) -> tuple[str, int, bool]:
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
        nonlocal atom, after_quantifier
        out.append(text)
        atom = None
        after_quantifier = False

    def quantify(q: str, shown: str) -> None:
        nonlocal after_quantifier, varies
        if atom is None:
            raise FilterError(msg("grep: {operator} has nothing before it to repeat; write {escaped} for the "
                                  "character itself", operator=repr(shown),
                                  escaped="\\" + (shown[-1] if shown[-1] != "}" else "{")))
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
            # TRANSLATORS: {{ and }} are a brace each
            raise FilterError(msg("grep: an interval {{}} needs a count, as in {{2}} or {{1,3}}"))
        low = int(lo[:6]) if lo else 0
        high = (int(hi[:6]) if hi else None) if comma else low
        if (high if high is not None else low) > _RE_DUP_MAX or low > _RE_DUP_MAX:
            raise FilterError(msg("grep: a repeat count above {limit} is too big", limit=_RE_DUP_MAX))
        if high is not None and high < low:
            raise FilterError(msg("grep: the interval {interval} counts backwards", interval="{" + lo + "," + hi + "}"))
        q = "{%d}" % low if not comma else ("{%d,}" % low if high is None else "{%d,%d}" % (low, high))
        return q, m.end()

    while i < n:
        c = p[i]
        if c == "\\":
            if i + 1 >= n:
                raise FilterError(msg("grep: the pattern ends with a lone backslash"))
            d = p[i + 1]
            i += 2
            if d in "123456789":
                ref = int(d)
                if ref > groups_closed:
                    raise FilterError(msg("grep: {reference} refers to a group that is not closed before it",
                                          reference="\\" + d))
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
                    raise FilterError(msg("grep: \\) has no \\( before it"))
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
                    # TRANSLATORS: {{ and }} are a brace each
                    raise FilterError(msg("grep: \\{{ is not closed by a valid \\}}"))
                if atom is None:
                    # TRANSLATORS: {{ and }} are a brace each
                    raise FilterError(msg("grep: \\{{...\\}} has nothing before it to repeat"))
                quantify(got[0], "\\{")
                i = got[1]
            elif not extended and d == "}":
                add_atom(r"\}")
            elif d.isalnum() or d == "_" or ord(d) > 127:
                if d in "dD":
                    raise FilterError(msg("grep: {escape} is not a grep escape (use [0-9] for a digit); the escapes "
                                          "are \\w \\W \\s \\S \\b \\B \\< \\> and \\ before a special "
                                          "character", escape="\\" + d))
                raise FilterError(msg("grep: {escape} is not a grep escape; the escapes are \\w \\W \\s \\S "
                                      "\\b \\B \\< \\> and \\ before a special character", escape="\\" + d))
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
        raise FilterError(msg("grep: a group '(' is never closed"))
    return "".join(out), groups_total, varies


def grep_regex(patterns: list[str], kind: str, word: bool, line: bool) -> tuple[str, str, bool]:
    """All of grep's patterns as one Python re source (with -w/-x applied), the same without
    -w/-x, and whether match lengths can vary."""
    parts, groups, varies = [], 0, False
    for pat in patterns:
        if kind == "F":
            parts.append(re.escape(pat))
            continue
        src, opened, var = translate(pat, kind == "E", groups)
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

