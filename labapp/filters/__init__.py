"""Console filters that the app runs itself: grep, head, tail, wc, sort, cut and jq.

The docker command runs on a node as an argv list; its output comes back here and goes
through the filters of the console line. No node program ever sees learner text as a
filter, and no filter can read or write a file, run a program, read the app's environment,
or hang the server:

- Options are parsed like the real programs parse them (GNU getopt_long for the coreutils
  and grep, jq's own rules for jq) against an ALLOW-LIST; anything else, and any operand
  that would be a file, is a FilterError whose message says what is allowed.
- head, tail, wc and cut are linear Python over str, in the server.
- grep's regular expressions, sort and jq run in a sandbox: a fork server started once per
  app process (empty environment, empty working directory, user nobody when the app is
  root) that forks one child per job; the child sets RLIMIT_CPU/AS/NPROC/NOFILE/FSIZE, a
  wall-clock alarm and a seccomp allow-list of system calls (x86_64), then computes. A job
  that runs too long or needs too much memory dies alone and the learner is told why.
- jq programs also pass a lexer that follows jq's grammar and allows only pure builtins,
  names the program defines, and $variables it binds or gets with --arg/--argjson.
- A filter never outputs more than MAX_OUTPUT nor buffers more than MAX_INPUT; it says so
  in a note ("(sort: output cut at 1 MiB)") that goes to the learner, not down the pipe.

Filter.feed(text) returns the output available so far, Filter.close() the rest (and, for a
filter used alone, its notes); Pipeline(filters) does both through every filter in order.
Refusals and notes are messages by id (labapp/i18n): English as str, Korean at the edge.

The package: base (Filter, Pipeline, the limits), options (getopt_long, Lines), headtail,
wc, cut, grep with posixre (POSIX regular expressions to Python re), sort, jq with jqlex
(the program's allow-list), sandbox (the app's side of the fork server) and jail/ (what
runs inside it: the server and the jobs, standard library only).
"""
from __future__ import annotations

from typing import Sequence

from ..i18n import msg
from .base import (GREP_BUDGET, GREP_SECONDS, JQ_MEMORY, JQ_SECONDS, MAX_INPUT, MAX_LINE, MAX_OUTPUT,
                   SORT_SECONDS, Filter, FilterError, Pipeline)
from .cut import parse_cut
from .grep import parse_grep
from .headtail import parse_head, parse_tail
from .jq import parse_jq
from .jqlex import JQ_ALLOWED_BUILTINS, JQ_DENIED_BUILTINS
from .sandbox import isolation, owned_by, shutdown
from .sort import parse_sort
from .wc import parse_wc

NAMES = ("jq", "grep", "head", "tail", "wc", "sort", "cut")

_PARSERS = {"head": parse_head, "tail": parse_tail, "wc": parse_wc, "cut": parse_cut,
            "grep": parse_grep, "sort": parse_sort, "jq": parse_jq}

__all__ = ["NAMES", "FilterError", "Filter", "Pipeline", "parse", "isolation", "owned_by", "shutdown",
           "MAX_OUTPUT", "MAX_INPUT", "MAX_LINE", "JQ_SECONDS", "JQ_MEMORY", "GREP_SECONDS", "GREP_BUDGET",
           "SORT_SECONDS", "JQ_ALLOWED_BUILTINS", "JQ_DENIED_BUILTINS"]


def parse(argv: Sequence[str]) -> Filter:
    """The filter for ARGV (argv[0] one of NAMES), or FilterError saying what is allowed."""
    if not argv or argv[0] not in _PARSERS:
        if not argv:
            raise FilterError(msg("an empty command is not a filter; the filters are {filters}",
                                  filters=", ".join(NAMES)))
        raise FilterError(msg("{program} is not a filter; the filters are {filters}", program=argv[0],
                              filters=", ".join(NAMES)))
    for arg in argv:
        if "\0" in arg:
            raise FilterError(msg("{program}: an argument contains a NUL character", program=argv[0]))
    return _PARSERS[argv[0]](list(argv[1:]))
