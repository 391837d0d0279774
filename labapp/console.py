"""The learner's console: one parse of a line into argv segments, then an allow-list.

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
labapp/console_spec.py, generated from the real CLI by scripts/console-spec.py.

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
segments[1:] are filters, parsed by labapp/filters.py (filters.parse); its FilterError
reason is the refusal.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from . import console_spec as spec
from . import filters
from .i18n import N_, msg

MAX_LINE = 2000
MAX_FILTERS = 8


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
_EMPTY = N_("the line is empty: type a docker command, e.g. docker node ls")
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
                                  word=_show(typed, 40), character=_char_name(ch)))
            word = (word or []) + [ch]
        i += 1
    if word is not None:
        words.append("".join(word))
    if not words:
        if segments:
            raise Refusal(msg(_EMPTY_PIPE))
        raise Refusal(msg(_EMPTY))
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


def _show(value: str, limit: int = 80) -> str:
    if value == "":
        return "''"
    return value if len(value) <= limit else value[:limit - 1] + "…"


# --------------------------------------------------------------------------- docker's parser

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


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
        return bool(found) and found[-1] in _TRUE

    @property
    def help(self) -> bool:
        return not self.command or self.command == ("help",) or self.is_set("--help")


def _resolve(parent: str, word: str) -> str | None:
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
    global_flags, rest = _parse_flags(spec.GLOBAL_FLAGS, list(argv[1:]), False, "docker")
    if not rest:
        return DockerCall(argv, tuple(global_flags), (), (), ())
    if rest[0] == "help":
        return DockerCall(argv, tuple(global_flags), ("help",), (), tuple(rest[1:]))
    key = _resolve("", rest[0])
    if key is None:
        raise Refusal(_unknown_command(rest[0], ""))
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
                              "docker {group} SUBCOMMAND {option}", group=key, option=_show(word, 40)))
        sub = _resolve(key, word)
        if sub is None:
            raise Refusal(_unknown_command(word, key))
        key, index = sub, index + 1
    entry = spec.COMMANDS[key]
    flags, operands = _parse_flags(entry["flags"], list(rest[index:]), entry["interspersed"], f"docker {key}")
    return DockerCall(argv, tuple(global_flags), tuple(key.split(" ")), tuple(flags), tuple(operands))


def _parse_flags(known: dict, args: list[str], interspersed: bool, where: str) -> tuple[list[Flag], list[str]]:
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
                raise Refusal(msg("{word} is not an option: an option looks like -x or --name", word=_show(arg, 40)))
            name, eq, value = body.partition("=")
            long = "--" + name
            if long not in known:
                raise Refusal(_unknown_flag(where, long))
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
                raise Refusal(_unknown_flag(where, "-" + short))
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
        if known[flag.name][1] == "bool" and flag.value not in _TRUE | _FALSE:
            raise Refusal(msg("{option}={value} is not true or false", option=flag.typed,
                              value=_show(flag.value, 40)))
    return flags, operands


# --------------------------------------------------------------------------- the allow-list

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LIST = "--filter --format --help --quiet"
_INSPECT = "--format --help"
_PRUNE = "--filter --force --help"
_RUN = _words("""
    --add-host --attach --blkio-weight --cap-drop --cgroupns --cpu-period --cpu-quota --cpu-shares
    --cpus --cpuset-cpus --cpuset-mems --detach --detach-keys --disable-content-trust --dns --dns-opt
    --dns-option --dns-search --domainname --entrypoint --env --expose --group-add --health-cmd
    --health-interval --health-retries --health-start-period --health-timeout --help --hostname --init
    --interactive --ip --ip6 --ipc --isolation --kernel-memory --label --link --link-local-ip
    --log-driver --log-opt --mac-address --memory --memory-reservation --memory-swap --memory-swappiness
    --mount --name --net --net-alias --network --network-alias --no-healthcheck --oom-score-adj --pid
    --pids-limit --platform --publish --publish-all --pull --read-only --restart --rm --security-opt
    --shm-size --sig-proxy --stop-signal --stop-timeout --storage-opt --tmpfs --tty --ulimit --user
    --userns --uts --volume --workdir""")
_CREATE = _RUN - {"--detach", "--detach-keys", "--sig-proxy"}
_EXEC = _words("--detach --detach-keys --env --help --interactive --tty --user --workdir")
_SERVICE_CREATE = _words("""
    --cap-drop --config --constraint --container-label --detach --dns --dns-option --dns-search
    --endpoint-mode --entrypoint --env --generic-resource --group --health-cmd --health-interval
    --health-retries --health-start-period --health-timeout --help --host --hostname --init --isolation
    --label --limit-cpu --limit-memory --limit-pids --log-driver --log-opt --max-concurrent --mode
    --mount --name --network --no-healthcheck --no-resolve-image --placement-pref --publish --quiet
    --read-only --replicas --replicas-max-per-node --reserve-cpu --reserve-memory --restart-condition
    --restart-delay --restart-max-attempts --restart-window --rollback-delay --rollback-failure-action
    --rollback-max-failure-ratio --rollback-monitor --rollback-order --rollback-parallelism --secret
    --stop-grace-period --stop-signal --tty --ulimit --update-delay --update-failure-action
    --update-max-failure-ratio --update-monitor --update-order --update-parallelism --user
    --with-registry-auth --workdir""")
_SERVICE_UPDATE = _words("""
    --args --cap-drop --config-add --config-rm --constraint-add --constraint-rm --container-label-add
    --container-label-rm --detach --dns-add --dns-option-add --dns-option-rm --dns-rm --dns-search-add
    --dns-search-rm --endpoint-mode --entrypoint --env-add --env-rm --force --generic-resource-add
    --generic-resource-rm --group-add --group-rm --health-cmd --health-interval --health-retries
    --health-start-period --health-timeout --help --host-add --host-rm --hostname --image --init
    --isolation --label-add --label-rm --limit-cpu --limit-memory --limit-pids --log-driver --log-opt
    --max-concurrent --mount-add --mount-rm --network-add --network-rm --no-healthcheck
    --no-resolve-image --placement-pref-add --placement-pref-rm --publish-add --publish-rm --quiet
    --read-only --replicas --replicas-max-per-node --reserve-cpu --reserve-memory --restart-condition
    --restart-delay --restart-max-attempts --restart-window --rollback --rollback-delay
    --rollback-failure-action --rollback-max-failure-ratio --rollback-monitor --rollback-order
    --rollback-parallelism --secret-add --secret-rm --stop-grace-period --stop-signal --sysctl-rm --tty
    --ulimit-add --ulimit-rm --update-delay --update-failure-action --update-max-failure-ratio
    --update-monitor --update-order --update-parallelism --user --with-registry-auth --workdir""")
_CONTAINER_UPDATE = _words("""
    --blkio-weight --cpu-period --cpu-quota --cpu-shares --cpus --cpuset-cpus --cpuset-mems --help
    --kernel-memory --memory --memory-reservation --memory-swap --pids-limit --restart""")

_CONTAINER_COMMANDS = {
    "attach": "--detach-keys --help --no-stdin --sig-proxy",
    "commit": "--author --change --help --message --pause",
    "create": _CREATE,
    "diff": "--help",
    "exec": _EXEC,
    "inspect": "--format --help --size",
    "kill": "--help --signal",
    "logs": "--details --follow --help --since --tail --timestamps --until",
    "ls": "--all --filter --format --help --last --latest --no-trunc --quiet --size",
    "pause": "--help",
    "port": "--help",
    "prune": _PRUNE,
    "rename": "--help",
    "restart": "--help --time",
    "rm": "--force --help --link --volumes",
    "run": _RUN,
    "start": "--attach --detach-keys --help --interactive",
    "stats": "--all --format --help --no-stream --no-trunc",
    "stop": "--help --time",
    "top": "--help",
    "unpause": "--help",
    "update": _CONTAINER_UPDATE,
    "wait": "--help",
}
_IMAGE_COMMANDS = {
    "history": "--format --help --human --no-trunc --quiet",
    "inspect": _INSPECT,
    "ls": "--all --digests --filter --format --help --no-trunc --quiet",
    "prune": "--all --filter --force --help",
    "rm": "--force --help --no-prune",
    "tag": "--help",
}

ALLOWED: dict[str, frozenset[str]] = {key: (_words(v) if isinstance(v, str) else v) for key, v in {
    **{f"container {name}": flags for name, flags in _CONTAINER_COMMANDS.items()},
    **{name: flags for name, flags in _CONTAINER_COMMANDS.items() if name not in ("ls", "prune", "inspect")},
    "ps": _CONTAINER_COMMANDS["ls"],
    "inspect": "--format --help --size --type",
    **{f"image {name}": flags for name, flags in _IMAGE_COMMANDS.items()},
    "images": _IMAGE_COMMANDS["ls"], "history": _IMAGE_COMMANDS["history"],
    "rmi": _IMAGE_COMMANDS["rm"], "tag": _IMAGE_COMMANDS["tag"],
    "events": "--filter --format --help --since --until",
    "info": _INSPECT,
    "version": _INSPECT,
    "network connect": "--alias --driver-opt --help --ip --ip6 --link --link-local-ip",
    "network create": "--attachable --aux-address --config-from --config-only --driver --gateway --help "
                      "--ingress --internal --ip-range --ipam-driver --ipam-opt --ipv6 --label --opt --scope --subnet",
    "network disconnect": "--force --help",
    "network inspect": "--format --help --verbose",
    "network ls": "--filter --format --help --no-trunc --quiet",
    "network prune": _PRUNE,
    "network rm": "--help",
    "node demote": "--help",
    "node inspect": "--format --help --pretty",
    "node ls": _LIST,
    "node promote": "--help",
    "node ps": "--filter --format --help --no-resolve --no-trunc --quiet",
    "node rm": "--force --help",
    "node update": "--availability --help --label-add --label-rm --role",
    "service create": _SERVICE_CREATE,
    "service inspect": "--format --help --pretty",
    "service logs": "--details --follow --help --no-resolve --no-task-ids --no-trunc --raw --since --tail --timestamps",
    "service ls": _LIST,
    "service ps": "--filter --format --help --no-resolve --no-trunc --quiet",
    "service rm": "--help",
    "service rollback": "--detach --help --quiet",
    "service scale": "--detach --help",
    "service update": _SERVICE_UPDATE,
    "swarm ca": "--cert-expiry --detach --help --quiet --rotate",
    "swarm init": "--advertise-addr --autolock --availability --cert-expiry --data-path-addr --data-path-port "
                  "--default-addr-pool --default-addr-pool-mask-length --dispatcher-heartbeat --force-new-cluster "
                  "--help --listen-addr --max-snapshots --snapshot-interval --task-history-limit",
    "swarm join-token": "--help --quiet --rotate",
    "swarm leave": "--force --help",
    "swarm unlock-key": "--help --quiet --rotate",
    "swarm update": "--autolock --cert-expiry --dispatcher-heartbeat --help --max-snapshots --snapshot-interval "
                    "--task-history-limit",
    "system df": "--format --help --verbose",
    "system events": "--filter --format --help --since --until",
    "system info": _INSPECT,
    "system prune": "--all --filter --force --help --volumes",
    "volume create": "--driver --help --label --opt",
    "volume inspect": _INSPECT,
    "volume ls": _LIST,
    "volume prune": _PRUNE,
    "volume rm": "--force --help",
    "config inspect": "--format --help --pretty",
    "config ls": _LIST,
    "config rm": "--help",
    "secret inspect": "--format --help --pretty",
    "secret ls": _LIST,
    "secret rm": "--help",
    "stack ls": "--format --help",
    "stack ps": "--filter --format --help --no-resolve --no-trunc --quiet",
    "stack rm": "--help",
    "stack services": _LIST,
}.items()}
ALLOWED_GLOBAL_FLAGS = frozenset({"--debug", "--log-level", "--help", "--version"})
GROUPS = ("config", "container", "image", "network", "node", "secret", "service", "stack", "swarm", "system",
          "volume")

# Commands the CLI has that the console refuses, with the reason (a msg template over
# {command}, the command as the spec names it: docker {command} ...).
_ARCHIVES = N_("docker {command} moves archives between the engine and the node's files; "
               "the console touches no files on the node")
_BUILD = N_("docker {command} reads a build context from the node's files; the console touches no files on the node")
_CREDENTIALS = N_("docker {command} keeps registry credentials in the node's files, and the lab has no registry")
_REGISTRY = N_("docker {command} needs a registry, and the lab has none")
_CONTENT = N_("docker {command} reads its content from a file on the node; the console touches no files on the node")
_COPY = N_("docker {command} copies files between the node and a container, and the console touches no files on "
           "the node; to read a container's file: docker exec CONTAINER cat FILE")
REFUSED_COMMANDS: dict[str, str] = {
    "cp": _COPY,
    **{c: _ARCHIVES for c in ("save", "load", "export", "import", "image save", "image load", "image import",
                              "container export")},
    **{c: _BUILD for c in ("build", "builder", "image build")},
    "container cp": _COPY,
    "context": N_("docker context switches docker to another engine; the console talks to this node's engine only"),
    "plugin": N_("docker plugin installs and runs engine plugins, which act with the node's full power; "
                 "it is not allowed in the lab"),
    **{c: _CREDENTIALS for c in ("login", "logout")},
    **{c: _REGISTRY for c in ("pull", "image pull", "push", "image push", "search", "manifest", "trust")},
    "swarm join": N_("docker swarm join connects this node to another swarm; your sandbox's swarm is already formed"),
    **{c: _CONTENT for c in ("config create", "secret create")},
    "stack deploy": N_("docker stack deploy reads a compose file from the node's files; "
                       "create each service with docker service create"),
}

# Flags of allowed commands that the console refuses, with the reason (a msg template over
# {option}, the flag as typed).
_DEVICES = N_("{option} hands node devices to a container; it is not allowed in the lab")
_READS = N_("{option} reads a file on the node; the console touches no files on the node")
_OTHER_ENGINE = N_("{option} points docker at another engine; the console talks to this node's engine only")
_TLS = N_("{option} sets up TLS to reach another engine; the console talks to this node's engine only")
REFUSED_FLAGS: dict[str, str] = {
    "--privileged": N_("{option} gives a container every power of the node; it is not allowed in the lab"),
    "--cap-add": N_("{option} widens what a container may do to the node; it is not allowed in the lab "
                    "(--cap-drop is)"),
    **{f: _DEVICES for f in ("--device", "--device-cgroup-rule", "--device-read-bps", "--device-read-iops",
                             "--device-write-bps", "--device-write-iops", "--gpus", "--blkio-weight-device")},
    "--volume-driver": N_("{option} lets a volume plugin mount paths of the node; it is not allowed in the lab"),
    "--volumes-from": N_("{option} copies the mounts of another container, which may be paths of the node; "
                         "mount a named volume instead: -v NAME:/path"),
    "--cgroup-parent": N_("{option} moves a container out of its sandbox's cgroup; it is not allowed in the lab"),
    "--runtime": N_("{option} picks another container runtime of the node; it is not allowed in the lab"),
    **{f: N_("{option} changes kernel settings; it is not allowed in the lab") for f in ("--sysctl", "--sysctl-add")},
    **{f: N_("{option} asks for real-time CPU time, which the node shares with every sandbox; "
             "it is not allowed in the lab")
       for f in ("--cpu-rt-period", "--cpu-rt-runtime")},
    "--oom-kill-disable": N_("{option} lets a container keep memory the node needs; it is not allowed in the lab"),
    **{f: N_("{option} is for Windows engines only; it is not allowed in the lab")
       for f in ("--cpu-count", "--cpu-percent", "--io-maxbandwidth", "--io-maxiops", "--credential-spec")},
    **{f: _READS for f in ("--env-file", "--label-file", "--external-ca", "--ca-cert", "--ca-key",
                           "--kubeconfig")},
    "--cidfile": N_("{option} writes a file on the node; the console touches no files on the node"),
    "--orchestrator": N_("{option} points docker at another orchestrator; the console talks to this node's "
                         "engine only"),
}
_GLOBAL_REFUSED = {
    "--host": _OTHER_ENGINE,
    "--context": _OTHER_ENGINE,
    "--config": N_("{option} reads client settings from a path of the node; the console uses the node's own "
                   "settings"),
    **{f: _TLS for f in ("--tls", "--tlsverify", "--tlscacert", "--tlscert", "--tlskey")},
}


def _allowed_here(parent: str) -> list[str]:
    """The commands the console runs under PARENT ('' for docker itself), for a refusal."""
    names = set()
    for key in ALLOWED:
        parts = key.split(" ")
        if " ".join(parts[:-1]) == parent:
            names.add(parts[-1])
        elif parent == "" and len(parts) > 1:
            names.add(parts[0])
    return sorted(names)


def _unknown_command(word: str, parent: str) -> str:
    if parent and not _allowed_here(parent):  # nothing of that group is allowed: refuse the group
        return _unknown_command(parent.split(" ")[0], "")
    full = f"{parent} {word}".strip()
    key = _resolve(parent, word)
    if key in REFUSED_COMMANDS:
        return msg(REFUSED_COMMANDS[key], command=key)
    if key and key.split(" ")[0] in REFUSED_COMMANDS:
        return msg(REFUSED_COMMANDS[key.split(" ")[0]], command=key.split(" ")[0])
    return msg("docker {command} is not a command the console runs; allowed here: {commands}",
               command=_show(full, 60), commands=", ".join(_allowed_here(parent)))


def _unknown_flag(where: str, typed: str) -> str:
    return msg("{command} has no option {option}; {command} --help lists its options", command=where,
               option=_show(typed, 40))


def _refused_flag(flag: Flag, path: str, global_: bool = False) -> str:
    table = _GLOBAL_REFUSED if global_ else REFUSED_FLAGS
    if flag.name in table:
        return msg(table[flag.name], option=flag.typed)
    return msg("docker {command} {option} is not allowed in the console", command=path, option=flag.typed)


# --------------------------------------------------------------------------- value judges

_VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]+\Z")  # the local volume driver's names
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000"
_LOG_DRIVERS = ("json-file", "local", "none")
_LOG_OPTS = ("max-size", "max-file", "compress", "mode", "max-buffer-size", "labels", "labels-regex", "env",
             "env-regex", "tag")
_NETWORK_DRIVERS = ("bridge", "overlay", "macvlan", "ipvlan")
_TMPFS_OPTIONS = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks")
_NAMED_MOUNT = "--mount type=volume,source=NAME,target=/path"


def _go_lower(text: str) -> str:
    """Go's strings.ToLower (simple case mapping: İ becomes i, not i + a dot)."""
    return text.replace("\u0130", "i").lower()


