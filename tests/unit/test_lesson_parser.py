"""The lesson parser and linter over good and broken fixtures (one per error kind)."""
import os

import pytest

from labapp.lesson.catalog import load_catalog
from labapp.lesson.model import condition_holds
from labapp.lesson.parser import LessonError, load_lesson, parse_lesson, split_front_matter

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "lessons")


def fixture(*parts):
    return os.path.join(FIXTURES, *parts)


def test_good_lesson_parses_into_steps_blocks_and_checks():
    lesson = load_lesson(fixture("good", "mini.en.md"))
    assert (lesson.slug, lesson.language, lesson.minutes, lesson.nodes) == ("mini", "en", 5, 2)
    assert lesson.node_names == ["manager1", "worker1"]
    assert lesson.intro == "Intro text."
    net, fix = lesson.steps
    assert net.id == "net" and net.title == "Make a network"
    first, second = net.blocks
    assert first.node == "manager1" and not first.expect_fail
    assert [c.text for c in first.commands] == [
        "docker network create -d overlay --attachable demo", "docker network ls"]
    assert first.commands[0].line == 18  # the continued command starts on its first line
    assert (second.node, second.expect_fail, second.when) == ("worker1", True, "!ipvs")
    assert [c.kind for c in net.checks] == ["network", "exit", "output_contains"]
    assert net.checks[0].args == {"name": "demo", "attachable": True}
    assert net.checks[1].args == {"value": "zero"}
    assert net.checks[2].when == "esp"
    assert net.hint == "Use `-d overlay`." and net.expected == "A new network."
    assert [(n.text, n.when) for n in net.notes] == [("No IPVS here.", "!ipvs")]
    assert '{"shown": "as is"}' in net.text and "```manager1" in net.text and "```check" not in net.text
    assert [b.node for b in fix.setup] == ["manager1"] and [b.node for b in fix.solution] == ["worker1"]
    assert fix.solution_blocks() == fix.solution
    assert net.solution_blocks() == net.blocks


@pytest.mark.parametrize("name,line,message", [
    ("unknown-key.en.md", 7, "unknown key 'author' in front matter"),
    ("unknown-node.en.md", 12, "unknown node 'worker2' (this lesson's sandbox has manager1, worker1"),
    ("unknown-check.en.md", 18, "unknown check kind 'pings'"),
    ("no-check.en.md", 10, "step 'one' has no check"),
    ("no-node.en.md", 12, "a command with no node"),
    ("bad-args.en.md", 12, "unknown condition 'bogus'"),
    ("bad-args.en.md", 17, "unknown argument 'colour' for check 'network'"),
    ("bad-args.en.md", 18, "check 'service': 'replicas' must be int, not 'five'"),
    ("bad-args.en.md", 18, "check 'service' needs 'name'"),
    ("bad-args.en.md", 19, "check 'container': unknown node 'worker7'"),
    ("bad-args.en.md", 20, "check 'exit' is zero, nonzero or an exit code"),
    ("bad-args.en.md", 21, "check 'output_matches': not a regular expression"),
    ("bad-args.en.md", 24, "step heading needs an id"),
])
def test_each_error_kind_is_reported_at_its_file_and_line(name, line, message):
    path = fixture("broken", name)
    with pytest.raises(LessonError) as exc:
        load_lesson(path)
    found = [str(p) for p in exc.value.problems]
    assert any(p.startswith(f"{path}:{line}: ") and message in p for p in found), found


def test_the_linter_collects_every_problem_not_just_the_first():
    catalog = load_catalog([fixture("broken")])
    bad_args = [p for p in catalog.problems if p.path.endswith("bad-args.en.md")]
    assert len(bad_args) == 8


def test_korean_english_drift_is_reported_on_the_other_language():
    catalog = load_catalog([fixture("drift")])
    assert [str(p) for p in catalog.problems] == [
        f"{fixture('drift', 'drifty.ko.md')}:10: step 'one': its commands differ from its en version "
        "(drifty.en.md) (line 10); only the words may differ"]


