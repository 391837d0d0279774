"""Inside the sandbox, for sort: GNU sort's order in C.UTF-8 (code points), with its keys
(-k F.C,F.C, -t), -n, -h, -V, -f, -r, -u and -s, by multi-pass stable sorting."""
from __future__ import annotations

import re
from decimal import Decimal

SIZE_MAX = -1   # a key's field that runs to the end of the line (GNU's SIZE_MAX)

_FOLD = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NUM = re.compile(r"[ \t]*(-?)(\d*)(?:\.(\d*))?")
_UNIT_ORDER = {"K": 1, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6, "Z": 7, "Y": 8}


_BLANK_FIELD = re.compile(r"[ \t]*[^ \t]*")   # a field when no -t: its blanks, then the rest
_SKIP_BLANKS = re.compile(r"[ \t]*")


def _begfield(line: str, key: dict, tab: str | None) -> int:
    """Where KEY starts in LINE (GNU sort's begfield)."""
    ptr, lim = 0, len(line)
    if key["sword"] == SIZE_MAX:
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
    if key["eword"] == SIZE_MAX:
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


def answer(job: dict) -> dict:
    """JOB's text in GNU sort's order by multi-pass stable sorting."""
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
