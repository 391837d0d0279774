"""Display names in a workshop: what a learner may call themselves, and when two names are
the same to a trainer's eye.

A name is shown on the trainer's dashboard and in the results, next to the others of the
room. So it is normalised (NFKC, one space between words), and refused when it holds what a
reader cannot see or that rearranges what is around it (controls, format characters such as
bidi overrides and zero-width joiners, private-use and unassigned code points, line
separators), or a word that mixes Latin, Greek and Cyrillic letters (the homoglyphs of
"Аnn" with a Cyrillic А). Two names clash when their skeletons match: case folded, and the
Greek and Cyrillic letters that look like Latin ones read as those (after Unicode's UTS #39
confusables, for the letters that matter in names)."""
from __future__ import annotations

import unicodedata

from ..i18n import msg

MAX_LENGTH = 40
_REFUSED_CATEGORIES = {"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"}
# letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern)
_BLANKS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
_LOOKALIKE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")

# Greek and Cyrillic letters that look like a Latin one (UTS #39 confusables, letters only).
_AS_LATIN = str.maketrans({
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j",
    "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ν": "v", "ι": "i", "κ": "k", "ρ": "p", "υ": "u",
})


class BadName(ValueError):
    """A display name refused; its argument (a Message) says what to change."""


def _script(char: str) -> str | None:
    """LATIN, GREEK or CYRILLIC for a letter of those scripts, else None."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    return next((s for s in _LOOKALIKE_SCRIPTS if name.startswith(s + " ")), None)


def display_name(raw) -> str:
    """RAW as a display name (normalised), or BadName that says what to change."""
    text = unicodedata.normalize("NFKC", raw if isinstance(raw, str) else "")
    for char in text:
        if (unicodedata.category(char) in _REFUSED_CATEGORIES or char in _BLANKS) and char not in "\t\n\r":
            code = "U+%04X" % ord(char)
            raise BadName(msg("a display name may not hold invisible or control characters (it holds {char})",
                              char=code))
    name = " ".join(text.split())
    if not 1 <= len(name) <= MAX_LENGTH or "<" in name or ">" in name:
        raise BadName(msg("a display name is 1 to 40 characters (no < or >)"))
    for word in name.split(" "):
        scripts = {s for s in map(_script, word) if s}
        if len(scripts) > 1:
            raise BadName(msg("a display name may not mix Latin, Greek and Cyrillic letters in one word "
                                 "('{word}'): they look alike", word=word))
    return name


def skeleton(name: str) -> str:
    """What NAME looks like, for telling whether two names would be taken for each other."""
    folded = unicodedata.normalize("NFKC", name).translate(_AS_LATIN).casefold()
    return " ".join(folded.split())
