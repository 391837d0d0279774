"""The console (labapp/console): its grammar, docker's own flag parsing, the allow-list,
and the attack corpus of tests/security/console_corpus.py.

The last tests ask the real docker 20.10 CLI of the node image (integration: they need the
engine and the images, or LABAPP_DOCKER_CLI=/path/to/a/20.10/docker): the spec must match
its --help, and the console must read a docker line exactly as the CLI does.
"""
from __future__ import annotations

import glob
import importlib.util
import io
import os
import re
import subprocess
import tarfile

import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from labapp import console, filters, i18n
from labapp.console import spec as console_spec
from labapp.console import Refusal, join, judge, parse_docker, split
from labapp.lesson.parser import parse_file

from ..security.console_corpus import CASES, FILTER, HARMLESS, LEGIT, NOT_CONSOLE, REFUSED

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HANGUL = re.compile(r"[\uac00-\ud7a3]")


# --------------------------------------------------------------------------- the corpus

@pytest.mark.parametrize("line", LEGIT)
def test_legit_lines_are_allowed(line):
    verdict = judge(line)
    assert verdict.allowed, verdict.reason
    assert verdict.segments == split(line) and verdict.segments[0][0] == "docker"
    assert verdict.docker.argv == verdict.segments[0]
    assert len(verdict.filters) == len(verdict.segments) - 1


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cls}:{c.line[:60]!r}" for c in CASES])
def test_attack_corpus(case):
    verdict = judge(case.line)
    if case.outcome == REFUSED:
        assert not verdict.allowed, f"allowed: {verdict.segments}"
        assert case.expect in verdict.reason
        assert verdict.segments == ()
    elif case.outcome == HARMLESS:
        assert verdict.allowed, verdict.reason
        assert verdict.segments == split(case.line)
    else:
        assert case.outcome == FILTER
        assert not verdict.allowed
        expected = None
        for argv in split(case.line)[1:]:
            try:
                filters.parse(argv)
            except filters.FilterError as exc:
                expected = str(exc)
                break
        assert expected is not None, f"labapp/filters accepts {case.line!r}: {case.expect}"
        assert verdict.reason == expected


def test_the_corpus_covers_every_class():
    counts: dict[str, int] = {}
    for case in CASES:
        counts[case.cls] = counts.get(case.cls, 0) + 1
    assert len(CASES) >= 200 and all(n >= 3 for n in counts.values()), counts
    assert len({c.line for c in CASES}) == len(CASES), "a line appears twice"
    assert {c.outcome for c in CASES} == {REFUSED, HARMLESS, FILTER}


@pytest.mark.parametrize("case", [c for c in CASES if c.outcome == REFUSED],
                         ids=[f"{c.cls}:{c.line[:60]!r}" for c in CASES if c.outcome == REFUSED])
def test_every_refusal_reads_in_korean(case):
    reason = judge(case.line).reason
    assert isinstance(reason, i18n.Message), reason  # made by id, so a Korean page can say it
    korean = i18n.localized(reason, "ko")
    assert korean != reason and HANGUL.search(korean), reason


def _lesson_commands():
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "lessons", "*.md"))):
        lesson, problems = parse_file(path)
        assert lesson is not None, problems
        for step in lesson.steps:
            for block in (*step.blocks, *step.setup, *step.solution):
                out += [(os.path.basename(path), c.text) for c in block.commands]
    return out


def test_every_lesson_command_is_allowed_or_is_a_step_command():
    commands = _lesson_commands()
    assert len(commands) > 50
    for name, text in commands:
        verdict = judge(text)
        if text.split()[0] == "docker":
            assert verdict.allowed, f"{name}: {text}: {verdict.reason}"
            assert text in LEGIT, f"{name}: {text} is missing from LEGIT (the lead's sandbox run)"
        else:
            assert text in NOT_CONSOLE and not verdict.allowed, f"{name}: {text}"


def test_legit_lines_with_the_real_filters():
    refused = [(line, judge(line).reason) for line in LEGIT if not judge(line).allowed]
    assert refused == []


# --------------------------------------------------------------------------- the grammar