def test_the_shipped_lessons_are_clean_and_bilingual():
    catalog = load_catalog()
    assert catalog.problems == []
    assert set(catalog.lessons) >= {"overlay-attachable", "endpoint-modes", "challenge-connect"}
    for versions in catalog.lessons.values():
        assert set(versions) == {"ko", "en"}
    assert catalog.get("challenge-connect").kind == "challenge"


def test_catalog_get_names_what_exists():
    catalog = load_catalog([fixture("good")])
    with pytest.raises(Exception, match="no lesson 'nope' \\(lessons: mini\\)"):
        catalog.get("nope")
    with pytest.raises(Exception, match="has no ko version \\(it has en\\)"):
        catalog.get("mini", "ko")


def test_front_matter_split_and_missing():
    assert split_front_matter("---\na: 1\n---\nbody\n") == ("a: 1", "body\n", 4)
    lesson, problems = parse_lesson("# no front matter\n", "x.en.md")
    assert lesson is None and "no front matter" in problems[0].message


def test_bad_yaml_in_front_matter_names_its_line():
    _, problems = parse_lesson("---\ntitle: [unclosed\n---\n", "y.en.md")
    assert problems[0].line >= 2 and "not valid YAML" in problems[0].message


@pytest.mark.parametrize("when,kernel,holds", [
    (None, {}, True), ("ipvs", {"ipvs": True}, True), ("ipvs", {"ipvs": False}, False),
    ("!esp", {"esp": False}, True), ("!esp", {"esp": True}, False), ("vxlan", None, False),
])
def test_conditions(when, kernel, holds):
    assert condition_holds(when, kernel) is holds


def test_docs_describe_every_check_kind():
    from labapp.checks import CHECKS

    with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "lessons.md"), encoding="utf-8") as f:
        doc = f.read()
    assert [k for k in CHECKS if f"| `{k}` |" not in doc] == []


# --- issue 12: root blocks, told notes, hint levels, rules, and the lint that keeps lessons honest

HEAD = """---
title: t
summary: s
language: en
level: beginner
time: 5
kind: {kind}
sandbox: {{nodes: 2, managers: 1}}
---

"""


def lint(body, kind="guided"):
    lesson, problems = parse_lesson(HEAD.format(kind=kind) + body, "t.en.md")
    return lesson, [p.message for p in problems]


GOOD_STEP = """## Look inside {#inside}

```setup manager1
docker run -d --name c1 alpine sleep 1d
```

```worker1 root
nsenter --net=/run/docker/netns/1-abc ip -d link show type vxlan
```

```manager1 expect-fail if=!esp
docker exec c1 ping -c 1 secret
```

```expected
No reply.
```

```note if=!esp told
**Told, not shown:** no ESP here.
```

```check
- output_contains: vxlan
- rule: true
  container: {name: c1, same_as_setup: true}
- when: "!esp"
  capture: {node: worker1, filter: esp, during: {container: c1, target: secret}, expect: false}
```

```hint
A nudge.
```

```hint
The answer.
```
"""


def test_root_blocks_told_notes_hint_levels_and_rules_parse():
    lesson, problems = lint(GOOD_STEP, kind="challenge")
    assert problems == []
    step = lesson.steps[0]
    root, failing = step.blocks
    assert root.root and root.node == "worker1" and not failing.root
    assert step.hints == ("A nudge.", "The answer.") and step.hint == "A nudge."
    assert [(n.when, n.told) for n in step.notes] == [("!esp", True)]
    assert [(c.kind, c.rule, c.when) for c in step.checks] == [
        ("output_contains", False, None), ("container", True, None), ("capture", False, "!esp")]
    assert root.signature() != type(root)(root.node, root.commands, root.line, root.expect_fail, root.when).signature()