def _go_trim(text: str) -> str:
    return text.strip(_GO_SPACE)


def go_csv_record(value: str) -> list[str]:
    """The first record of VALUE as Go's encoding/csv Reader.Read reads it (the CLI's csv options)."""
    if value == "":
        raise ValueError("the value is empty")
    fields, i, n = [], 0, len(value)
    while True:
        if i < n and value[i] == '"':
            i += 1
            piece = []
            while True:
                end = value.find('"', i)
                if end < 0:
                    raise ValueError('extraneous or missing " in quoted-field')
                piece.append(value[i:end])
                i = end + 1
                if value.startswith('"', i):
                    piece.append('"')
                    i += 1
                elif value.startswith(",", i):
                    fields.append("".join(piece))
                    i += 1
                    break
                elif i == n:
                    fields.append("".join(piece))
                    return fields
                else:
                    raise ValueError('extraneous or missing " in quoted-field')
        else:
            end = value.find(",", i)
            piece = value[i:] if end < 0 else value[i:end]
            if '"' in piece:
                raise ValueError('bare " in non-quoted-field')
            fields.append(piece)
            if end < 0:
                return fields
            i = end + 1


def _is_path(source: str) -> bool:
    return "/" in source or "\\" in source or source.startswith((".", "~")) or source == ""


