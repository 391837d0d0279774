"""A lesson's output patterns cannot be turned against the app (the learner is the attacker).

`output_matches` and `capture`'s `match` run a lesson's regular expression over what the
learner's commands printed, and the learner decides what that is: root in their containers,
they can replace `nslookup` or `iptables` there with a script that prints anything, up to
1 MiB a command. Python's `re` backtracks, and some of the lessons' patterns (a group, `.*`,
its backreference, `.*` again) take time cubic in the output: 20 s at 64 KiB, hours at 1 MiB,
and in the app's process `re` holds the interpreter for every learner meanwhile.

So the pattern runs in the filters' sandbox (labapp/filters/sandbox.py search), in a child
with an alarm: here, with the real lessons' patterns and output crafted to make them
backtrack, the check ends within its limit as a failure that says why, the app's other
threads run all along, and an honest output still passes."""
import pathlib
import threading
import time

import pytest

from labapp.checks import CheckContext, run_check
from labapp.filters import sandbox as filters_sandbox
from labapp.lesson.parser import load_lesson
from labapp.sandbox.base import ExecResult

LESSONS = pathlib.Path(__file__).resolve().parents[2] / "lessons"


def lesson_pattern(lesson, step, start):
    """The output_matches check of LESSON's STEP whose pattern begins with START (the real
    lesson's, so that a lesson edited into a new pattern is what is tried)."""
    for s in load_lesson(str(LESSONS / f"{lesson}.en.md")).steps:
        if s.id == step:
            for spec in s.checks:
                if spec.kind == "output_matches" and spec.args["value"].startswith(start):
                    return spec
    raise AssertionError(f"{lesson}: no output_matches in step {step} starting {start!r}")


DNS = ("inside-overlay", "dns", "(?s)-p udp -m udp --dport 53")
DNAT = "-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:36118\n"


def crafted(size):
    """Output that makes the dns pattern backtrack: DNAT lines and listening lines with the
    same port, and never the word the pattern ends with."""
    chunk = DNAT + "UNCONN 0 0 127.0.0.11:36118 0.0.0.0:*\n"
    return chunk * (size // len(chunk))


def timed_check(spec, output):
    """(the result of SPEC over OUTPUT, seconds it took, the share of 5 ms ticks another
    thread of this process got meanwhile)."""
    ticks, stop = [0], threading.Event()

    def tick():
        while not stop.is_set():
            time.sleep(0.005)
            ticks[0] += 1
    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    started = time.monotonic()
    try:
        result = run_check(spec, CheckContext(None, [ExecResult(0, output, "")]))
    finally:
        elapsed = time.monotonic() - started
        stop.set()
        ticker.join()
    return result, elapsed, ticks[0] / max(1.0, elapsed / 0.005)


def test_a_crafted_output_ends_within_the_limit_and_never_holds_the_app():
    spec = lesson_pattern(*DNS)
    result, elapsed, share = timed_check(spec, crafted(512 << 10))
    # In the app's own process this search takes hours, holding the interpreter throughout.
    assert not result.passed and not result.uncertain, result
    assert "could not be checked against" in str(result.reason) and "stopped" in str(result.reason), result.reason
    assert elapsed < filters_sandbox.SEARCH_SECONDS + 30, f"the check took {elapsed:.0f} s"
    assert share > 0.3, f"the app's other threads got {share:.0%} of their ticks while the pattern ran"


def test_an_honest_output_still_passes():
    spec = lesson_pattern(*DNS)
    honest = (DNAT + "-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination "
              "127.0.0.11:40227\n"
              'UNCONN 0 0 127.0.0.11:36118 0.0.0.0:* users:(("dockerd",pid=120,fd=31))\n')
    result, _, _ = timed_check(spec, honest)
    assert result.passed, result.reason
    other = honest.replace(":36118 0.0.0.0", ":36119 0.0.0.0")  # dockerd listens elsewhere: no match
    result, _, _ = timed_check(spec, other)
    assert not result.passed and "does not match" in str(result.reason), result.reason


@pytest.mark.parametrize("lesson,step,start,output", [
    # "Served by" lines that never differ: each is compared with every later one (about 90 s
    # in the app's process)
    ("endpoint-modes", "dnsrr", "(?s)Served by", "Served by 0123456789ab\n" * 40000),
    # a neighbour and its forwarding entry, never PERMANENT: cubic (hours)
    ("inside-overlay", "peers", "(?sm)^([0-9.]+)",
     "10.0.1.2 02:42:0a:00:01:02\n02:42:0a:00:01:02 dst 10.0.0.3 self permanent\n" * 1000),
    # a VNI and VXLAN lines with it, never the ICMP line after: quadratic (about 50 s)
    ("inside-overlay", "wire", "(?s)^(\\d+)$", "4097\nVXLAN, flags [I] (0x08), vni 4097\n" * 25000),
])
def test_every_backtracking_pattern_of_the_lessons_is_bounded(lesson, step, start, output):
    spec = lesson_pattern(lesson, step, start)
    result, elapsed, share = timed_check(spec, output)
    assert not result.passed and not result.uncertain, result
    assert "could not be checked against" in str(result.reason), result.reason
    assert elapsed < filters_sandbox.SEARCH_SECONDS + 30, f"the check took {elapsed:.0f} s"
    assert share > 0.3, f"the app's other threads got {share:.0%} of their ticks while the pattern ran"