@pytest.mark.parametrize("change,message", [
    (("```expected\nNo reply.\n```\n", ""), "has an expect-fail block but no ```expected block"),
    (("```note if=!esp told", "```note if=ipvs told"),
     "a note if=ipvs but no command block or check of step 'inside' has if=ipvs / when: ipvs"),
    (("```hint\nThe answer.\n```\n", ""), "challenge step 'inside' needs two ```hint blocks"),
    (("```worker1 root", "```worker1"), "nsenter needs root of the node's user namespace: tag the block ```worker1 root"),
    (("```setup manager1\ndocker run -d --name c1 alpine sleep 1d\n```\n", ""),
     "same_as_setup compares with what the step's setup made, but step 'inside' has no ```setup block"),
    (("- rule: true\n  container", "- rule: yes-please\n  container"), "'rule' is true or false, not 'yes-please'"),
    (("- output_contains: vxlan", "- rule: true\n  output_contains: vxlan"),
     "a rule reads the swarm, not the output: 'output_contains' cannot be a rule"),
    (("```worker1 root", "```worker1 sudo"), "unknown flag 'sudo' on a command block (known: expect-fail, root"),
    (("```note if=!esp told", "```note if=!esp loud"), "unknown flag 'loud' on a ```note block (known: told"),
    (("**Told, not shown:** no ESP here.", "No ESP here."), "a ```note told opens with its mark in bold"),
    (("```expected\nNo reply.\n```\n", "```expected\nNo reply.\n```\n\n```expected\nAgain.\n```\n"),
     "a second ```expected block in this step"),
])
def test_the_linter_keeps_lessons_honest(change, message):
    old, new = change
    assert old in GOOD_STEP
    _, problems = lint(GOOD_STEP.replace(old, new), kind="challenge")
    assert any(message in p for p in problems), problems


def test_reaching_a_service_by_ping_is_refused_but_a_container_by_ping_is_not():
    body = """## S {#s}

```manager1
docker service create --name my-nginx --replicas 2 nginx
docker run -d --name c1 alpine sleep 1d
```

```check
- reaches: {container: c1, target: my-nginx}
- reaches: {container: c1, target: my-nginx, port: 80}
- reaches: {container: c1, target: plain-b}
```
"""
    _, problems = lint(body)
    assert problems == ["reaches my-nginx by ping, but it is a service: on a host with IPVS the client's own node "
                        "answers a ping to its virtual IP; give the service's port (port: 80)"]


def test_drift_in_root_rules_notes_and_hints_is_reported(tmp_path):
    en = HEAD.format(kind="challenge") + GOOD_STEP
    ko = (HEAD.format(kind="challenge").replace("language: en", "language: ko")
          + GOOD_STEP.replace("```worker1 root", "```worker1").replace("nsenter --net", "# nsenter\nip -br link #")
          .replace("- rule: true\n  container", "- container").replace("```note if=!esp told", "```note if=!esp")
          + "\n```hint\nA third.\n```\n")
    (tmp_path / "t.en.md").write_text(en, encoding="utf-8")
    (tmp_path / "t.ko.md").write_text(ko, encoding="utf-8")
    problems = [p.message for p in load_catalog([str(tmp_path)]).problems]
    assert any("its commands differ" in p for p in problems), problems
    assert any("its checks differ" in p for p in problems), problems
    assert any("its notes (conditions, told)" in p for p in problems), problems
    assert any("has 3 hints but 2" in p for p in problems), problems


def test_the_shipped_challenges_state_their_rules():
    catalog = load_catalog()
    for slug in ("challenge-connect", "challenge-two-services"):
        for lesson in catalog.lessons[slug].values():
            for step in lesson.steps:
                assert step.setup and len(step.hints) >= 2
                rules = [c for c in step.checks if c.rule]
                assert any(c.args.get("same_as_setup") and c.kind == "container" for c in rules)
                assert any(c.args.get("same_as_setup") and c.kind == "service" for c in rules)
                assert any(c.kind == "resolves" and "service" in c.args and not c.rule for c in step.checks)