_NOT_A_VOLUME = N_("{option} {value} cannot be read: {name} is not a volume name")
_UNREADABLE = N_("{option} {value} cannot be read: {why}")
_HOST_NAMESPACE = N_("{option} host shares the node's own namespace with a container; it is not allowed in the lab")
_NOT_BUILT_IN = N_("{option} {value} is not a built-in driver; allowed: {drivers}")


def _judge_volume(flag: Flag) -> str | None:
    value = flag.value
    parts = value.split(":")
    if len(parts) == 1:
        return None  # an anonymous volume at that path of the container
    if len(parts) > 3 or _is_path(parts[0]):
        return msg("{option} {value} mounts a path of the node into a container; "
                   "use a named volume instead: -v NAME:/path", option=flag.typed, value=_show(value))
    if not _VOLUME_NAME.match(parts[0]):
        return msg(_NOT_A_VOLUME, option=flag.typed, value=_show(value), name=_show(parts[0], 40))
    return None


def mount_fields(value: str) -> dict:
    """A --mount value read like the 20.10 CLI's MountOpt.Set: {'type', 'source', 'target', 'keys'}."""
    fields = go_csv_record(value)
    mount = {"type": "volume", "source": "", "target": "", "keys": []}
    for item in fields:
        key, eq, val = item.partition("=")
        key = _go_lower(key)
        mount["keys"].append(key)
        if not eq:
            if key in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
                continue
            raise ValueError(f"invalid field '{item}' must be a key=value pair")
        if key == "type":
            mount["type"] = _go_lower(val)
        elif key in ("source", "src"):
            mount["source"] = val
        elif key in ("target", "dst", "destination"):
            mount["target"] = val
        elif key not in ("readonly", "ro", "consistency", "bind-propagation", "bind-nonrecursive",
                         "volume-nocopy", "volume-label", "volume-driver", "volume-opt", "tmpfs-size",
                         "tmpfs-mode"):
            raise ValueError(f"unexpected key '{key}' in '{item}'")
    return mount


