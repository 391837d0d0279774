#!/usr/bin/env python3
"""Write (or check) labapp/console/spec.py from the real docker CLI of the node image.

The console judges a learner's docker line by parsing it exactly as the docker CLI does
(cobra + spf13/pflag). Which flags a command has, which take a value, their shorthands and
whether a command stops reading flags at its first operand are facts of the CLI, so they
are read from the CLI itself, never typed by hand:

  * every command and its aliases, from `docker [CMD...] --help` (walking Commands: lists);
  * every flag and its shorthand, from each command's Options: list;
  * whether a flag takes a value, by asking the parser: `docker CMD --flag` as the last
    word fails with "flag needs an argument" exactly when the flag takes the next word
    (no NoOptDefVal); a flag that does not is checked to be a bool (`--flag=maybe` fails
    in strconv.ParseBool), and so is its shorthand;
  * whether a command reads flags after its operands (pflag "interspersed"), by
    `docker CMD x --zz-probe`: an interspersed command says "unknown flag: --zz-probe".

The CLI runs with a throw-away HOME and working directory and a DOCKER_HOST socket that
does not exist, so no probe reaches an engine or touches a file that matters.

Usage (from the repository root):
  python scripts/console-spec.py --check          # exit 1 and a diff if the spec drifted
  python scripts/console-spec.py --write          # regenerate labapp/console/spec.py
  options: --image REF (default: the newest labapp/node image) or --docker PATH (a 20.10 CLI)
"""
from __future__ import annotations

import argparse
import difflib
import os
import pprint
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC_PATH = os.path.join(ROOT, "labapp", "console", "spec.py")
LABEL = "labapp.sandbox=console-spec"

# Flags the CLI hides from --help (pflag MarkHidden, or Windows-only flags hidden on Linux)
# but still parses, from docker/cli v20.10 cli/command/container/opts.go. Each is probed:
# one that the CLI does not know is left out, one it knows is recorded with type "hidden".
HIDDEN_CANDIDATES = {
    cmd: ("--net", "--net-alias", "--dns-opt", "--cpu-count", "--cpu-percent", "--io-maxbandwidth",
          "--io-maxiops")
    for cmd in ("run", "create", "container run", "container create")
}

_FLAG = re.compile(r"^  (?:-(?P<short>\S), |    )--(?P<name>[A-Za-z0-9][\w.-]*)"
                   r"(?: (?P<type>[^\s\[]+))?(?P<noopt>\[=[^\]]*\])?(?:  +\S.*)?$")
_SUBCOMMAND = re.compile(r"^  (?P<name>[a-z][\w-]*)\*?\s{2,}\S")