@pytest.mark.parametrize("line,segments", [
    ("docker ps", (("docker", "ps"),)),
    ("  docker   ps  ", (("docker", "ps"),)),
    ("docker network inspect n | jq '.[0] | { IPAM }'", (("docker", "network", "inspect", "n"), ("jq", ".[0] | { IPAM }"))),
    ("a|b", (("a",), ("b",))),
    ("docker exec a sh -c 'x; y'", (("docker", "exec", "a", "sh", "-c", "x; y"),)),
    ('docker exec a echo "a\\"b\\\\c\\d"', (("docker", "exec", "a", "echo", 'a"b\\c\\d'),)),
    ("docker exec a echo 'a\\b'", (("docker", "exec", "a", "echo", "a\\b"),)),
    ("docker exec a echo a\\ b\\|c\\;d", (("docker", "exec", "a", "echo", "a b|c;d"),)),
    ("d'oc'\"ker\" ps", (("docker", "ps"),)),
    ("docker exec a echo '' \"\"", (("docker", "exec", "a", "echo", "", ""),)),
    ("docker exec a echo 'it'\\''s'", (("docker", "exec", "a", "echo", "it's"),)),
    ("docker exec a ls /* ~ {a,b} !x a#b", (("docker", "exec", "a", "ls", "/*", "~", "{a,b}", "!x", "a#b"),)),
    ("docker exec a grep 'a$' \"b;c|d&e<f>g(h)\"", (("docker", "exec", "a", "grep", "a$", "b;c|d&e<f>g(h)"),)),
    ("docker exec a echo 안녕", (("docker", "exec", "a", "echo", "안녕"),)),
])
def test_the_grammar_splits_words_and_segments(line, segments):
    assert split(line) == segments


@pytest.mark.parametrize("line,reason", [
    ("docker ps;x", "one command per line"),
    ("docker ps\nx", "one command per line"),
    ("docker ps & x", "'&' and '&&'"),
    ("docker ps > x", "redirects"),
    ("docker ps < x", "redirects"),
    ("docker ps $x", "substitutions"),
    ('docker ps "$x"', "substitutions"),
    ('docker ps "`x`"', "substitutions"),
    ('docker ps "\\$x"', "substitutions"),
    ("docker ps `x`", "substitutions"),
    ("docker ps (", "'(' is shell syntax"),
    ("docker ps )", "')' is shell syntax"),
    ("docker ps #x", "'#' is shell syntax"),
    ("docker ps 'x", "' quote is never closed"),
    ('docker ps "x', '" quote is never closed'),
    ('docker ps "x\\"', '" quote is never closed'),
    ("docker ps \\", "ends with a backslash"),
    ("docker ps ||", "'||'"),
    ("docker ps | ", "an empty command"),
    ("", "the line is empty"),
    ("docker\tps", "control character (U+0009"),
    ("docker ps '\x00'", "control character (U+0000"),
    ("docker ps '\u200b'", "invisible or unusual space character (U+200B ZERO WIDTH SPACE)"),
    ("docker\u3000ps", "U+3000 IDEOGRAPHIC SPACE"),
    ("docker ps \u2014a", "starts with U+2014 EM DASH"),
])
def test_the_grammar_refuses_with_a_reason(line, reason):
    with pytest.raises(Refusal) as info:
        split(line)
    assert reason in info.value.reason


_REFUSED_ANYWHERE = re.compile("[\x00-\x1f\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]")
_ALPHABET = st.sampled_from(list("abcdz09 -_/.:=,'\"\\|;&<>$`()#*?[]~{}!") +
                            ["\t", "\n", "\x00", "\u00a0", "\u200b", "\u2014", "\u202e", "한", "é", "\ud800"])


@settings(max_examples=400, deadline=None)
@given(st.text(_ALPHABET, max_size=40))
def test_whatever_the_grammar_accepts_is_clean_and_round_trips(line):
    try:
        segments = split(line)
    except Refusal:
        return
    for argv in segments:
        assert argv and all(not _REFUSED_ANYWHERE.search(w) and not ("\ud800" <= w[:1] <= "\udfff")
                            for w in argv), argv
    assert split(join(segments)) == segments
    assert split(line) == segments  # one parse, always the same


_WORD_CHARS = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp")) | st.just(" "),
                      max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_WORD_CHARS, min_size=1, max_size=5), min_size=1, max_size=4))
