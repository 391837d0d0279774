"""The console grammar: one parse of a line into argv segments (see labapp/console/__init__.py)."""
from __future__ import annotations

import unicodedata

from ..i18n import N_, msg


class Refusal(Exception):
    """A console line is refused; the message is the learner-readable reason."""

    @property
    def reason(self) -> str:
        return self.args[0] if len(self.args) == 1 and isinstance(self.args[0], str) else str(self)


# --------------------------------------------------------------------------- the grammar

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_SUBSTITUTION = N_("substitutions and variables ($..., `...`) are not allowed in the console; "
                   "in single quotes $ and ` are plain characters")
_ONE_COMMAND = N_("one command per line: ';' and new lines are not allowed")
_EMPTY_PIPE = N_("an empty command around '|': put a command on each side of a pipe")
EMPTY = N_("the line is empty: type a docker command, e.g. docker node ls")
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _char_name(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()


def _check_characters(line: str) -> None:
    for ch in line:
        if ch == " " or (" " < ch < "\x7f"):
            continue
        category = unicodedata.category(ch)
        if ch in _LINE_BREAKS:
            raise Refusal(msg(_ONE_COMMAND))
        if category == "Cc":
            raise Refusal(msg("the line contains a control character ({character}): "
                              "type plain text with spaces between words", character=_char_name(ch)))
        if category in ("Cf", "Cs", "Zs", "Zl", "Zp"):
            raise Refusal(msg("the line contains an invisible or unusual space character ({character}): "
                              "retype it with plain spaces", character=_char_name(ch)))


def split(line: str) -> tuple[tuple[str, ...], ...]:
    """The argv segments of LINE under the console grammar (see the module), or Refusal."""
    _check_characters(line)
    segments: list[tuple[str, ...]] = []
    words: list[str] = []
    word: list[str] | None = None  # None: between words
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == " ":
            if word is not None:
                words.append("".join(word))
                word = None
        elif ch == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise Refusal(msg("a {quote} quote is never closed", quote="'"))
            word = (word or []) + [line[i + 1:end]]
            i = end
        elif ch == '"':
            piece, i = _double_quoted(line, i + 1)
            word = (word or []) + [piece]
        elif ch == "\\":
            if i + 1 >= n:
                raise Refusal(msg("the line ends with a backslash that escapes nothing"))
            word = (word or []) + [line[i + 1]]
            i += 1
        elif ch == "|":
            if line.startswith("||", i):
                raise Refusal(msg("'||' is not allowed: one command, optionally piped into filters"))
            if word is not None:
                words.append("".join(word))
                word = None
            if not words:
                raise Refusal(msg(_EMPTY_PIPE))
            segments.append(tuple(words))
            words = []
        elif ch == ";":
            raise Refusal(msg(_ONE_COMMAND))
        elif ch == "&":
            raise Refusal(msg("'&' and '&&' are not allowed: one command per line, nothing in the background"))
        elif ch in "<>":
            raise Refusal(msg("redirects (<, >) are not allowed: the console shows output, it writes no files"))
        elif ch in "$`":
            raise Refusal(msg(_SUBSTITUTION))
        elif ch in "()" or (ch == "#" and word is None):
            raise Refusal(msg("'{character}' is shell syntax the console does not run; quote it if it is an argument",
                              character=ch))
        else:
            if word is None and ch in _DASHES:
                end = line.find(" ", i)
                typed = line[i:end if end >= 0 else n]
                raise Refusal(msg("'{word}' starts with {character}, not a hyphen: type options with a plain '-'",
                                  word=show(typed, 40), character=_char_name(ch)))
            word = (word or []) + [ch]
        i += 1
    if word is not None:
        words.append("".join(word))
    if not words:
        if segments:
            raise Refusal(msg(_EMPTY_PIPE))
        raise Refusal(msg(EMPTY))
    segments.append(tuple(words))
    return tuple(segments)


def _double_quoted(line: str, i: int) -> tuple[str, int]:
    """The text of a "..." starting at I (after the quote) and the index of its closing quote."""
    out = []
    while True:
        if i >= len(line):
            raise Refusal(msg("a {quote} quote is never closed", quote='"'))
        ch = line[i]
        if ch == '"':
            return "".join(out), i
        if ch == "\\" and i + 1 < len(line) and line[i + 1] in '"\\':
            out.append(line[i + 1])
            i += 2
            continue
        if ch in "$`":
            raise Refusal(msg(_SUBSTITUTION))
        out.append(ch)
        i += 1


def quote(word: str) -> str:
    """WORD written so that split() reads it back as one word (single quotes where needed)."""
    if word and all(c.isalnum() or c in "-_./:=,+@%^" for c in word) and word[0] not in _DASHES:
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def join(segments) -> str:
    """A console line that split() reads back as SEGMENTS."""
    return " | ".join(" ".join(quote(w) for w in argv) for argv in segments)


def show(value: str, limit: int = 80) -> str:
    if value == "":
        return "''"
    return value if len(value) <= limit else value[:limit - 1] + "…"