def _judge_mount(flag: Flag) -> str | None:
    shown = {"option": flag.typed, "value": _show(flag.value)}
    try:
        mount = mount_fields(flag.value)
    except ValueError as exc:
        return msg(_UNREADABLE, why=str(exc), **shown)
    keys, source = mount["keys"], mount["source"]
    if mount["type"] == "bind" or any(k.startswith("bind-") for k in keys) \
            or (mount["type"] == "volume" and source and _is_path(source)):
        return msg("{option} {value} mounts a path of the node into a container; use {mount}", mount=_NAMED_MOUNT,
                   **shown)
    if "volume-driver" in keys or "volume-opt" in keys:
        return msg("{option} {value} sets a volume driver or its options, which can mount paths of the node; "
                   "use {mount}", mount=_NAMED_MOUNT, **shown)
    if mount["type"] not in ("volume", "tmpfs"):
        return msg("{option} {value} has type {type}; the console mounts only type=volume and type=tmpfs",
                   type=_show(mount["type"], 20), **shown)
    if mount["type"] == "volume" and source and not _VOLUME_NAME.match(source):
        return msg(_NOT_A_VOLUME, name=_show(source, 40), **shown)
    if mount["type"] == "tmpfs" and source:
        return msg("{option} {value} cannot be read: a tmpfs mount has no source", **shown)
    return None