def test_any_argv_can_be_written_as_a_line(segments):
    segments = tuple(tuple(argv) for argv in segments)
    assert split(join(segments)) == segments


_PLAIN = st.text(st.sampled_from(list("abcXYZ019-_/.:=,+@%*?[]{}!^é한")), min_size=1, max_size=6)
_SQ = st.text(st.sampled_from(list("ab |;&<>$`()#*\"\\~-")), max_size=6).map(lambda s: "'" + s + "'")
_DQ = st.lists(st.sampled_from(["a", " ", "|", ";", "&", "<", ">", "(", ")", "#", "'", "*", "\\\"", "\\\\", "\\a", "\\-"]),
               max_size=5).map(lambda parts: '"' + "".join(parts) + '"')
_ESC = st.sampled_from(list("ab |;&<>$`()#'\"\\*?~")).map(lambda c: "\\" + c)
_SH_WORD = st.lists(st.one_of(_PLAIN, _SQ, _DQ, _ESC), min_size=1, max_size=4).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_SH_WORD, min_size=1, max_size=5).map(" ".join))
@example("a\\ b 'c d' \"e\\\"f\" g\\\\h")
def test_an_accepted_line_reads_the_same_under_posix_sh(line):
    """No shell runs a line any more; but a learner's line means what it would in sh."""
    assume(not line.lstrip().startswith("#") and "~" not in line)
    try:
        segments = split(line)
    except Refusal:
        return
    assume(len(segments) == 1)
    out = subprocess.run(["/bin/sh", "-c", "set -f; printf '%s\\0' " + line], capture_output=True, timeout=10,
                         env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, cwd="/")
    assert out.returncode == 0, out.stderr
    assert tuple(out.stdout.decode("utf-8").split("\0")[:-1]) == segments[0]


# --------------------------------------------------------------------------- docker's parser

def _flags(call):
    return [(f.name, f.value) for f in call.flags]


@pytest.mark.parametrize("argv,path,flags,operands", [
    ("docker run -it --rm alpine ash", "run", [("--interactive", "true"), ("--tty", "true"), ("--rm", "true")],
     ["alpine", "ash"]),
    ("docker run -itv /:/h alpine", "run", [("--interactive", "true"), ("--tty", "true"), ("--volume", "/:/h")],
     ["alpine"]),
    ("docker run -dti alpine", "run", [("--detach", "true"), ("--tty", "true"), ("--interactive", "true")], ["alpine"]),
    ("docker run -v/:/h alpine", "run", [("--volume", "/:/h")], ["alpine"]),
    ("docker run -v=/:/h alpine", "run", [("--volume", "/:/h")], ["alpine"]),
    ("docker run -eFOO=1 alpine", "run", [("--env", "FOO=1")], ["alpine"]),
    ("docker run --mount=type=bind,a=b alpine", "run", [("--mount", "type=bind,a=b")], ["alpine"]),
    ("docker run --mount type=volume x", "run", [("--mount", "type=volume")], ["x"]),
    ("docker run --rm=false -d=0 alpine", "run", [("--rm", "false"), ("--detach", "0")], ["alpine"]),
    ("docker run --rm false -v /:/h", "run", [("--rm", "true")], ["false", "-v", "/:/h"]),
    ("docker run -- -v /:/h", "run", [], ["-v", "/:/h"]),
    ("docker run alpine -v /:/h --privileged", "run", [], ["alpine", "-v", "/:/h", "--privileged"]),
    ("docker run -h -v alpine", "run", [("--hostname", "-v")], ["alpine"]),
    ("docker run -dtest.x alpine", "run", [("--detach", "true")], ["alpine"]),
    ("docker exec -it a sh -c x", "exec", [("--interactive", "true"), ("--tty", "true")], ["a", "sh", "-c", "x"]),
    ("docker service create --name w -p 80:80 nginx nginx -g x", "service create",
     [("--name", "w"), ("--publish", "80:80")], ["nginx", "nginx", "-g", "x"]),
    ("docker service update w --image x", "service update", [("--image", "x")], ["w"]),
    ("docker network ls -q", "network ls", [("--quiet", "true")], []),
    ("docker network list", "network ls", [], []),
    ("docker container ps -a", "container ls", [("--all", "true")], []),
    ("docker image rmi x", "image rm", [], ["x"]),
    ("docker ps -h", "ps", [("--help", "true")], []),
    ("docker history -H x", "history", [("--human", "true")], ["x"]),
    ("docker top a -eo pid", "top", [], ["a", "-eo", "pid"]),
])
def test_docker_lines_are_read_like_the_cli_reads_them(argv, path, flags, operands):
    call = parse_docker(split(argv)[0])
    assert (call.path, _flags(call), list(call.operands)) == (path, flags, operands)


