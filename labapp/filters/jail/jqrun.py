"""Inside the sandbox, for jq: run the program with libjq over the piped text and print its
values, errors and exit status as the jq 1.6 CLI does (numbers, indentation, -r -j -a -S -e)."""
from __future__ import annotations

import json
import re
import time

_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,14})")


def _jq_number(token: str) -> str:
    """A JSON number as the jq 1.6 CLI prints it (a double, 17 significant digits at most)."""
    if _PLAIN_INT.fullmatch(token):
        return token
    value = float(token)
    if value != value:
        return "null"
    if value in (float("inf"), float("-inf")):
        value = 1.7976931348623157e308 if value > 0 else -1.7976931348623157e308
    text = repr(value)
    sign = "-" if text.startswith("-") else ""
    text = text.lstrip("-")
    mantissa, _, exponent = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    if frac == "0":
        frac = ""
    digits = (whole + frac).lstrip("0")
    decpt = len(whole) + (int(exponent) if exponent else 0)
    if not digits:
        return sign + "0"
    decpt -= len(whole + frac) - len((whole + frac).lstrip("0"))
    digits = digits.rstrip("0")
    if decpt <= -4 or decpt > len(digits) + 15:
        exp = decpt - 1
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if decpt <= 0:
        return f"{sign}0.{'0' * -decpt}{digits}"
    if decpt >= len(digits):
        return sign + digits + "0" * (decpt - len(digits))
    return f"{sign}{digits[:decpt]}.{digits[decpt:]}"


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]|[^\[\]{},:"]+')


def _jq_ascii(token: str) -> str:
    return json.dumps(json.loads(token), ensure_ascii=True).replace("\x7f", "\\u007f")


def _jq_format(text: str, opts: dict) -> str:
    """jq's compact JSON TEXT (from tojson) formatted like the jq CLI with OPTS."""
    ascii_out = opts["ascii"]
    first = text[:1]
    if first == '"':
        if ascii_out and not text.isascii():
            return _jq_ascii(text)
        return json.loads(text) if opts["raw"] and not ascii_out else text
    if first not in "[{":
        return _jq_number(text) if first in "-0123456789" else text
    indent = opts["indent"]
    unit = "\t" if indent == -1 else " " * indent
    pretty = indent != 0
    tokens = _JSON_TOKEN.findall(text)
    out: list[str] = []
    level = 0
    skip = False
    for k, tok in enumerate(tokens):
        if skip:
            skip = False
            continue
        first = tok[0]
        if first in "[{":
            nxt = tokens[k + 1] if k + 1 < len(tokens) else ""
            if nxt and nxt in "]}":
                out.append(tok + nxt)
                skip = True
                continue
            level += 1
            out.append(tok + ("\n" + unit * level if pretty else ""))
        elif first in "]}":
            level -= 1
            out.append(("\n" + unit * level if pretty else "") + tok)
        elif first == ",":
            out.append(",\n" + unit * level if pretty else ",")
        elif first == ":":
            out.append(": " if pretty else ":")
        elif first == '"':
            out.append(_jq_ascii(tok) if ascii_out and not tok.isascii() else tok)
        elif first in "-0123456789":
            out.append(_jq_number(tok))
        else:
            out.append(tok)
    return "".join(out)


def _line_of_value(text: str, index: int) -> int:
    """The line jq's CLI reports for an error in input value INDEX (0-based): lines read so far."""
    decoder = json.JSONDecoder()
    pos, end = 0, len(text)
    ws = re.compile(r"[ \t\n\r]*")
    try:
        for _ in range(index + 1):
            pos = ws.match(text, pos).end()
            _, pos = decoder.raw_decode(text, pos)
    except (ValueError, RecursionError):
        return text.count("\n")
    newline = text.find("\n", max(pos - 1, 0))
    end = len(text) if newline < 0 else newline + 1
    return text.count("\n", 0, end)


def answer(job: dict) -> dict:
    """Run JOB's jq program and format its values like the jq CLI; "stopped" (the seconds it
    may use) when it ran out of time, "unprepared" when it could not be compiled."""
    import jq as libjq
    program, opts, text, cap = job["program"], job["opts"], job["text"], job["cap"]
    named = dict(job["named"])
    named["ARGS"] = {"positional": [], "named": dict(job["named"])}
    body = f"({program}\n\n)"   # a comment that ends the program ends before the ')'
    if opts["sort"]:
        body += ' | walk(if type == "object" then (to_entries | sort_by(.key) | from_entries) else . end)'
    wrapped = f'(try (({body}) | tojson) catch ("\\u0000" + tojson)), "\\u0001"'
    try:
        compiled = libjq.compile(wrapped, args=named)
    except ValueError:
        try:
            libjq.compile(program, args=named)
        except ValueError as exc:
            return {"errors": [str(exc).strip()], "status": 3}
        return {"unprepared": True, "status": 3}
    if opts["null"]:
        results = compiled.input_value(None)
    elif opts["rawin"]:
        if opts["slurp"]:
            results = compiled.input_value(text)
        else:
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            results = compiled.input_values(lines)
    elif opts["slurp"]:
        results = compiled.input_text(text, slurp=True)
    else:
        results = compiled.input_text(text)
    out: list[str] = []
    errors: list[str] = []
    size = 0
    value_index = 0
    end = "" if opts["join"] else "\n"
    iterator = iter(results)
    cut = False
    stopped = 0.0
    started = time.monotonic()
    budget = float(job.get("seconds", 3)) * 0.8
    count = 0
    status = 0
    last = None          # the last value output, for -e
    while True:
        count += 1
        if count % 512 == 0 and time.monotonic() - started > budget:
            stopped = budget
            status = 5
            break
        try:
            item = next(iterator)
        except StopIteration:
            break
        except ValueError as exc:   # a parse error in the input stops jq, as in the CLI
            errors.append(str(exc))
            status = 2
            break
        if item == "\x01":
            value_index += 1
            continue
        if item.startswith("\x00"):
            status = 5
            if len(errors) < 20:
                errors.append(_jq_error(item[1:], opts, text, value_index))
            continue
        last = item
        piece = _jq_format(item, opts) + end
        size += len(piece)
        if size > cap:
            room = piece[:max(cap - (size - len(piece)), 0)]
            newline = room.rfind("\n")
            out.append(room[:newline + 1] if newline >= 0 or not out else "")
            cut = True
            break
        out.append(piece)
    if not status and opts["exit"]:   # jq -e: 1 if the last value was false or null, 4 if none
        status = 4 if last is None else (1 if last in ("false", "null") else 0)
    return {"out": "".join(out), "errors": errors, "cut": cut, "status": status, "stopped": stopped}


def _jq_error(value_json: str, opts: dict, text: str, index: int) -> str:
    if opts["null"]:
        where = "<unknown>"
    elif opts["slurp"]:
        where = f"<stdin>:{text.count(chr(10))}"
    elif opts["rawin"]:
        where = f"<stdin>:{index + 1}"
    else:
        where = f"<stdin>:{_line_of_value(text, index)}"
    value = json.loads(value_json)
    if isinstance(value, str):
        return f"jq: error (at {where}): {value}"
    return f"jq: error (at {where}) (not a string): {value_json}"