_LONG_NETWORK = re.compile(r"\w+=\w+(,\w+=\w+)*", re.ASCII)


def network_target(value: str) -> str:
    """The network a --network value names, read like the 20.10 CLI's NetworkOpt.Set."""
    if not _LONG_NETWORK.search(value):
        return value
    target = ""
    for item in go_csv_record(value):
        key, eq, val = item.partition("=")
        if not eq:
            raise ValueError(f"invalid field {item}")
        key, val = _go_trim(_go_lower(key)), _go_trim(_go_lower(val))
        if key == "name":
            target = val
        elif key not in ("alias", "driver-opt"):
            raise ValueError(f"invalid field key {key}")
    if not target:
        raise ValueError("network name/id is not specified")
    return target


def _judge_network(flag: Flag) -> str | None:
    try:
        target = network_target(flag.value)
    except ValueError as exc:
        return msg(_UNREADABLE, option=flag.typed, value=_show(flag.value), why=str(exc))
    if _go_lower(target) == "host":
        return msg(_HOST_NAMESPACE, option=flag.typed)
    return None


def _judge_namespace(flag: Flag) -> str | None:
    if _go_lower(flag.value) == "host":
        return msg(_HOST_NAMESPACE, option=flag.typed)
    return None


def _judge_security_opt(flag: Flag) -> str | None:
    name, _, value = flag.value.replace(":", "=", 1).partition("=")
    if name == "no-new-privileges" and (not value or value in _TRUE | _FALSE) and "=" not in value:
        return None
    return msg("{option} {value} switches off the node's protections; only --security-opt no-new-privileges is "
               "allowed", option=flag.typed, value=_show(flag.value))


