"""The learner's console policy: which lines may run on a node, and why not.

Allowed: the docker CLI, optionally piped into a small set of filters. Refused, each with a
reason: any other program on a node (a shell on a node included), shell syntax beyond
plain pipes, and docker flags that would reach past the sandbox.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

FILTERS = ("jq", "grep", "head", "tail", "wc", "sort", "cut")
MAX_LINE = 2000

# Flags that reach past the sandbox, with the reason given to the learner.
_FORBIDDEN_FLAGS = {
    "--privileged": "--privileged gives a container every power of the node",
    "--cap-add": "--cap-add widens what a container may do to the node",
    "--device": "--device hands a node device to a container",
    "--security-opt": "--security-opt switches off the node's protections",
    "--device-cgroup-rule": "--device-cgroup-rule opens node devices to a container",
}
_HOST_NAMESPACE_FLAGS = ("--pid", "--network", "--net", "--ipc", "--userns", "--uts", "--cgroupns")
_GLOBAL_FLAGS = {
    "-H": "-H points docker at another engine; the console talks to this node's engine only",
    "--host": "--host points docker at another engine; the console talks to this node's engine only",
    "--context": "--context points docker at another engine; the console talks to this node's engine only",
    "-c": "-c (a context) points docker at another engine; the console talks to this node's engine only",
    "--config": "--config reads client settings from a node path",
}
_FILTER_FILE_FLAGS = {"-f", "--file", "--from-file", "-r", "-R", "--recursive", "--rawfile",
                      "--slurpfile", "-o", "--output", "-T", "--files0-from"}
_INTERACTIVE = ("attach",)


@dataclass(frozen=True)
class Verdict:
    """What the policy says of a console line."""

    allowed: bool
    reason: str = ""
    interactive: bool = False  # needs a real TTY (docker attach, docker exec -it, run -it)
    segments: tuple[tuple[str, ...], ...] = field(default_factory=tuple)


def refuse(reason: str) -> Verdict:
    return Verdict(False, reason)


def judge(line: str) -> Verdict:
    """Decide whether LINE may run on a node."""
    if len(line) > MAX_LINE:
        return refuse(f"the line is longer than {MAX_LINE} characters")
    text = line.strip()
    if not text:
        return refuse("the line is empty: type a docker command, e.g. docker node ls")
    pieces, problem = _split_pipes(text)
    if problem:
        return refuse(problem)
    segments = []
    for piece in pieces:
        try:
            argv = shlex.split(piece)
        except ValueError as exc:
            return refuse(f"the line cannot be read: {exc} (close every quote)")
        if not argv:
            return refuse("an empty command around '|': put a command on each side of a pipe")
        segments.append(tuple(argv))
    first = segments[0]
    if first[0] != "docker":
        if first[0] in FILTERS:
            return refuse(f"{first[0]} only filters the output of a docker command: "
                          f"docker ... | {first[0]} ...")
        return refuse(f"'{first[0]}' cannot run on a node: the console runs the docker CLI "
                      f"(piped into {', '.join(FILTERS)}); a shell belongs in a container "
                      "(docker exec -it CONTAINER ash)")
    reason = _judge_docker(first)
    if reason:
        return refuse(reason)
    for argv in segments[1:]:
        if argv[0] not in FILTERS:
            return refuse(f"'{argv[0]}' cannot follow a pipe here; the filters are {', '.join(FILTERS)}")
        bad = [a for a in argv[1:] if a.split("=", 1)[0] in _FILTER_FILE_FLAGS]
        if bad:
            return refuse(f"{argv[0]} {bad[0]} reads or writes node files; filters read the pipe only")
        paths = [a for a in argv[1:] if a.startswith("/") and argv[0] != "jq"]
        if paths:
            return refuse(f"{argv[0]} {paths[0]} reads a node file; filters read the pipe only")
    interactive = _interactive(first)
    if interactive and len(segments) > 1:
        return refuse("an interactive session (attach, exec -it) cannot be piped; run it alone")
    return Verdict(True, "", interactive, tuple(segments))


def _split_pipes(text: str) -> tuple[list[str], str | None]:
    """Split on | outside quotes; refuse every other shell operator and substitution."""
    pieces, current = [], []
    quote = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote == "'":
            if ch == "'":
                quote = None
        elif quote == '"':
            if ch == "\\" and i + 1 < len(text):
                current.append(ch)
                i += 1
                ch = text[i]
            elif ch == '"':
                quote = None
            elif ch == "$" or ch == "`":
                return [], "substitutions ($..., `...`) are not allowed in the console"
        else:
            if ch in ("'", '"'):
                quote = ch
            elif ch == "\\":
                current.append(ch)
                i += 1
                if i < len(text):
                    current.append(text[i])
                i += 1
                continue
            elif ch == "|":
                if text[i:i + 2] == "||":
                    return [], "'||' is not allowed: one command, optionally piped into filters"
                pieces.append("".join(current))
                current = []
                i += 1
                continue
            elif ch in ";\n":
                return [], "one command per line: ';' and new lines are not allowed"
            elif ch == "&":
                return [], "'&' and '&&' are not allowed: one command per line, nothing in the background"
            elif ch in "<>":
                return [], "redirects (<, >) are not allowed: the console shows output, it writes no files"
            elif ch == "$" or ch == "`":
                return [], "substitutions and variables ($..., `...`) are not allowed in the console"
            elif ch in "(){}":
                return [], f"'{ch}' is shell syntax the console does not run; quote it if it is an argument"
        current.append(ch)
        i += 1
    if quote:
        return [], f"a {quote} quote is never closed"
    pieces.append("".join(current))
    return pieces, None


def _judge_docker(argv: tuple[str, ...]) -> str | None:
    for index, arg in enumerate(argv[1:], start=1):
        name, _, inline = arg.partition("=")
        value = inline or (argv[index + 1] if index + 1 < len(argv) else "")
        if name in _FORBIDDEN_FLAGS:
            return f"{_FORBIDDEN_FLAGS[name]}; it is not allowed in the lab"
        if name in _GLOBAL_FLAGS and _before_subcommand(argv, index):
            return _GLOBAL_FLAGS[name]
        if name in _HOST_NAMESPACE_FLAGS and value == "host":
            return f"{name} host shares the node's own namespace with a container; it is not allowed in the lab"
        if name in ("-v", "--volume") and _is_node_path(value.split(":", 1)[0]) and ":" in value:
            return f"{name} {value} mounts a path of the node into a container; use a named volume instead"
        if name == "--mount" and ("type=bind" in value or "source=/" in value or "src=/" in value):
            return f"--mount {value} mounts a path of the node into a container; use type=volume"
        if "docker.sock" in arg:
            return "the Docker socket stays with the node: a container that holds it controls the node"
    return None


def _before_subcommand(argv, index) -> bool:
    """True when argv[index] comes before docker's subcommand (a global flag)."""
    return all(a.startswith("-") for a in argv[1:index])


def _is_node_path(source: str) -> bool:
    return source.startswith(("/", ".", "~"))


def _interactive(argv: tuple[str, ...]) -> bool:
    words = [a for a in argv[1:] if not a.startswith("-")]
    if words[:1] and words[0] in _INTERACTIVE:
        return True
    flags = set()
    for arg in argv[1:]:
        if arg.startswith("--"):
            flags.add(arg.split("=", 1)[0])
        elif arg.startswith("-"):
            flags.update("-" + c for c in arg[1:])
    wants_tty = "-t" in flags or "--tty" in flags
    wants_input = "-i" in flags or "--interactive" in flags
    return bool(words[:1]) and words[0] in ("exec", "run", "start") and wants_tty and wants_input \
        and "-d" not in flags and "--detach" not in flags
