"""What a learner runs: a step's command blocks, a step's checks (on what they ran and on
their swarm), and console lines (judged by the console policy; interactive ones open a
terminal)."""
from __future__ import annotations

from .. import filters
from ..console import judge
from ..i18n import msg
from ..lesson.model import Lesson
from ..runner import CommandRun, OnEvent
from .errors import LabError, NotFound
from .lifecycle import LabEvents, Lifecycle, step_of
from .metrics import LabMetrics
from .seats import keeping_output
from .terminals import Terminals

CONSOLE_TIMEOUT = 300.0  # seconds a console line may run
CHECK_ROUNDS = 2  # a step's checks run again once when the only problems are uncertain ones


def _only_uncertain(results) -> bool:
    """Some check is uncertain (still converging at its deadline) and none failed on evidence."""
    return any(r.uncertain for r in results) and all(r.passed or r.uncertain for r in results)


class Commands:
    def __init__(self, lifecycle: Lifecycle, terminals: Terminals, metrics: LabMetrics, events: LabEvents):
        self.lifecycle = lifecycle
        self.terminals = terminals
        self.metrics = metrics
        self.events = events

    def run_block(self, learner: str, lesson: Lesson, step_id: str, index: int, on_event: OnEvent
                  ) -> list[CommandRun]:
        """Run the INDEX-th command block of a step; keep its results for the step's check."""
        seat, sandbox = self.lifecycle.ready(learner, lesson)
        step = step_of(lesson, step_id)
        if not 0 <= index < len(step.blocks):
            raise NotFound(msg("step '{step}' has no command block {block}", step=step_id, block=index))
        runner = self.lifecycle.runner(sandbox, lesson, keeping_output(seat, on_event))
        self.lifecycle.prepare(seat, runner, step)
        seat.touch()
        block = step.blocks[index]
        if not runner.applies(block.when):
            raise LabError(msg("this block is not for this lab host (see the note in the step)"))
        runs = runner.run_blocks(step, (block,))
        seat.keep_runs(step_id, index, runs)
        self.metrics.steps_run.inc()
        self.events.activity(learner)
        return runs

    def check(self, learner: str, lesson: Lesson, step_id: str, on_event: OnEvent | None = None) -> dict:
        """Evaluate a step's checks on what the learner ran and on their swarm; store it.

        A check whose state was still converging at its deadline is uncertain, not failed:
        when nothing else failed, the checks run once more (ON_EVENT hears a `checking`
        event, "the lab is slow"); still uncertain then, the verdict says so and is not
        recorded as a failed attempt."""
        seat, sandbox = self.lifecycle.ready(learner, lesson)
        step = step_of(lesson, step_id)
        runner = self.lifecycle.runner(sandbox, lesson)
        self.lifecycle.prepare(seat, runner, step)
        seat.touch()
        with filters.owned_by(learner):  # the lesson's patterns over their output: one jail job at a time
            results = runner.check(step, seat.runs_of(step_id))
            for _ in range(CHECK_ROUNDS - 1):
                if not _only_uncertain(results):
                    break
                self.metrics.checks.labels("slow").inc()
                (on_event or (lambda event: None))({"type": "checking", "step": step_id, "message": msg(
                    "The lab is slow right now and the swarm is still converging: checking again.")})
                seat.touch()
                results = runner.check(step, seat.runs_of(step_id))
        verdict = {"step": step_id, "checks": [r.as_dict() for r in results]}
        if _only_uncertain(results):
            self.metrics.checks.labels("uncertain").inc()
            seat.unjudged[(lesson.slug, step_id)] = seat.unjudged.get((lesson.slug, step_id), 0) + 1
            verdict.update(passed=False, uncertain=True, message=msg(
                "Not judged: the lab is too slow right now to tell. Nothing is counted against you; press Check "
                "again in a minute."))
            return verdict
        passed = bool(results) and all(r.passed for r in results)
        failed = [r for r in results if not r.passed and not r.uncertain]
        self.lifecycle.store.record(learner, lesson.slug, step_id, "passed" if passed else "failed",
                                    [r.name for r in failed], {r.name: r.reason for r in failed})
        seat.unjudged.pop((lesson.slug, step_id), None)
        self.metrics.checks.labels("passed" if passed else "failed").inc()
        verdict["passed"] = passed
        seat.last_verdict = verdict
        self.events.activity(learner)
        return verdict

    def console(self, learner: str, lesson: Lesson, node: str, line: str, on_event: OnEvent,
                terminal: tuple[int, int] | None = None) -> dict:
        """Run a console LINE on NODE if the policy allows it; else say why not.

        An interactive line (docker attach, docker exec -it) opens a terminal session when
        the caller has a TERMINAL of (cols, rows) to show it in."""
        verdict = judge(line)
        if not verdict.allowed:
            self.metrics.console_refusals.inc()
            return {"allowed": False, "reason": verdict.reason}
        if verdict.interactive and terminal is None:
            return {"allowed": False, "reason": msg(
                "an interactive session (docker attach, exec -it) needs a terminal: type it in the lesson page's "
                "console; here use docker exec CONTAINER CMD")}
        seat, sandbox = self.lifecycle.ready(learner, lesson)
        sandbox.node(node)
        seat.touch()
        shown = line.strip()
        if verdict.interactive:
            return self.terminals.open(learner, sandbox, node, shown, verdict.segments[0], terminal,
                                       keeping_output(seat, on_event))
        runner = self.lifecycle.runner(sandbox, lesson, keeping_output(seat, on_event))
        with filters.owned_by(learner):  # the learner's filters take one of the few jobs at a time
            result = runner.run_console(node, shown, verdict, CONSOLE_TIMEOUT)
        return {"allowed": True, "exit_code": result.exit_code}
