"""Display names in a workshop: what a learner may call themselves, and when two names are
the same to a trainer's eye.

A name is shown on the trainer's dashboard and in the results, next to the others of the
room. So it is normalised (NFKC, one space between words), and refused when it holds what a
reader cannot see or that rearranges what is around it (controls, format characters such as
bidi overrides, Unicode's default-ignorable code points such as zero-width joiners and
variation selectors, private-use and unassigned code points, line separators), accents
stacked past MAX_MARKS on one letter, or a word that mixes the letters of different
scripts ("Аnn" with a Cyrillic А; kanji with kana, and Hangul with hanja, are allowed). Two
names clash when they share a skeleton (`skeletons`: after Unicode's UTS #39 confusables,
for the letters that matter in names)."""
from __future__ import annotations

import unicodedata

from ..i18n import msg

MAX_LENGTH = 40
MAX_MARKS = 3  # combining marks on one letter (Vietnamese and Indic letters need 2 or 3)
_REFUSED_CATEGORIES = {"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"}
_MARKS = {"Mn", "Mc", "Me"}
# Unicode's default-ignorable code points (DerivedCoreProperties.txt): they draw nothing.
_IGNORABLE = [(0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
              (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
              (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x16FE4, 0x16FE4),
              (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF)]
_BLANKS = {"\u2800"}  # a Braille pattern with no dots
# Scripts that one word may mix (Japanese writes kanji with kana, Korean may write hanja).
_MIXES = [{"HAN", "KANA"}, {"HANGUL", "HAN"}]
_SCRIPT_NAMES = {"CJK": "HAN", "HIRAGANA": "KANA", "KATAKANA": "KANA", "KATAKANA-HIRAGANA": "KANA"}

# Greek and Cyrillic letters that look like a Latin one (UTS #39 confusables, letters only),
# by their lower case (a skeleton is case folded first).
_AS_LATIN = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "х": "x", "у": "y", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "κ": "k", "μ": "m", "ν": "n", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "y", "χ": "x",
})
# Within Latin and digits, shapes that pass for each other (UTS #39: I and 1 as l, 0 as o,
# rn as m, vv as w): read so, before case folding (a capital I is an l, a small i is not).
_SHAPES = str.maketrans({"I": "l", "1": "l", "|": "l", "0": "o", "ı": "i", "ɑ": "a"})


class BadName(ValueError):
    """A display name refused; its argument (a Message) says what to change."""


def _script(char: str) -> str | None:
    """The script of a letter, by its Unicode name (LATIN, GREEK, CYRILLIC, HANGUL, HAN,
    KANA...); None for what is not a letter of a script (digits, marks, punctuation)."""
    if not char.isalpha():
        return None
    first = unicodedata.name(char, "").split(" ", 1)[0]
    if not first or first == "MODIFIER":
        return None
    return _SCRIPT_NAMES.get(first, first)


def _ignorable(char: str) -> bool:
    code = ord(char)
    return char in _BLANKS or any(low <= code <= high for low, high in _IGNORABLE)


def display_name(raw) -> str:
    """RAW as a display name (normalised), or BadName that says what to change."""
    text = unicodedata.normalize("NFKC", raw if isinstance(raw, str) else "")
    marks = 0
    for char in text:
        category = unicodedata.category(char)
        if (category in _REFUSED_CATEGORIES or _ignorable(char)) and char not in "\t\n\r":
            code = "U+%04X" % ord(char)
            raise BadName(msg("a display name may not hold invisible or control characters (it holds {char})",
                              char=code))
        marks = marks + 1 if category in _MARKS else 0
        if marks > MAX_MARKS:
            raise BadName(msg("a display name may not stack more than {n} accents on one letter", n=MAX_MARKS))
    name = " ".join(text.split())
    if not 1 <= len(name) <= MAX_LENGTH or "<" in name or ">" in name:
        raise BadName(msg("a display name is 1 to 40 characters (no < or >)"))
    for word in name.split(" "):
        scripts = {s for s in map(_script, word) if s}
        if len(scripts) > 1 and not any(scripts <= mix for mix in _MIXES):
            raise BadName(msg("a display name may not mix the letters of different scripts in one word ('{word}'): "
                              "some look alike", word=word))
    return name


def skeletons(name: str) -> set[str]:
    """What NAME looks like, for telling whether two names would be taken for each other:
    case folded with look-alike Greek and Cyrillic letters read as Latin, and the same with
    the shapes that pass for each other within Latin (I, l, 1; 0, o; rn, m). Two names
    clash when they share one."""
    text = " ".join(unicodedata.normalize("NFKC", name).split())
    folded = text.casefold().translate(_AS_LATIN)
    shaped = text.translate(_SHAPES).casefold().translate(_AS_LATIN).translate(_SHAPES)
    return {folded, shaped.replace("rn", "m").replace("vv", "w")}


def clash(one: str, other: str) -> bool:
    """Whether names ONE and OTHER would be taken for each other."""
    return not skeletons(one).isdisjoint(skeletons(other))
