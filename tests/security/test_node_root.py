"""A lesson's ```NODE root block runs as root of the node's own user namespace
(sandbox/nodeexec.py as_node_root); nothing a learner sends may reach that path with text of
its own. The web layer names a block by step and index only, the console runs a learner's
argv as uid 100001 with no new privileges, and the wrapper is called from two places: the
runner (for a block the lesson file marks root) and the checks (for a check kind's own line).

The first tests drive the web app over a fake sandbox (what runs is recorded); the last one
runs on a real node: the root block is root there, the learner is not, and the learner
cannot enter the node's user namespace even with the argv in hand."""
import os
import re

import pytest

from labapp.lesson.catalog import Catalog
from labapp.lesson.parser import parse_lesson
from labapp.sandbox.nodeexec import as_node_root
from labapp.web.events import socketio

from ..unit.fakes import FakeEngine, FakeSandbox, network, ok
from ..unit.helpers import make_app, received

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SLUG = "root-fixture"
LESSON = """---
title: Root fixture
summary: A root block and a plain one.
language: en
level: advanced
time: 5
sandbox: {nodes: 1, managers: 1}
---

## Look {#look}

```manager1 root
nsenter --net=/run/docker/netns/1-abc ip -br link
```

```manager1
docker network ls
```

```check
- output_contains: vxlan
```
"""
ROOT_LINE = "nsenter --net=/run/docker/netns/1-abc ip -br link"
WRAPPED_MARK = "nsenter --user=/proc/1/ns/user --preserve-credentials"
CRAFTED = {"command": "touch /pwned", "text": "touch /pwned", "commands": ["touch /pwned"], "root": True,
           "as_root": True, "user": "0", "node": "manager1; touch /pwned"}


def catalog():
    lesson, problems = parse_lesson(LESSON, f"{SLUG}.en.md")
    assert problems == []
    return Catalog({SLUG: {"en": lesson}}, [])


@pytest.fixture
def app(tmp_path):
    made = []

    def factory(lesson, progress):
        box = FakeSandbox(FakeEngine(networks=[network("ingress")]), nodes=lesson.node_names,
                          script=[(r"docker node ls", ok("manager1 Ready\n"))])
        made.append(box)
        return box

    app = make_app(tmp_path, factory=factory, lessons=catalog())
    app.made = made
    return app


def _boxes(app):
    return app.made


def _ran(app):
    return [line for box in _boxes(app) for _, line in box.ran]


def _assert_only_lesson_text_ran_as_root(app):
    lines = _ran(app)
    assert not any("pwned" in line for line in lines), lines
    wrapped = [line for line in lines if WRAPPED_MARK in line]
    assert wrapped and all(line == as_node_root(ROOT_LINE) for line in wrapped), wrapped
    for box in _boxes(app):
        assert all(WRAPPED_MARK not in " ".join(argv) for argv in box.learner_argvs)


def test_the_rest_api_runs_a_root_block_by_index_and_ignores_any_text_sent(app):
    http = app.test_client()
    http.get(f"/lessons/{SLUG}?lang=en")
    assert http.post(f"/api/lessons/{SLUG}/sandbox", json={}).status_code == 200
    ran = http.post(f"/api/lessons/{SLUG}/steps/look/run", json={"block": 0, **CRAFTED}).get_json()
    assert [r["command"] for r in ran["runs"]] == [ROOT_LINE]  # the lesson's own text, shown as written
    plain = http.post(f"/api/lessons/{SLUG}/steps/look/run", json={"block": 1, **CRAFTED}).get_json()
    assert [r["command"] for r in plain["runs"]] == ["docker network ls"]
    assert "docker network ls" in _ran(app)  # root: true sent with the plain block changes nothing
    for bad in ({"block": "0; touch /pwned"}, {"block": -1}, {"block": 2}, {"block": True}):
        answer = http.post(f"/api/lessons/{SLUG}/steps/look/run", json=bad)
        assert answer.status_code in (400, 404), (bad, answer.status_code)
    _assert_only_lesson_text_ran_as_root(app)


def test_socketio_runs_a_root_block_by_index_and_ignores_any_text_sent(app):
    http = app.test_client()
    http.get(f"/lessons/{SLUG}?lang=en")
    client = socketio.test_client(app, namespace="/lab", flask_test_client=http)
    client.emit("join", {"lesson": SLUG, "lang": "en"}, namespace="/lab")
    received(client, "sandbox", lambda e: e.get("stage") == "ready")
    for block in (0, 1):
        client.emit("run", {"lesson": SLUG, "lang": "en", "step": "look", "block": block, **CRAFTED},
                    namespace="/lab")
        received(client, "done", lambda e, b=block: e.get("block") == b)
    client.emit("run", {"lesson": SLUG, "lang": "en", "step": "look", "block": "0 || touch /pwned"},
                namespace="/lab")
    received(client, "failure")
    _assert_only_lesson_text_ran_as_root(app)


