"""The docker segment read as the docker 20.10 CLI reads it (cobra + spf13/pflag), from the
flag facts in spec.py: global flags, the command path with aliases resolved, then the command's
flags and operands. It knows what the CLI would do, not what the console allows."""
from __future__ import annotations

from dataclasses import dataclass

from ..i18n import msg
from . import spec
from .grammar import Refusal, show

TRUE = {"1", "t", "T", "TRUE", "true", "True"}
FALSE = {"0", "f", "F", "FALSE", "false", "False"}


@dataclass(frozen=True)
class Flag:
    """One flag as the CLI reads it: long NAME, its VALUE ('true'/'false' for bools), as TYPED."""

    name: str
    value: str
    typed: str


@dataclass(frozen=True)
class DockerCall:
    """A docker command line read like the docker 20.10 CLI reads it."""

    argv: tuple[str, ...]
    global_flags: tuple[Flag, ...]
    command: tuple[str, ...]  # canonical path, aliases resolved: ("service", "create"); () for bare docker
    flags: tuple[Flag, ...]
    operands: tuple[str, ...]  # for run/create/exec/service create: IMAGE/CONTAINER, then its command

    @property
    def path(self) -> str:
        return " ".join(self.command)

    def values(self, *names: str) -> list[str]:
        return [f.value for f in self.flags if f.name in names]

    def is_set(self, name: str) -> bool:
        """The bool flag NAME as the CLI ends up with it (the last one wins)."""
        found = [f.value for f in self.flags if f.name == name]
        return bool(found) and found[-1] in TRUE

    @property
    def help(self) -> bool:
        return not self.command or self.command == ("help",) or self.is_set("--help")


class UnknownCommand(Refusal):
    """WORD is not a command of the CLI under PARENT ('' for docker itself); the policy words the refusal."""

    def __init__(self, word: str, parent: str):
        super().__init__(" ".join(("docker", parent, word)).replace("  ", " ") + " is not a docker command")
        self.word, self.parent = word, parent


def resolve(parent: str, word: str) -> str | None:
    """The spec key of the command WORD under PARENT ('' for docker itself), aliases included."""
    names = [k for k in spec.COMMANDS if " ".join(k.split(" ")[:-1]) == parent]
    for key in names:
        last = key.split(" ")[-1]
        if word == last or word in spec.COMMANDS[key]["aliases"]:
            return key
    return None


def parse_docker(argv) -> DockerCall:
    """ARGV (argv[0] == 'docker') read as the docker CLI reads it, or Refusal if it cannot be."""
    argv = tuple(argv)
    global_flags, rest = parse_flags(spec.GLOBAL_FLAGS, list(argv[1:]), False, "docker")
    if not rest:
        return DockerCall(argv, tuple(global_flags), (), (), ())
    if rest[0] == "help":
        return DockerCall(argv, tuple(global_flags), ("help",), (), tuple(rest[1:]))
    key = resolve("", rest[0])
    if key is None:
        raise UnknownCommand(rest[0], "")
    index = 1
    while "subcommands" in spec.COMMANDS[key]:
        if index >= len(rest):
            return DockerCall(argv, tuple(global_flags), tuple(key.split(" ")), (), ())
        word = rest[index]
        if all(w in ("--help", "-h") for w in rest[index:]):  # docker GROUP --help: its usage
            help_flag = Flag("--help", "true", word)
            return DockerCall(argv, tuple(global_flags), tuple(key.split(" ")), (help_flag,), ())
        if len(word) > 1 and word.startswith("-"):
            raise Refusal(msg("docker {group} needs its subcommand before the option {option}: "
                              "docker {group} SUBCOMMAND {option}", group=key, option=show(word, 40)))
        sub = resolve(key, word)
        if sub is None:
            raise UnknownCommand(word, key)
        key, index = sub, index + 1
    entry = spec.COMMANDS[key]
    flags, operands = parse_flags(entry["flags"], list(rest[index:]), entry["interspersed"], f"docker {key}")
    return DockerCall(argv, tuple(global_flags), tuple(key.split(" ")), tuple(flags), tuple(operands))


def parse_flags(known: dict, args: list[str], interspersed: bool, where: str) -> tuple[list[Flag], list[str]]:
    """pflag's FlagSet.Parse over ARGS: (flags, operands)."""
    shorts = {short: name for name, (short, _, _) in known.items() if short}
    flags: list[Flag] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if len(arg) < 2 or arg[0] != "-":
            operands.append(arg)
            if not interspersed:
                operands += args[i:]
                break
            continue
        if arg == "--":
            operands += args[i:]
            break
        if arg[1] == "-":
            body = arg[2:]
            if body[0] in "-=":
                raise Refusal(msg("{word} is not an option: an option looks like -x or --name", word=show(arg, 40)))
            name, eq, value = body.partition("=")
            long = "--" + name
            if long not in known:
                raise Refusal(unknown_flag(where, long))
            kind = known[long][1]
            if not eq:
                if kind == "bool":
                    value = "true"
                elif i < len(args):
                    value, i = args[i], i + 1
                else:
                    raise Refusal(msg("the option {option} of {command} needs a value", option=long, command=where))
            flags.append(Flag(long, value, long))
            continue
        cluster = arg[1:]
        while cluster:
            if cluster.startswith("test."):  # pflag skips the rest of such a cluster (go test flags)
                break
            short, cluster = cluster[0], cluster[1:]
            long = shorts.get(short)
            if long is None:
                raise Refusal(unknown_flag(where, "-" + short))
            kind = known[long][1]
            if len(cluster) > 1 and cluster[0] == "=":
                value, cluster = cluster[1:], ""
            elif kind == "bool":
                value = "true"
            elif cluster:
                value, cluster = cluster, ""
            elif i < len(args):
                value, i = args[i], i + 1
            else:
                raise Refusal(msg("the option {option} of {command} needs a value", option="-" + short,
                                  command=where))
            flags.append(Flag(long, value, "-" + short))
    for flag in flags:
        if known[flag.name][1] == "bool" and flag.value not in TRUE | FALSE:
            raise Refusal(msg("{option}={value} is not true or false", option=flag.typed,
                              value=show(flag.value, 40)))
    return flags, operands


def unknown_flag(where: str, typed: str) -> str:
    return msg("{command} has no option {option}; {command} --help lists its options", command=where,
               option=show(typed, 40))