def test_global_flags_come_before_the_command():
    call = parse_docker(("docker", "-D", "-l", "info", "--", "ps"))
    assert [(f.name, f.value) for f in call.global_flags] == [("--debug", "true"), ("--log-level", "info")]
    assert call.path == "ps"
    call = parse_docker(("docker", "-DH", "x", "ps"))
    assert [(f.name, f.value) for f in call.global_flags] == [("--debug", "true"), ("--host", "x")]
    with pytest.raises(Refusal, match="docker has no option --debugx"):
        parse_docker(("docker", "--debugx", "ps"))


@pytest.mark.parametrize("argv,reason", [
    ("docker run -v", "the option -v of docker run needs a value"),
    ("docker run --volume", "the option --volume of docker run needs a value"),
    ("docker run -X a", "docker run has no option -X"),
    ("docker run --rm=2 a", "--rm=2 is not true or false"),
    ("docker run ---x a", "---x is not an option"),
    ("docker network -q ls", "needs its subcommand before the option -q"),
    ("docker nope", "docker nope is not a command the console runs"),
])
def test_what_the_cli_cannot_read_is_refused(argv, reason):
    with pytest.raises(Refusal, match=re.escape(reason)):
        parse_docker(split(argv)[0])


def test_every_flag_of_an_allowed_command_is_allowed_or_refused_with_a_reason():
    problems = []
    for path, allowed in console.ALLOWED.items():
        spec = console_spec.COMMANDS.get(path)
        if spec is None or "flags" not in spec:
            problems.append(f"{path}: not a command of the CLI")
            continue
        flags = set(spec["flags"])
        problems += [f"{path} {f}: neither allowed nor refused" for f in flags - allowed - set(console.REFUSED_FLAGS)]
        problems += [f"{path} {f}: allowed but the CLI has no such flag" for f in allowed - flags]
        problems += [f"{path} {f}: allowed and refused" for f in allowed & set(console.REFUSED_FLAGS)]
    for flag in set(console_spec.GLOBAL_FLAGS) - console.ALLOWED_GLOBAL_FLAGS - set(console._GLOBAL_REFUSED):
        problems.append(f"docker {flag}: neither allowed nor refused")
    for path, judges in console.JUDGES.items():
        problems += [f"{path} {f}: judged but not allowed" for f in judges if f not in console.ALLOWED[path]]
    assert problems == []


def test_commands_that_take_a_command_line_stop_reading_flags_at_their_operand():
    stops = {k for k, v in console_spec.COMMANDS.items() if v.get("interspersed") is False}
    assert {"run", "create", "exec", "container run", "container create", "container exec",
            "service create"} <= stops
    assert console_spec.CLI_VERSION.startswith("20.10.")


@pytest.mark.parametrize("line,tty", [
    ("docker attach alpine1", True),
    ("docker container attach alpine1", True),
    ("docker exec -it alpine1 ash", True),
    ("docker exec -ti alpine1 ash", True),
    ("docker exec --interactive --tty alpine1 ash", True),
    ("docker exec -i -t alpine1 ash", True),
    ("docker run -it --rm alpine ash", True),
    ("docker container run -ti alpine", True),
    ("docker start -ai alpine1", True),
    ("docker run -dti --name alpine1 alpine ash", False),
    ("docker run -it -d alpine", False),
    ("docker run -it --detach=true alpine", False),
    ("docker run -it -d=false alpine", True),
    ("docker run -i -t=false alpine", False),
    ("docker exec alpine1 ping -c 1 x", False),
    ("docker exec -i alpine1 cat", False),
    ("docker exec -d -it alpine1 ash", False),
    ("docker run --rm alpine -it", False),
    ("docker create -it alpine", False),
    ("docker run -it --help", False),
    ("docker attach --help", False),
])
def test_interactive_lines_are_flagged_for_a_tty(line, tty):
    verdict = judge(line)
    assert verdict.allowed, verdict.reason
    assert verdict.interactive is tty