def _judge_log_driver(flag: Flag) -> str | None:
    if flag.value in _LOG_DRIVERS:
        return None
    return msg("{option} {value} sends logs out of the sandbox; use json-file, local or none", option=flag.typed,
               value=_show(flag.value))


def _judge_log_opt(flag: Flag) -> str | None:
    if flag.value.split("=", 1)[0] in _LOG_OPTS:
        return None
    return msg("{option} {value} is not an option of the json-file or local log driver; allowed: {options}",
               option=flag.typed, value=_show(flag.value), options=", ".join(_LOG_OPTS))


def _judge_env(flag: Flag) -> str | None:
    if "=" in flag.value:
        return None
    return msg("{option} {name} copies a variable from the node's environment; give its value: {option} {name}=VALUE",
               option=flag.typed, name=_show(flag.value, 40))


def _judge_content_trust(flag: Flag) -> str | None:
    if flag.value in _TRUE:
        return None
    return msg("{option}={value} turns on content trust, which writes trust data to the node's files; "
               "leave the option out", option=flag.typed, value=flag.value)


def _judge_volume_driver(flag: Flag) -> str | None:
    if flag.value == "local":
        return None
    return msg(_NOT_BUILT_IN, option=flag.typed, value=_show(flag.value, 40), drivers="local")


