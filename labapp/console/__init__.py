"""The learner's console: one parse of a line into argv segments, then an allow-list.

Modules: grammar.py (the line into argv segments), dockercli.py (the docker segment as the CLI
reads it, from the generated spec.py), allowlist.py (the commands and flags the console runs,
and the reasons for the rest), values.py (the values of allowed flags); this module judges a
line with them (judge) and says what runs (Verdict).

A console line is parsed ONCE, by the grammar below, into argv segments; those argv lists
are exactly what runs (the runner execs them; no shell reads the line anywhere, and the app
joins the pipes itself by running the filters in the app). Nothing re-parses the argv, so
what was judged is what runs.

The grammar
-----------
- Words are separated by plain spaces (U+0020). A word is made of pieces written next to
  each other: plain characters, quoted strings and escapes.
- '...' (single quotes): everything up to the next ' is literal, as in sh.
- "..." (double quotes): literal, except that \\" is a " and \\\\ is a \\; any other
  backslash stays a backslash (as in sh). A $ or ` inside double quotes is refused, since
  sh would substitute it; write it in single quotes.
- A backslash outside quotes makes the next character literal (\\| \\; \\  \\' ...); a line
  may not end with one.
- | outside quotes separates segments: the docker command, then filters. '||' and an empty
  segment are refused.
- Refused with a reason, outside quotes: ; & < > $ ` ( ) and a # that starts a word (each
  has a meaning in a shell and none in this grammar). Refused anywhere, even quoted: every
  control character (new lines, tabs, NUL, DEL, C1), invisible format characters (zero-width
  spaces and joiners, direction marks, BOM), lone surrogates and spaces other than U+0020
  (no-break, ideographic...), and a word that starts with a dash look-alike (U+2010-2015,
  U+2212, U+FE58, U+FE63, U+FF0D) instead of '-'.
- Glob characters (* ? [ ]), ~, {, }, ! and = are plain characters: nothing expands them.
- A line this grammar accepts reads the same under POSIX sh (set -f, no ~); the tests check
  it against /bin/sh.

The docker segment
------------------
segments[0] must be the docker CLI. It is parsed the way the docker 20.10 CLI parses it
(cobra + spf13/pflag): global flags up to the first word that is not a flag, then the
command path (aliases resolved), then the command's flags: shorthand clusters (-dti,
-itv /:/h), attached values (-v/:/h, -eFOO=1, --mount=...), '--flag value' and
'--flag=value', bools with '=true/false', '--' ending the flags, and for commands that stop
at their first operand (run, create, exec, service create, commit, top, tag) everything after
IMAGE/CONTAINER belongs to the container's command and is not read as docker flags. The
flag facts (names, shorthands, which take a value, which commands stop at an operand) are
labapp/console/spec.py, generated from the real CLI by scripts/console-spec.py.

Then an allow-list: each allowed command has an explicit set of allowed flags; every other
flag the CLI knows is refused with its own reason, and some allowed flags have their values
judged (-v, --mount, --network, namespaces, --security-opt, logging, -e, drivers, the image's
registry host). Refused outright: any program but docker first, client-side file effects on
the node (cp, save, load, export, import, build, --cidfile, --env-file, -e NAME, ...), other
engines (-H, --context, --tls*, --config), plugins, registries (pull, push, login, an image
named after a registry host, swarm join), and what reaches past the sandbox (--privileged,
devices, host namespaces, bind mounts, volume drivers...). --help is judged like any flag: a
line is judged whole even when the CLI would only print its usage.

The filters
-----------
segments[1:] are filters, parsed by labapp/filters (filters.parse); its FilterError
reason is the refusal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import filters
from ..i18n import msg
from . import dockercli
from .allowlist import (ALLOWED, ALLOWED_GLOBAL_FLAGS, GROUPS, REFUSED_COMMANDS, REFUSED_FLAGS, _GLOBAL_REFUSED,
                        refused_flag, unknown_command)
from .dockercli import DockerCall, Flag, UnknownCommand
from .grammar import EMPTY, Refusal, join, quote, show, split
from .values import JUDGES, go_csv_record, judge_image, mount_fields, network_target, registry_host

__all__ = ["ALLOWED", "ALLOWED_GLOBAL_FLAGS", "GROUPS", "JUDGES", "MAX_FILTERS", "MAX_LINE", "REFUSED_COMMANDS",
           "REFUSED_FLAGS", "DockerCall", "Flag", "Refusal", "Verdict", "go_csv_record", "interactive", "join",
           "judge", "judge_docker", "mount_fields", "network_target", "parse_docker", "quote", "registry_host",
           "split", "_GLOBAL_REFUSED"]

MAX_LINE = 2000
MAX_FILTERS = 8
# Commands whose first operand is an image the engine may pull (from the registry it names).
IMAGE_OPERAND = ("run", "create", "container run", "container create", "service create")


def parse_docker(argv) -> DockerCall:
    """ARGV (argv[0] == 'docker') read as the docker CLI reads it, or Refusal (in the console's words)."""
    try:
        return dockercli.parse_docker(argv)
    except UnknownCommand as unknown:
        raise Refusal(unknown_command(unknown.word, unknown.parent)) from None


def judge_docker(call: DockerCall) -> None:
    """Raise Refusal if CALL is not allowed."""
    for flag in call.global_flags:
        if flag.name not in ALLOWED_GLOBAL_FLAGS:
            raise Refusal(refused_flag(flag, "", global_=True))
    if call.command == ("help",):
        if call.operands:
            topic = " ".join(call.operands)
            raise Refusal(msg("docker help {topic} may start a CLI plugin; ask the command itself: "
                              "docker {topic} --help", topic=show(topic, 40)))
        return
    path = call.path
    if not call.command or path in GROUPS:
        return  # docker alone, or a group alone: the CLI prints its usage
    if path not in ALLOWED:
        raise Refusal(unknown_command(call.command[-1], " ".join(call.command[:-1])))
    allowed = ALLOWED[path]
    judges = JUDGES.get(path, {})
    for flag in call.flags:
        if flag.name not in allowed:
            raise Refusal(refused_flag(flag, path))
        judge = judges.get(flag.name)
        reason = judge(flag) if judge else None
        if reason:
            raise Refusal(reason)
    images = call.values("--image") if path == "service update" else []
    if path in IMAGE_OPERAND and call.operands:
        images.append(call.operands[0])
    for image in images:
        reason = judge_image(image)
        if reason:
            raise Refusal(reason)


def interactive(call: DockerCall) -> bool:
    """True when CALL needs a terminal: attach; run/exec with -i and -t and not -d; start -i."""
    if call.help or not call.command:
        return False
    name = call.command[-1]
    if name == "attach":
        return True
    if name in ("run", "exec"):
        return call.is_set("--interactive") and call.is_set("--tty") and not call.is_set("--detach")
    if name == "start":
        return call.is_set("--interactive")
    return False



@dataclass(frozen=True)
class Verdict:
    """What the policy says of a console line.

    segments: the argv lists to run, exactly as judged: segments[0] is the docker command
    (segments[0][0] == 'docker'), segments[1:] the filters. docker: that command as the CLI
    reads it. filters: filters.parse of each filter segment, in order (fresh objects, for one
    run of the line).
    """

    allowed: bool
    reason: str = ""
    interactive: bool = False  # needs a real TTY (docker attach, docker exec -it, run -it)
    segments: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    docker: DockerCall | None = None
    filters: tuple = field(default=(), compare=False)


def refuse(reason: str) -> Verdict:
    return Verdict(False, reason)


def judge(line: str) -> Verdict:
    """Decide whether LINE may run on a node, and what exactly runs."""
    if not isinstance(line, str):
        return refuse(msg(EMPTY))
    if len(line) > MAX_LINE:
        return refuse(msg("the line is longer than {most} characters", most=MAX_LINE))
    try:
        segments = split(line)
        first = segments[0]
        if first[0] != "docker":
            if first[0] in filters.NAMES:
                raise Refusal(msg("{filter} only filters the output of a docker command: docker ... | {filter} ...",
                                  filter=first[0]))
            raise Refusal(msg("'{program}' cannot run on a node: the console runs the docker CLI (piped into "
                              "{filters}); a shell belongs in a container (docker exec -it CONTAINER ash)",
                              program=show(first[0], 40), filters=", ".join(filters.NAMES)))
        if len(segments) - 1 > MAX_FILTERS:
            raise Refusal(msg("a line may pipe into at most {most} filters", most=MAX_FILTERS))
        call = parse_docker(first)
        judge_docker(call)
        tty = interactive(call)
        if tty and len(segments) > 1:
            raise Refusal(msg("an interactive session (attach, exec -it) cannot be piped; run it alone"))
        parsed = []
        for argv in segments[1:]:
            if argv[0] not in filters.NAMES:
                raise Refusal(msg("'{program}' cannot follow a pipe here; the filters are {filters}",
                                  program=show(argv[0], 40), filters=", ".join(filters.NAMES)))
            try:
                parsed.append(filters.parse(argv))
            except filters.FilterError as exc:  # the filter's own words (a Message)
                raise Refusal(exc.args[0]) from None
    except Refusal as refusal:
        return refuse(refusal.reason)
    return Verdict(True, "", tty, segments, call, tuple(parsed))