class CLI:
    """The docker binary, run with no engine, a throw-away HOME and working directory."""

    def __init__(self, binary: str, scratch: str):
        self.binary = binary
        home, work = os.path.join(scratch, "home"), os.path.join(scratch, "work")
        os.makedirs(home, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        self.cwd = work
        self.env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C",
                    "DOCKER_HOST": "unix://" + os.path.join(scratch, "no-engine.sock")}

    def __call__(self, *args: str) -> str:
        proc = subprocess.run([self.binary, *args], cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        return proc.stdout.decode("utf-8", "replace")


def _sections(help_text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in help_text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
            sections[current] = []
        elif line.startswith("Usage:"):
            sections["Usage"] = [line.split(":", 1)[1].strip()]
            current = None
        elif current is not None:
            if not line.strip():
                current = None if sections[current] else current
                continue
            sections[current].append(line)
    return sections


def _flags(lines: list[str]) -> dict[str, dict]:
    flags = {}
    for line in lines:
        match = _FLAG.match(line)
        if match:
            flags["--" + match["name"]] = {"short": match["short"] or "", "type": match["type"] or "",
                                           "noopt": match["noopt"] or ""}
    return flags


def _takes_value(cli: CLI, path: list[str], flag: str) -> bool:
    out = cli(*path, flag)
    return "flag needs an argument" in out


def _is_bool(cli: CLI, path: list[str], flag: str) -> bool:
    return "strconv.ParseBool" in cli(*path, flag + "=maybe")


def walk(cli: CLI, say, probe: bool = True) -> tuple[dict, dict]:
    """(global flags, {command path: entry}) of the whole command tree. Without PROBE, whether
    a flag takes a value is read from its --help type only (quick; the full run checked once
    that the two agree for every flag)."""
    root = _sections(cli("--help"))
    global_flags = _probe_flags(cli, [], _flags(root.get("Options", [])), probe)
    commands: dict[str, dict] = {}
    todo = [[name] for name in _names(root)]
    while todo:
        path = todo.pop(0)
        key = " ".join(path)
        sections = _sections(cli(*path, "--help"))
        aliases = []
        for line in sections.get("Aliases", []):
            aliases += [a.strip() for a in line.split(",") if a.strip()]
        entry: dict = {"usage": sections.get("Usage", [""])[0],
                       "aliases": tuple(a for a in aliases if a != path[-1])}
        subs = _names(sections)
        if subs:
            entry["subcommands"] = tuple(subs)
            todo += [path + [s] for s in subs]
        else:
            say(f"probing docker {key}")
            entry["interspersed"] = "unknown flag: --zz-probe" in cli(*path, "zz-operand", "--zz-probe")
            flags = _flags(sections.get("Options", []))
            for name in HIDDEN_CANDIDATES.get(key, ()):
                answer = cli(*path, name)
                if name not in flags and "unknown flag" not in answer:
                    hidden = "hidden" if "flag needs an argument" in answer else ""
                    flags[name] = {"short": "", "type": hidden, "noopt": "", "hidden": True}
            entry["flags"] = _probe_flags(cli, path, flags, probe)
        commands[key] = entry
    return global_flags, commands


def _names(sections: dict) -> list[str]:
    names = []
    for title in ("Management Commands", "Commands"):
        for line in sections.get(title, []):
            match = _SUBCOMMAND.match(line)
            if match:
                names.append(match["name"])
    return names


def _probe_flags(cli: CLI, path: list[str], flags: dict, probe: bool = True) -> dict:
    out = {}
    if "--help" not in flags:  # cobra's help flag: hidden in the listing, present on every command
        flags["--help"] = {"short": "" if any(f["short"] == "h" for f in flags.values()) else "h",
                           "type": "", "noopt": ""}
    for name, info in sorted(flags.items()):
        if name == "--help":
            value = False
        elif not probe:
            value = info["type"] != ""
        else:
            value = _takes_value(cli, path, name)
            if value == (info["type"] == ""):
                raise SystemExit(f"docker {' '.join(path)} {name}: the help says type {info['type']!r} "
                                 f"but the parser says takes_value={value}; look at it by hand")
            if not value and not _is_bool(cli, path, name):
                raise SystemExit(f"docker {' '.join(path)} {name} takes no value but is not a bool")
            if info["short"] and _takes_value(cli, path, "-" + info["short"]) != value:
                raise SystemExit(f"docker {' '.join(path)} -{info['short']} and {name} disagree")
        out[name] = (info["short"], "value" if value else "bool",
                     info["type"] or ("hidden bool" if info.get("hidden") else "bool"))
    return out


def render(version: str, global_flags: dict, commands: dict) -> str:
    lines = [
        '"""The docker CLI\'s command line as data: GENERATED by scripts/console-spec.py, do not edit.',
        "",
        "From the docker CLI of the node image (Debian bookworm's docker.io), read from its --help",
        "and from its own parser (see the script). labapp/console parses console lines with it.",
        "",
        "GLOBAL_FLAGS and each command's 'flags': {'--long': (shorthand or '', 'bool' | 'value', type)}.",
        "'bool' flags take no next word ('--flag=false' sets them); 'value' flags take the next",
        "word, or '=value', or (shorthand) the rest of the cluster.",
        "COMMANDS: {'group sub': {'usage', 'aliases', then 'subcommands' for a group, or",
        "'interspersed' (False: flags end at the first operand) and 'flags' for a command}}.",
        "",
        "Regenerate: python scripts/console-spec.py --write; compare: --check.",
        '"""',
        "",
        f"CLI_VERSION = {version!r}",
        "",
        "GLOBAL_FLAGS = " + pprint.pformat(global_flags, width=100, sort_dicts=True),
        "",
        "COMMANDS = " + pprint.pformat(commands, width=100, sort_dicts=True),
        "",
    ]
    return "\n".join(lines)


def _node_image() -> str:
    out = subprocess.run(["docker", "images", "labapp/node", "--format", "{{.Repository}}:{{.Tag}}"],
                         capture_output=True, text=True, check=True).stdout.split()
    if not out:
        raise SystemExit("no labapp/node image: build it (labapp images build) or pass --docker PATH")
    return out[0]


def _extract(image: str, scratch: str) -> str:
    cid = subprocess.run(["docker", "create", "--label", LABEL, "--entrypoint", "docker", image, "version"],
                         capture_output=True, text=True, check=True).stdout.strip()
    try:
        target = os.path.join(scratch, "docker")
        subprocess.run(["docker", "cp", f"{cid}:/usr/bin/docker", target], check=True, capture_output=True)
        return target
    finally:
        subprocess.run(["docker", "rm", cid], capture_output=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate labapp/console/spec.py")
    mode.add_argument("--check", action="store_true", help="compare; exit 1 with a diff on any change")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--image", help="node image to take /usr/bin/docker from")
    source.add_argument("--docker", help="path of a docker CLI binary to read")
    parser.add_argument("--quick", action="store_true",
                        help="read value-taking from --help types instead of asking the parser (seconds, not minutes)")
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="console-spec-")
    try:
        binary = args.docker or _extract(args.image or _node_image(), scratch)
        cli = CLI(binary, scratch)
        version = cli("--version").split(",")[0].removeprefix("Docker version ").strip()
        global_flags, commands = walk(cli, lambda m: print(m, file=sys.stderr) if os.environ.get("VERBOSE") else None,
                                     probe=not args.quick)
        text = render(version, global_flags, commands)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.write:
        with open(SPEC_PATH, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {SPEC_PATH}: docker {version}, {len(commands)} commands")
        return 0
    with open(SPEC_PATH, encoding="utf-8") as f:
        current = f.read()
    if current == text:
        print(f"{SPEC_PATH} matches docker {version} ({len(commands)} commands)")
        return 0
    sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                               "labapp/console/spec.py", f"docker {version}"))
    return 1


if __name__ == "__main__":
    sys.exit(main())