def _judge_volume_opt(flag: Flag) -> str | None:
    key, _, value = flag.value.partition("=")
    if key in ("type", "device") and value == "tmpfs":
        return None
    if key == "o" and all(o.split("=", 1)[0] in _TMPFS_OPTIONS and "=" in o for o in value.split(",")):
        return None
    return msg("{option} {value} can make a volume a bind mount of a path of the node; "
               "allowed: type=tmpfs, device=tmpfs, o=size=...,mode=...,uid=...,gid=...", option=flag.typed,
               value=_show(flag.value))


def _judge_network_driver(flag: Flag) -> str | None:
    if flag.value in _NETWORK_DRIVERS:
        return None
    return msg(_NOT_BUILT_IN, option=flag.typed, value=_show(flag.value, 40), drivers=", ".join(_NETWORK_DRIVERS))


def _judge_ipam_driver(flag: Flag) -> str | None:
    if flag.value == "default":
        return None
    return msg(_NOT_BUILT_IN, option=flag.typed, value=_show(flag.value, 40), drivers="default")


_CONTAINER_JUDGES: dict[str, Callable[[Flag], str | None]] = {
    "--volume": _judge_volume, "--mount": _judge_mount, "--network": _judge_network, "--net": _judge_network,
    "--pid": _judge_namespace, "--ipc": _judge_namespace, "--uts": _judge_namespace,
    "--userns": _judge_namespace, "--cgroupns": _judge_namespace, "--security-opt": _judge_security_opt,
    "--log-driver": _judge_log_driver, "--log-opt": _judge_log_opt, "--env": _judge_env,
    "--disable-content-trust": _judge_content_trust,
}
_SERVICE_CREATE_JUDGES: dict[str, Callable[[Flag], str | None]] = {
    "--mount": _judge_mount, "--network": _judge_network, "--log-driver": _judge_log_driver,
    "--log-opt": _judge_log_opt, "--env": _judge_env,
}
_SERVICE_UPDATE_JUDGES: dict[str, Callable[[Flag], str | None]] = {
    "--mount-add": _judge_mount, "--network-add": _judge_network, "--log-driver": _judge_log_driver,
    "--log-opt": _judge_log_opt, "--env-add": _judge_env,
}
JUDGES: dict[str, dict[str, Callable[[Flag], str | None]]] = {
    **{p: _CONTAINER_JUDGES for p in ("run", "create", "container run", "container create")},
    **{p: {"--env": _judge_env} for p in ("exec", "container exec")},
    "service create": _SERVICE_CREATE_JUDGES,
    "service update": _SERVICE_UPDATE_JUDGES,
    "volume create": {"--driver": _judge_volume_driver, "--opt": _judge_volume_opt},
    "network create": {"--driver": _judge_network_driver, "--ipam-driver": _judge_ipam_driver},
}


