"""The jq program's allow-list: a lexer that follows jq's grammar, and a check that lets
through only pure builtins, names the program defines and $variables it binds or gets with
--arg/--argjson; anything that could reach past the piped value is a FilterError."""
from __future__ import annotations

import re
from typing import Sequence

from ..i18n import N_, msg
from .base import FilterError

JQ_ALLOWED_BUILTINS = frozenset("""
IN INDEX JOIN abs acos acosh add all any arrays ascii ascii_downcase ascii_upcase asin asinh atan
atan2 atanh booleans bsearch builtins capture cbrt ceil combinations contains copysign cos cosh
date dateadd datesub del delpaths drem empty endswith erf erfc error exp exp10 exp2 explode
expm1 fabs fdim finites first flatten floor fma fmax fmin fmod format frexp from_entries
fromdate fromdateiso8601 fromjson fromstream gamma getpath gmtime group_by gsub has
have_decnum have_literal_numbers hypot implode in index indices infinite inside isempty
isfinite isinfinite isnan isnormal isvalid iterables j0 j1 jn join keys keys_unsorted last
ldexp leaf_paths length lgamma lgamma_r limit log log10 log1p log2 logb ltrim ltrimstr map
map_values match max max_by min min_by mktime modf nan nearbyint nextafter nexttoward normals
not now nth nulls numbers objects path paths pick pow pow10 range recurse recurse_down
remainder repeat reverse rindex rint round rtrim rtrimstr scalars scalb scalbln scan select
setpath significand sin sinh skip sort sort_by split splits sqrt startswith strftime strings
strptime sub tan tanh test tgamma to_entries toarray toboolean todate todateiso8601 tojson
tonumber tostream tostring transpose trim trimstr trunc truncate_stream type unique unique_by
until utf8bytelength values walk while with_entries y0 y1 yn
""".split())
# Builtins that reach outside the value (environment, files, stdin, stderr, time zone files,
# the program's own location) or stop jq: refused, and a program may not define them either.
JQ_DENIED_BUILTINS = frozenset("""
env input inputs debug stderr input_filename input_line_number halt halt_error get_search_list
get_jq_origin get_prog_origin modulemeta localtime strflocaltime
""".split())
_JQ_FORMATS = frozenset("text json html uri csv tsv sh base64 base64d base32 base32d".split())
_JQ_KEYWORDS = frozenset("def if then elif else end as reduce foreach try catch label import "
                         "include module and or __loc__ break".split())
JQ_RESERVED_VARS = frozenset({"ENV", "__loc__", "__prog_args", "__prog_name", "JQ_BUILD_CONFIGURATION"})
_JQ_MAX_PROGRAM = 4096
_JQ_MAX_DEPTH = 100
_NOT_DEFINABLE = {
    "def": N_("jq: {name} cannot be the name of a def in the console (names that start with _ and builtins "
              "such as env, input or debug are jq's own)"),
    "parameter": N_("jq: {name} cannot be the name of a parameter in the console (names that start with _ and "
                    "builtins such as env, input or debug are jq's own)"),
}
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JQ_OPS = ("?//=", "?//", "//=", "|=", "+=", "-=", "*=", "/=", "%=", "==", "!=", "<=", ">=", "//",
           "..", "|", ",", "+", "-", "*", "/", "%", "=", "<", ">", ":", ";", "?", ".")
_JQ_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _too_deep() -> FilterError:
    return FilterError(msg("jq: the program is nested too deeply"))