def test_the_verdict_carries_what_runs():
    verdict = judge("docker network inspect n | jq '.[0] | { IPAM }' | head -n 3")
    assert verdict.segments == (("docker", "network", "inspect", "n"), ("jq", ".[0] | { IPAM }"), ("head", "-n", "3"))
    assert verdict.docker.path == "network inspect" and verdict.docker.operands == ("n",)
    jq, head = verdict.filters  # the parsed filters, ready to run in this order
    assert (jq.name, head.name) == ("jq", "head")
    assert head.feed("a\nb\nc\nd\n") + head.close() == "a\nb\nc\n"
    assert judge("docker ps | head -n 3").filters[0] is not judge("docker ps | head -n 3").filters[0]
    refused = judge("docker run --privileged alpine")
    assert (refused.allowed, refused.segments, refused.docker, refused.filters) == (False, (), None, ())


def test_a_filter_refusal_is_the_filters_own_reason(monkeypatch):
    def parse(argv):
        raise filters.FilterError(f"{argv[0]} -f reads a file of the node")
    monkeypatch.setattr(console.filters, "parse", parse)
    assert judge("docker ps | grep -f /etc/shadow").reason == "grep -f reads a file of the node"


@pytest.mark.parametrize("value,fields", [
    ("a,b", ["a", "b"]),
    ('"a,b",c', ["a,b", "c"]),
    ('"a""b"', ['a"b']),
    ("a,", ["a", ""]),
    ('"a",', ["a", ""]),
    ("", ValueError),
    ('a"b', ValueError),
    ('"a"b', ValueError),
    ('"a', ValueError),
])
def test_csv_is_read_like_go_encoding_csv(value, fields):
    if fields is ValueError:
        with pytest.raises(ValueError):
            console.go_csv_record(value)
    else:
        assert console.go_csv_record(value) == fields


# --------------------------------------------------------------------------- the real CLI