def registry_host(image: str) -> str | None:
    """The registry host an image reference names, as docker's reference parser splits it
    (splitDockerDomain): a first path component with '.', ':' or capitals, or 'localhost'."""
    first, slash, _ = image.partition("/")
    if slash and (any(c in first for c in ".:") or first == "localhost" or first.lower() != first):
        return first
    return None


def _judge_image(image: str) -> str | None:
    host = registry_host(image)
    if host is None:
        return None
    return msg("the image {image} names the registry host {host}, and the lab has no registry; use an image the "
               "node has (docker images)", image=_show(image, 60), host=_show(host, 40))


# Commands whose first operand is an image the engine may pull (from the registry it names).
_IMAGE_OPERAND = ("run", "create", "container run", "container create", "service create")


def judge_docker(call: DockerCall) -> None:
    """Raise Refusal if CALL is not allowed."""
    for flag in call.global_flags:
        if flag.name not in ALLOWED_GLOBAL_FLAGS:
            raise Refusal(_refused_flag(flag, "", global_=True))
    if call.command == ("help",):
        if call.operands:
            topic = " ".join(call.operands)
            raise Refusal(msg("docker help {topic} may start a CLI plugin; ask the command itself: "
                              "docker {topic} --help", topic=_show(topic, 40)))
        return
    path = call.path
    if not call.command or path in GROUPS:
        return  # docker alone, or a group alone: the CLI prints its usage
    if path not in ALLOWED:
        raise Refusal(_unknown_command(call.command[-1], " ".join(call.command[:-1])))
    allowed = ALLOWED[path]
    judges = JUDGES.get(path, {})
    for flag in call.flags:
        if flag.name not in allowed:
            raise Refusal(_refused_flag(flag, path))
        judge = judges.get(flag.name)
        reason = judge(flag) if judge else None
        if reason:
            raise Refusal(reason)
    images = call.values("--image") if path == "service update" else []
    if path in _IMAGE_OPERAND and call.operands:
        images.append(call.operands[0])
    for image in images:
        reason = _judge_image(image)
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


# --------------------------------------------------------------------------- the verdict

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
        return refuse(msg(_EMPTY))
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
                              program=_show(first[0], 40), filters=", ".join(filters.NAMES)))
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
                                  program=_show(argv[0], 40), filters=", ".join(filters.NAMES)))
            try:
                parsed.append(filters.parse(argv))
            except filters.FilterError as exc:  # its words (a Message too, once filters.py makes them so)
                raise Refusal(exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)) \
                    from None
    except Refusal as refusal:
        return refuse(refusal.reason)
    return Verdict(True, "", tty, segments, call, tuple(parsed))