@pytest.mark.parametrize("line", [
    "nsenter --user=/proc/1/ns/user --preserve-credentials sh",
    "nsenter -U -t 1 --preserve-credentials id",
    "setpriv --bounding-set=-all sh",
    "sudo id",
    "sh -c 'nsenter -U -t 1 id'",
    "docker network ls; nsenter -U -t 1 id",
    "docker network ls && nsenter -U -t 1 id",
    "docker network ls | nsenter -U -t 1 id",
    "docker exec alpine1 nsenter -U -t 1 id",
    "docker run --rm --userns host alpine id",
    "docker run --rm --privileged alpine id",
    "docker run --rm --pid host alpine nsenter -t 1 -U id",
])
def test_the_console_never_reaches_the_root_path(app, line):
    http = app.test_client()
    http.get(f"/lessons/{SLUG}?lang=en")
    http.post(f"/api/lessons/{SLUG}/sandbox", json={})
    answer = http.post(f"/api/lessons/{SLUG}/console", json={"node": "manager1", "line": line})
    box = _boxes(app)[0]
    if answer.status_code == 200:  # allowed (a docker command): it ran as the learner's argv, never wrapped
        assert box.learner_argvs and box.learner_argvs[-1][0] == "docker"
    else:
        assert answer.status_code == 422 and answer.get_json()["refused"] is True
    assert not any(WRAPPED_MARK in line for _, line in box.ran)


def test_as_node_root_is_called_only_by_the_runner_and_the_checks():
    calls = {}
    for top, _, files in os.walk(os.path.join(ROOT, "labapp")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(top, name)
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
                found = re.findall(r"\bas_node_root\(", text)
                if found:
                    calls[os.path.relpath(path, ROOT)] = len(found)
    assert set(calls) == {"labapp/sandbox/nodeexec.py", "labapp/runner.py", "labapp/checks/base.py"}, calls
    # in the checks, CheckContext.sh wraps a check's own line; only the namespace kinds and the
    # probes in a container's network namespace (base.py, in_container_netns) ask for it
    asking = {}
    for name in os.listdir(os.path.join(ROOT, "labapp", "checks")):
        if name.endswith(".py"):
            with open(os.path.join(ROOT, "labapp", "checks", name), encoding="utf-8") as handle:
                if re.search(r"root=True", handle.read()):
                    asking[name] = True
    assert set(asking) == {"namespace.py", "base.py"}, asking
    with open(os.path.join(ROOT, "labapp", "runner.py"), encoding="utf-8") as handle:
        runner = handle.read()
    # the runner wraps only when the block says root, and never a learner's console line
    assert "as_node_root(command) if root else command" in runner
    console = runner[runner.index("def run_console"):runner.index("def _run(")]
    assert "root" not in console.replace("node root", "")


def test_a_learner_command_can_never_be_wrapped():
    from labapp.errors import ExecError
    from labapp.sandbox.nodeexec import wrap_command

    with pytest.raises(ExecError):
        wrap_command(as_node_root("id"), "t0k3n", learner=True)  # a shell line is never a learner's


@pytest.mark.integration
def test_on_a_real_node_only_the_root_block_is_root(client, settings):
    """A root line is uid 0 of the node's user namespace (uid 100000 to the host), with the
    node root's bounding set; a plain lesson line runs as the namespace's owner, outside it;
    the learner's argv is uid 100001 and cannot enter the node's user namespace at all."""
    from labapp.sandbox import SwarmSandbox

    sandbox = SwarmSandbox.create(client, settings, nodes=1, managers=1)
    try:
        root = sandbox.exec("manager1", as_node_root("id -u; cat /proc/self/uid_map; grep CapBnd /proc/self/status;"
                                                     " grep CapBnd /proc/$(pidof dockerd)/status"), timeout=30)
        assert root.exit_code == 0, root.output
        uid, uid_map, mine, dockerd = root.stdout.splitlines()
        assert uid == "0" and uid_map.split() == ["0", "100000", "1"]
        assert mine.split()[1] == dockerd.split()[1]  # the bounding set of the node's own root
        plain = sandbox.exec("manager1", "id -u; nsenter --net=/run/docker/netns/ingress_sbox true", timeout=30)
        assert plain.stdout.split()[0] == "100000" and plain.exit_code != 0  # outside: no namespace to enter
        inside = sandbox.exec("manager1", as_node_root("nsenter --net=/run/docker/netns/ingress_sbox ip -br link"),
                              timeout=30)
        assert inside.exit_code == 0 and "LOOPBACK" in inside.stdout, inside.output
        learner = sandbox.exec("manager1", ["id", "-u"], learner=True, timeout=30)
        assert learner.stdout.strip() == "100001"
        for argv in (["nsenter", "--user=/proc/1/ns/user", "--preserve-credentials", "id", "-u"],
                     ["nsenter", "-U", "-t", "1", "id", "-u"],
                     ["sh", "-c", as_node_root("id -u")]):
            tried = sandbox.exec("manager1", argv, learner=True, timeout=30)
            assert tried.exit_code != 0 and tried.stdout.strip() != "0", (argv, tried.output)
    finally:
        sandbox.destroy()