def _script(name):
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), os.path.join(ROOT, "scripts", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def docker_cli(request, tmp_path_factory):
    """The docker CLI of the node image: LABAPP_DOCKER_CLI, or taken out of the image."""
    if os.environ.get("LABAPP_DOCKER_CLI"):
        return os.environ["LABAPP_DOCKER_CLI"]
    client = request.getfixturevalue("client")
    from labapp.sandbox import LABEL
    from labapp.sandbox.images import node_image_ref
    ref = node_image_ref(request.getfixturevalue("settings"))
    container = client.containers.create(ref, entrypoint=["docker"], command=["version"],
                                         labels={LABEL: "console-spec"})
    try:
        stream, _ = container.get_archive("/usr/bin/docker")
        data = b"".join(stream)
    finally:
        container.remove(force=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        binary = tar.extractfile("docker").read()
    path = tmp_path_factory.mktemp("cli") / "docker"
    path.write_bytes(binary)
    path.chmod(0o755)
    return str(path)


@pytest.mark.integration
def test_the_spec_matches_the_real_cli(docker_cli, tmp_path):
    """labapp/console/spec.py is what the CLI's --help says (scripts/console-spec.py --check --quick)."""
    script = _script("console-spec")
    cli = script.CLI(docker_cli, str(tmp_path))
    version = cli("--version").split(",")[0].removeprefix("Docker version ").strip()
    global_flags, commands = script.walk(cli, lambda m: None, probe=False)
    with open(os.path.join(ROOT, "labapp", "console", "spec.py"), encoding="utf-8") as f:
        assert script.render(version, global_flags, commands) == f.read(), \
            "the CLI changed: run scripts/console-spec.py --write and classify its new flags in labapp/console/allowlist.py"


@pytest.fixture(scope="module")
def oracle(docker_cli):
    engine = _script("console-oracle").Oracle(docker_cli)
    yield engine
    engine.close()


_PFLAG_ERRORS = ("unknown flag", "unknown shorthand flag", "flag needs an argument", "bad flag syntax",
                 "strconv.ParseBool")


def _container_facts(call, env: dict) -> dict:
    """What the CLI should put in its create request, from the console's own reading (ENV: the
    CLI's environment, which a bare -e NAME copies from)."""
    networks = call.values("--network", "--net")
    envs = [e if "=" in e or e not in env else f"{e}={env[e]}" for e in call.values("--env")]
    security = [o for o in call.values("--security-opt") if not o.startswith("systempaths=")]

    def last(name, default=""):
        found = call.values(name)
        return found[-1] if found else default
    return {
        "Image": call.operands[0], "Cmd": list(call.operands[1:]) or None,
        "volumes": sorted(set(call.values("--volume"))),
        "Mounts": [(m["type"], m["source"], m["target"]) for m in map(console.mount_fields, call.values("--mount"))],
        "NetworkMode": console.network_target(networks[0]) if networks else "default",
        "PidMode": last("--pid"), "IpcMode": last("--ipc"), "UTSMode": last("--uts"), "UsernsMode": last("--userns"),
        "Privileged": call.is_set("--privileged"), "Tty": call.is_set("--tty"),
        "OpenStdin": call.is_set("--interactive"), "AutoRemove": call.is_set("--rm"),
        "Env": sorted(set(envs)) or None, "SecurityOpt": security or None,
        "LogDriver": last("--log-driver"), "Hostname": last("--hostname"),
    }


def _sent_facts(body) -> dict:
    host = body["HostConfig"]
    return {
        "Image": body["Image"], "Cmd": body["Cmd"],
        "volumes": sorted(set((host.get("Binds") or []) + list(body.get("Volumes") or {}))),
        "Mounts": [(m["Type"], m.get("Source", ""), m["Target"]) for m in host.get("Mounts") or []],
        "NetworkMode": host["NetworkMode"], "PidMode": host["PidMode"], "IpcMode": host["IpcMode"],
        "UTSMode": host["UTSMode"], "UsernsMode": host["UsernsMode"], "Privileged": host["Privileged"],
        "Tty": body["Tty"], "OpenStdin": body["OpenStdin"], "AutoRemove": host["AutoRemove"],
        "Env": sorted(set(body["Env"])) if body["Env"] else None,
        "SecurityOpt": host["SecurityOpt"] or None, "LogDriver": host["LogConfig"]["Type"], "Hostname": body["Hostname"],
    }


def _compare_with_the_cli(oracle, argv):
    requests, output = oracle.run(list(argv[1:]))
    created = [r for r in requests if r["path"].endswith("/containers/create")]
    try:
        call = parse_docker(argv)
        ours = _container_facts(call, oracle.env)
    except Refusal as refusal:
        assert not created, f"the console cannot read {argv} ({refusal}) but the CLI sent {created}"
        return
    except (ValueError, IndexError):  # no IMAGE, or a --mount or --network value the console cannot read
        assert not created, f"the console cannot read a value of {argv} but the CLI sent {created}"
        return
    if not created:
        assert not any(e in output for e in _PFLAG_ERRORS), f"{argv}: the CLI says {output!r}"
        return
    sent = _sent_facts(created[0]["body"])
    for name, key in (("--env-file", "Env"), ("--security-opt", "SecurityOpt")):
        if call.values(name) and (name == "--env-file" or any(
                v.startswith("seccomp=") and v != "seccomp=unconfined" for v in call.values(name))):
            del ours[key], sent[key]  # the CLI read a file of its own machine into these (refused by the console)
    assert ours == sent, argv


_V = st.sampled_from(["data:/d", "/:/h", "/d", "data:/d:ro", "./x:/y", "a:b:c", "-v", "--rm"])
_M = st.sampled_from(["type=volume,src=a,dst=/d", "TYPE=BIND,SRC=/,DST=/h", '"type=tmpfs",target=/t',
                      "type=volume,source=a,target=/h,ro", "type=volume,target=/h,volume-opt=o=bind",
                      "type=bind,source=/,target=/h,bind-propagation=rshared", "Type=Volume,Source=/x,Target=/y",
                      'type=volume,"source=a,b",target=/h', " type=bind,src=/,dst=/h", "dst=/x"])
_N = st.sampled_from(["bridge", "host", "HOST", "name=HOST", "name= host ,alias=x", "none", "name=n1,alias=y",
                      '"name=host"', "container:x", "a=b"])
_NS = st.sampled_from(["host", "private", "container:x", ""])
_S = st.sampled_from(["no-new-privileges", "seccomp=unconfined", "no-new-privileges:true"])
_W = st.sampled_from(["box", "-v", "x", "--rm", "/:/h", "-dit"])
_VALUED = {"--volume": ("v", _V), "--mount": ("", _M), "--network": ("", _N), "--net": ("", _N), "--env": ("e", _W),
           "--pid": ("", _NS), "--ipc": ("", _NS), "--uts": ("", st.sampled_from(["host", ""])),
           "--hostname": ("h", _W), "--security-opt": ("", _S), "--name": ("", _W), "--user": ("u", _W),
           "--log-driver": ("", st.sampled_from(["json-file", "local"]))}
_BOOLS = ["--rm", "--privileged", "--init", "--read-only", "--tty", "--interactive", "--detach"]


@st.composite
def _run_lines(draw):
    words = ["docker", draw(st.sampled_from(["run", "create", "container run"]))]
    words = words[:1] + words[1].split()
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["bool", "bool=", "cluster", "long", "long=", "short", "attached", "dashdash"]))
        if kind == "bool":
            words.append(draw(st.sampled_from(_BOOLS)))
        elif kind == "bool=":
            words.append(draw(st.sampled_from(_BOOLS)) + "=" + draw(st.sampled_from(["false", "1", "F", "true"])))
        elif kind == "dashdash":
            if draw(st.integers(0, 4)) == 0:
                words.append("--")
        else:
            name = draw(st.sampled_from(sorted(_VALUED)))
            short, values = _VALUED[name]
            value = draw(values)
            if kind == "long":
                words += [name, value]
            elif kind == "long=":
                words.append(f"{name}={value}")
            elif short and kind in ("short", "attached", "cluster"):
                bools = draw(st.sampled_from(["", "d", "it", "dti"])) if kind == "cluster" else ""
                if kind == "attached":
                    words.append(f"-{bools}{short}{draw(st.sampled_from(['', '=']))}{value}")
                else:
                    words += [f"-{bools}{short}", value]
            else:
                words += [name, value]
    words.append(draw(st.sampled_from(["alpine", "x", "-v", "--rm"])))
    words += draw(st.lists(st.sampled_from(["sh", "-c", "-v", "/:/h", "--privileged", "echo"]), max_size=3))
    return tuple(words)


