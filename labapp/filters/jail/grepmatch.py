"""Inside the sandbox, for grep: which lines of a batch match, and for -o the spans GNU grep
prints (POSIX leftmost-longest, found from Python's leftmost-first matches)."""
from __future__ import annotations

import bisect
import re


def answer(job: dict, rx: re.Pattern | None = None) -> dict:
    """Which lines of JOB match, and the -o spans as GNU grep finds them."""
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