def _tokens(program: str) -> list[tuple[str, str, int]]:
    """Lex a jq program into (kind, text, depth) tokens, following jq's lexer; refuse the unknown.

    Kinds: ident, kw, var, field, format, num, op, open, close, str (a whole string literal;
    its interpolations are lexed as tokens between 'istart' and 'iend')."""
    tokens: list[tuple[str, str, int]] = []
    stack: list[str] = []      # '(', '[', '{', '"' (in a string), 'i' (in an interpolation)
    i, n = 0, len(program)

    while i < n:
        c = program[i]
        if stack and stack[-1] == '"':
            if c == '"':
                stack.pop()
                tokens.append(("strend", '"', len(stack)))
                i += 1
            elif c == "\\":
                if i + 1 >= n:
                    raise FilterError(msg("jq: a string ends with a lone backslash"))
                if program[i + 1] == "(":
                    stack.append("i")
                    if len(stack) > _JQ_MAX_DEPTH:
                        raise _too_deep()
                    tokens.append(("istart", "\\(", len(stack)))
                    i += 2
                else:
                    i += 2
            else:
                i += 1
            continue
        if c in " \t\n\r":
            i += 1
            continue
        if c == "#":
            while i < n and program[i] not in "\n\r":
                i += 1
            continue
        if c == '"':
            stack.append('"')
            if len(stack) > _JQ_MAX_DEPTH:
                raise _too_deep()
            tokens.append(("strstart", '"', len(stack)))
            i += 1
            continue
        if c in "([{":
            stack.append(c)
            if len(stack) > _JQ_MAX_DEPTH:
                raise _too_deep()
            tokens.append(("open", c, len(stack)))
            i += 1
            continue
        if c in ")]}":
            want = {")": "(", "]": "[", "}": "{"}[c]
            if c == ")" and stack and stack[-1] == "i":
                stack.pop()
                tokens.append(("iend", ")", len(stack)))
                i += 1
                continue
            if not stack or stack[-1] != want:
                raise FilterError(msg("jq: '{bracket}' does not close anything", bracket=c))
            stack.pop()
            tokens.append(("close", c, len(stack)))
            i += 1
            continue
        if c == "$":
            j = i + 1
            while j < n and program[j] in " \t\n\r":
                j += 1
            m = IDENT.match(program, j)
            if not m:
                raise FilterError(msg("jq: '$' must be followed by a variable name"))
            name = m.group()
            i = m.end()
            if program.startswith("::", i):
                raise FilterError(msg("jq: {name}::... names a module's variable; modules are not available",
                                      name="$" + name))
            tokens.append(("var", name, len(stack)))
            continue
        if c == "@":
            m = IDENT.match(program, i + 1)
            if not m:
                raise FilterError(msg("jq: '@' must be followed by a format name such as @csv"))
            tokens.append(("format", m.group(), len(stack)))
            i = m.end()
            continue
        if c == "." and i + 1 < n and (program[i + 1].isascii() and program[i + 1].isalpha()
                                       or program[i + 1] == "_"):
            m = IDENT.match(program, i + 1)
            tokens.append(("field", m.group(), len(stack)))
            i = m.end()
            continue
        m = _JQ_NUMBER.match(program, i)
        if m and (c.isdigit() or (c == "." and i + 1 < n and program[i + 1].isdigit())):
            tokens.append(("num", m.group(), len(stack)))
            i = m.end()
            continue
        m = IDENT.match(program, i)
        if m:
            name = m.group()
            i = m.end()
            if program.startswith("::", i):
                raise FilterError(msg("jq: {name}::... calls into a module; modules are not available", name=name))
            tokens.append(("kw" if name in _JQ_KEYWORDS else "ident", name, len(stack)))
            continue
        for op in _JQ_OPS:
            if program.startswith(op, i):
                tokens.append(("op", op, len(stack)))
                i += len(op)
                break
        else:
            shown = c if c.isprintable() else f"U+{ord(c):04X}"
            word = re.match(r"\w+", program[i:])
            if word and not c.isascii():
                raise FilterError(msg("jq: the character {character} is not part of jq's language here (outside "
                                      "strings a program is plain ASCII; for a field with that name write {field})",
                                      character=repr(shown), field='.["' + word.group() + '"]'))
            raise FilterError(msg("jq: the character {character} is not part of jq's language here (outside "
                                  "strings a program is plain ASCII)", character=repr(shown)))
    if stack:
        # TRANSLATORS: {{ is a brace
        raise FilterError(msg("jq: a string, '(', '[' or '{{' is never closed"))
    return tokens