@pytest.mark.integration
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_run_lines())
def test_the_console_reads_run_lines_like_the_real_cli(oracle, argv):
    _compare_with_the_cli(oracle, argv)


@pytest.mark.integration
@pytest.mark.parametrize("line", [c.line for c in CASES if c.line.startswith(("docker run ", "docker create "))])
def test_the_corpus_run_lines_are_read_like_the_real_cli(oracle, line):
    try:
        argv = split(line)[0]
    except Refusal:
        return
    _compare_with_the_cli(oracle, argv)


@pytest.mark.integration
@pytest.mark.parametrize("line", [
    "docker service create --network name=HOST nginx",
    "docker service create --network 'NAME= host ,alias=x' nginx",
    "docker service create --mount TYPE=BIND,SRC=/,DST=/h nginx",
    "docker service create --name w --publish target=80,published=80 nginx nginx -v /:/h",
    "docker service create -e A=1 --network n1 --mount type=volume,source=d,target=/d nginx",
])
def test_service_create_is_read_like_the_real_cli(oracle, line):
    argv = split(line)[0]
    requests, output = oracle.run(list(argv[1:]))
    sent = [r["body"] for r in requests if r["path"].endswith("/services/create")]
    assert sent, output
    spec = sent[0]["TaskTemplate"]
    call = parse_docker(argv)
    assert [n["Target"] for n in spec.get("Networks") or []] == [console.network_target(v) for v in call.values("--network")]
    assert [(m["Type"], m.get("Source", ""), m["Target"]) for m in spec["ContainerSpec"].get("Mounts") or []] == \
        [(m["type"], m["source"], m["target"]) for m in map(console.mount_fields, call.values("--mount"))]
    assert spec["ContainerSpec"]["Image"].removesuffix(":latest") == call.operands[0].removesuffix(":latest")
    assert (spec["ContainerSpec"].get("Args") or []) == list(call.operands[1:])