def check(program: str, variables: Sequence[str]) -> bool:
    """Refuse a jq program that could reach past its input; True when it has any token."""
    if len(program) > _JQ_MAX_PROGRAM:
        raise FilterError(msg("jq: the program is longer than {limit} characters", limit=_JQ_MAX_PROGRAM))
    if "\0" in program:
        raise FilterError(msg("jq: the program contains a NUL character"))
    tokens = _tokens(program)
    significant = [t for t in tokens if t[0] not in ("strstart", "strend", "istart", "iend")]
    # Names the program defines (def f / def f(g; $h)) and variables it binds.
    defined: set[str] = set()
    bound: set[str] = set(variables) | {"ARGS"}
    for k, (kind, text, depth) in enumerate(tokens):
        if kind == "kw" and text == "def":
            if k + 1 >= len(tokens) or tokens[k + 1][0] not in ("ident", "kw"):
                raise FilterError(msg("jq: def must be followed by a name"))
            name = tokens[k + 1][1]
            _definable(name, "def")
            defined.add(name)
            if k + 2 < len(tokens) and tokens[k + 2][1] == "(":
                j = k + 3
                while j < len(tokens) and tokens[j][1] != ")":
                    pkind, ptext, _ = tokens[j]
                    if pkind in ("ident", "kw"):
                        _definable(ptext, "parameter")
                        defined.add(ptext)
                    elif pkind == "var":
                        bindable(ptext)
                        _definable(ptext, "parameter")
                        bound.add(ptext)
                        defined.add(ptext)
                    elif ptext != ";":
                        raise FilterError(msg("jq: a def's parameters are names or $names separated by ';'"))
                    j += 1
        elif kind == "kw" and text in ("as", "label"):
            for ptext in _pattern_vars(tokens, k + 1, text == "label"):
                bindable(ptext)
                bound.add(ptext)
    keys = _key_positions(tokens)
    for k, (kind, text, depth) in enumerate(tokens):
        if kind == "kw" and text in ("import", "include", "module"):
            raise FilterError(msg("jq: {keyword} reads modules from files; it is not available in the console",
                                  keyword=text))
        if kind == "kw" and text == "__loc__":
            raise FilterError(msg("jq: $__loc__ is not available in the console"))
        if kind == "var":
            if text in JQ_RESERVED_VARS or text.startswith("__"):
                raise FilterError(msg("jq: {variable} is not available in the console (pass values with --arg NAME "
                                      "VALUE)", variable="$" + text))
            if text not in bound:
                raise FilterError(msg("jq: {variable} is not defined: bind it (... as {variable}) or pass it with "
                                      "--arg {name} VALUE", variable="$" + text, name=text))
        elif kind == "format":
            if text not in _JQ_FORMATS:
                raise FilterError(msg("jq: {format} is not a format; the formats are {formats}", format="@" + text,
                                      formats=" ".join("@" + f for f in sorted(_JQ_FORMATS))))
        elif kind == "ident" and k not in keys:
            if k > 0 and tokens[k - 1][:2] == ("kw", "def"):
                continue
            if text in defined or text in JQ_ALLOWED_BUILTINS:
                continue
            if text in JQ_DENIED_BUILTINS:
                raise FilterError(msg("jq: {name} reaches outside the piped value (environment, files, other "
                                      "inputs or stderr); it is not available in the console", name=text))
            raise FilterError(msg("jq: {name} is not a builtin the console allows (pure builtins such as map, "
                                  "select, keys, length, to_entries, test; or a def of your own)", name=text))
    return bool(significant)


def _definable(name: str, what: str) -> None:
    """A def or parameter may not take the name of a refused builtin or of jq's own _names."""
    if name.startswith("_") or name in JQ_DENIED_BUILTINS or name in _JQ_KEYWORDS:
        raise FilterError(msg(_NOT_DEFINABLE[what], name=name))


def bindable(name: str) -> None:
    """A $name may not be one of jq's own."""
    if name in JQ_RESERVED_VARS or name.startswith("__") or name == "ARGS":
        raise FilterError(msg("jq: {variable} is reserved; choose another variable name", variable="$" + name))


def _pattern_vars(tokens, k: int, label: bool) -> list[str]:
    """The $names bound by the pattern that starts at tokens[k] (after 'as' or 'label')."""
    if label:
        return [tokens[k][1]] if k < len(tokens) and tokens[k][0] == "var" else []
    names, depth, parens = [], 0, 0
    while k < len(tokens):
        kind, text, _ = tokens[k]
        if kind == "open":
            depth += 1
            if text == "(":
                if depth == 1:
                    break       # reduce/foreach: the pattern ends at the '('
                parens += 1
        elif kind == "close":
            depth -= 1
            if text == ")":
                parens -= 1
            if depth < 0:
                break
        elif kind == "op" and text == "|" and depth == 0:
            break
        elif kind in ("istart",):
            parens += 1
        elif kind in ("iend",):
            parens -= 1
        elif kind == "var" and parens == 0:
            names.append(text)
        k += 1
    return names


def _key_positions(tokens) -> set[int]:
    """Indexes of identifiers that are object keys ({name: ...}, {name}), not calls."""
    keys = set()
    brace_depths = []
    for k, (kind, text, depth) in enumerate(tokens):
        if kind == "open" and text == "{":
            brace_depths.append(depth)
        elif kind == "close" and text == "}":
            if brace_depths:
                brace_depths.pop()
        if kind in ("ident", "kw") and k > 0:
            prev = tokens[k - 1]
            nxt = tokens[k + 1] if k + 1 < len(tokens) else None
            in_brace = brace_depths and brace_depths[-1] == depth
            after = prev[1] == "{" and prev[0] == "open" or (prev[1] == "," and in_brace)
            if in_brace and after and nxt is not None and nxt[1] in (":", ",", "}"):
                keys.add(k)
    return keys
