"""Run a lesson step on a sandbox: setup, commands (streamed), then checks. No Flask here:
the web app and the CLI both use it."""
from __future__ import annotations

import contextvars
import json
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from .checks import CheckContext, CheckResult, needs_setup_state, reads_state, remember, run_check, runs_alone
from .checks.base import load_stretch
from .errors import LabappError, SandboxError
from .lesson.model import CheckSpec, CommandBlock, Lesson, Note, Step, condition_holds
from .sandbox.base import ExecResult, Sandbox
from .sandbox.nodeexec import KEPT_NOTE, as_node_root

DEFAULT_STEP_TIMEOUT = 300.0
# Where a step's setup leaves its record (the ids its rules compare with) on the first node:
# a tmpfs of the node's, written by the app's user only (mode 0600), gone with the sandbox.
SETUP_RECORDS = "/run/labapp/setup"
MAX_OUTPUT = 1 << 20  # characters of output one command may show; past it the command is stopped
_CUT = f"\n(output cut at {MAX_OUTPUT // 1024} KiB: the command was stopped)\n"

# on_event receives plain dicts (ready for JSON / Socket.IO):
#   {"type": "command", "step", "node", "command"}           a command starts
#   {"type": "output", "step", "node", "stream", "text"}      a chunk of its output
#   {"type": "exit", "step", "node", "command", "exit_code", "timed_out"}
OnEvent = Callable[[dict], None]


@dataclass(frozen=True)
class CommandRun:
    node: str
    command: str
    result: ExecResult
    expect_fail: bool = False

    @property
    def unexpected_failure(self) -> bool:
        return not self.expect_fail and not self.result.ok


@dataclass
class StepResult:
    step: str
    status: str  # "passed", "failed" or "error"
    checks: list[CheckResult] = field(default_factory=list)
    runs: list[CommandRun] = field(default_factory=list)
    before: list[CheckResult] = field(default_factory=list)  # --both-ways: state checks before
    error: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_dict(self) -> dict:
        data = {"id": self.step, "status": self.status, "seconds": round(self.seconds, 2),
                "checks": [c.as_dict() for c in self.checks]}
        if self.before:
            data["before"] = [c.as_dict() for c in self.before]
        if self.error:
            data["error"] = self.error
        return data


class Runner:
    """Runs the steps of LESSON on SANDBOX, for a host whose probe said KERNEL."""

    def __init__(self, sandbox: Sandbox, lesson: Lesson, kernel: dict | None = None,
                 on_event: OnEvent | None = None, step_timeout: float = DEFAULT_STEP_TIMEOUT,
                 patience: float | None = None):
        """PATIENCE: the seconds a check waits for state still converging on an idle host
        (stretched by the host's load, see checks.base.load_stretch; None: its default)."""
        self.sandbox = sandbox
        self.lesson = lesson
        self.kernel = dict(kernel or {})
        self.on_event = on_event or (lambda event: None)
        self.step_timeout = step_timeout
        self.patience = patience

    def applies(self, when: str | None) -> bool:
        return condition_holds(when, self.kernel)

    def notes(self, step: Step) -> list[Note]:
        """The notes this host should show for STEP (e.g. what no IPVS means here)."""
        return [n for n in step.notes if self.applies(n.when)]

    def run_blocks(self, step: Step, blocks: tuple[CommandBlock, ...], deadline: float | None = None
                   ) -> list[CommandRun]:
        """Run BLOCKS' commands in order, streaming output; stop at an unexpected failure."""
        deadline = deadline or time.monotonic() + self.step_timeout
        runs: list[CommandRun] = []
        for block in blocks:
            if not self.applies(block.when):
                continue
            for command in block.commands:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StepTimeout(f"step '{step.id}' ran out of its {self.step_timeout:g} s")
                result = self.run_command(step.id, block.node, command.text, remaining, root=block.root)
                run = CommandRun(block.node, command.text, result, block.expect_fail)
                runs.append(run)
                if run.unexpected_failure:
                    return runs
        return runs

    def run_command(self, step_id: str | None, node: str, command: str, timeout: float, root: bool = False
                    ) -> ExecResult:
        """Run one command line of a lesson on NODE as the app's user (lesson text is the lab's
        own), or with ROOT (a ```NODE root block) as root of the node's user namespace; tell
        on_event as it starts, prints and ends. Nothing a learner sends reaches ROOT: the web
        layer names a block by its index, and the console runs argv lists as the learner."""
        return self._run(step_id, node, command, as_node_root(command) if root else command, timeout)

    def run_console(self, node: str, line: str, verdict, timeout: float) -> ExecResult:
        """Run a learner's console LINE on NODE, as the console policy parsed it (VERDICT):
        the docker argv as the learner (no shell), its output piped through the filters by
        the app itself (labapp/filters). stderr is not filtered, as in a shell."""
        from .filters import Pipeline

        pipeline = Pipeline(verdict.filters) if verdict.filters else None
        return self._run(None, node, line, verdict.segments[0], timeout, learner=True, pipeline=pipeline)

    def _run(self, step_id: str | None, node: str, shown: str, cmd, timeout: float, learner: bool = False,
             pipeline=None) -> ExecResult:
        """Stream CMD's output to on_event (through PIPELINE, if any) and return what was shown.
        A filter that has all it needs (head) stops the command, as SIGPIPE would; so does
        output past MAX_OUTPUT characters, with a line that says so."""
        self.on_event({"type": "command", "step": step_id, "node": node, "command": shown})
        execution = self.sandbox.exec_stream(node, cmd, timeout=timeout, learner=learner)
        kept = {"stdout": [], "stderr": []}
        room = [MAX_OUTPUT]
        stopped = []

        def emit(stream: str, text: str) -> None:
            if not text or room[0] <= 0:
                return
            if len(text) > room[0]:
                text = text[:room[0]]  # (a Message stays one, to be said in the page's language, unless cut)
            room[0] -= len(text)
            kept[stream].append(text)
            self.on_event({"type": "output", "step": step_id, "node": node, "stream": stream, "text": text})
            if room[0] <= 0:
                stop("cut")

        def stop(why: str) -> None:
            if not stopped:
                stopped.append(why)
                execution.cancel()

        for chunk in execution:
            if stopped:
                continue  # the command is being stopped: its last output is dropped
            if chunk.stream == "stdout" and pipeline is not None:
                emit("stdout", pipeline.feed(chunk.text))
                if pipeline.done:
                    stop("done")
            else:
                emit(chunk.stream, chunk.text)
        if pipeline is not None:
            emit("stdout", pipeline.close(with_notes=False))
            for note in pipeline.notes:  # on stderr, one a line, as a shell's filters would print them
                emit("stderr", note)
                emit("stderr", "\n")
        ran = execution.result()
        if stopped == ["cut"]:
            room[0] = len(_CUT)
            emit("stderr", _CUT)
        elif not stopped and ran.stderr.endswith(KEPT_NOTE):
            # the node stopped the command at its keep-limit: through filters, what is shown
            # may be short, but it comes from the first 2 MiB only, and the learner is told so
            room[0] = max(room[0], len(KEPT_NOTE))
            emit("stderr", KEPT_NOTE)
        exit_code = pipeline.exit_code if pipeline is not None else ran.exit_code
        result = ExecResult(exit_code, "".join(kept["stdout"]), "".join(kept["stderr"]),
                            ran.timed_out and not stopped, ran.duration)
        self.on_event({"type": "exit", "step": step_id, "node": node, "command": shown,
                       "exit_code": result.exit_code, "timed_out": result.timed_out})
        return result

    def specs(self, step: Step, state_only: bool = False) -> list[CheckSpec]:
        """STEP's checks that apply on this host (only those that read the swarm: STATE_ONLY)."""
        return [spec for spec in step.checks
                if self.applies(spec.when) and (not state_only or reads_state(spec))]

    def check(self, step: Step, runs: list[CommandRun], state_only: bool = False) -> list[CheckResult]:
        """Evaluate STEP's checks (those whose condition holds) on RUNS and the sandbox."""
        specs = self.specs(step, state_only)
        setup_state = self._setup_record(step) if any(needs_setup_state(s) for s in specs) else None
        patience = None if self.patience is None else self.patience * load_stretch()
        ctx = CheckContext(self.sandbox, [r.result for r in runs], self.kernel, setup_state, patience)
        together = [spec for spec in specs if not runs_alone(spec)]
        results: dict[int, CheckResult] = {}
        if len(together) <= 1:
            results.update({id(spec): run_check(spec, ctx) for spec in together})
        else:
            # Checks only read, so they may ask at once; results keep the lesson's order.
            # Each in a copy of this thread's context: the learner who owns the jail's jobs
            # (filters.owned_by) goes with them.
            asked = [(contextvars.copy_context(), spec) for spec in together]
            with ThreadPoolExecutor(max_workers=min(4, len(together))) as pool:
                results.update(zip(map(id, together), pool.map(
                    lambda pair: pair[0].run(run_check, pair[1], ctx), asked)))
        for spec in specs:  # then those that watch the wire, one at a time, in a quiet sandbox
            if runs_alone(spec):
                results[id(spec)] = run_check(spec, ctx)
        return [results[id(spec)] for spec in specs]

    def setup(self, step: Step) -> list[CommandRun]:
        """Run STEP's setup; then record what its rules compare with (same_as_setup), and
        that it ran (setup_ran: a restarted app must not run it twice on the same sandbox)."""
        runs = self.run_blocks(step, step.setup)
        if any(r.unexpected_failure for r in runs):
            return runs
        specs = [s for s in self.specs(step) if needs_setup_state(s)]
        state = remember(specs, CheckContext(self.sandbox, [], self.kernel)) if specs else None
        node = self.sandbox.nodes[0].name
        stem = f"{SETUP_RECORDS}/{self.lesson.slug}.{step.id}"
        line = f"umask 077; mkdir -p {SETUP_RECORDS} && : > {shlex.quote(stem + '.ran')}"
        if state is not None:
            line += f" && printf '%s' {shlex.quote(json.dumps(state))} > {shlex.quote(stem + '.json')}"
        wrote = self.sandbox.exec(node, line, timeout=20)
        if wrote.exit_code != 0:  # else every same_as_setup rule would say "no record", unexplained
            raise SandboxError(f"cannot record the setup of step '{step.id}' on {node}: "
                               f"{(wrote.stderr or wrote.stdout).strip() or f'exit {wrote.exit_code}'}")
        return runs

    def setup_ran(self, step: Step) -> bool:
        """Whether STEP's setup already ran on this sandbox (its mark, written by setup)."""
        mark = shlex.quote(f"{SETUP_RECORDS}/{self.lesson.slug}.{step.id}.ran")
        return self.sandbox.exec(self.sandbox.nodes[0].name, f"test -e {mark}", timeout=20).exit_code == 0

    def _setup_record(self, step: Step) -> dict | None:
        """What STEP's setup recorded on the sandbox; None when there is no record."""
        node = self.sandbox.nodes[0].name
        out = self.sandbox.exec(node, f"cat {shlex.quote(f'{SETUP_RECORDS}/{self.lesson.slug}.{step.id}.json')}",
                                timeout=20)
        try:
            state = json.loads(out.stdout) if out.exit_code == 0 else None
        except ValueError:
            return None
        return state if isinstance(state, dict) else None

    def solve_step(self, step: Step, both_ways: bool = False) -> StepResult:
        """Setup, (state checks before, with BOTH_WAYS), the solution, then every check."""
        started = time.monotonic()
        result = StepResult(step.id, "failed")
        rules: list[bool] = []
        try:
            setup = self.setup(step)
            bad = [r for r in setup if r.unexpected_failure]
            if bad:
                raise LabappError(f"the setup of step '{step.id}' failed on {bad[0].node}: "
                                  f"{bad[0].command} (exit {bad[0].result.exit_code}): "
                                  f"{bad[0].result.output.strip()[-300:]}")
            if both_ways:
                result.before = self.check(step, [], state_only=True)
                rules = [spec.rule for spec in self.specs(step, state_only=True)]
            result.runs = self.run_blocks(step, step.solution_blocks())
            result.checks = self.check(step, result.runs)
        except LabappError as exc:
            result.status, result.error = "error", str(exc)
            result.seconds = time.monotonic() - started
            return result
        bad = [r for r in result.runs if r.unexpected_failure]
        # Before the step a state check must fail (else it cannot tell the step was done), and
        # a rule must hold (else it is no rule the learner can keep).
        broken = [c for c, rule in zip(result.before, rules) if c.passed and not rule]
        unkept = [c for c, rule in zip(result.before, rules) if rule and not c.passed]
        # ...and it must fail on evidence: one still "converging" when nothing was done waits
        # for a state that will not come, and tells the learner "not judged" for ever.
        unsure = [c for c, rule in zip(result.before, rules) if c.uncertain and not rule]
        if bad:
            result.error = (f"'{bad[0].command}' on {bad[0].node} failed (exit {bad[0].result.exit_code}): "
                            f"{bad[0].result.output.strip()[-300:]}")
        elif broken:
            result.error = ("a state check passes before its step, so it cannot tell the step was done: "
                            + "; ".join(c.name for c in broken))
        elif unkept:
            result.error = ("a rule does not hold before the step, so no learner could keep it: "
                            + "; ".join(f"{c.name}: {c.reason}" for c in unkept))
        elif unsure:
            result.error = ("a state check cannot tell before its step: it waits for the swarm to converge and "
                            "ends uncertain, so a learner who has not done the step is never told so: "
                            + "; ".join(f"{c.name}: {c.reason}" for c in unsure))
        passed = (not bad and not broken and not unkept and not unsure
                  and all(c.passed for c in result.checks))
        result.status = "passed" if passed else "failed"
        result.seconds = time.monotonic() - started
        return result


class StepTimeout(LabappError):
    """A step used up its time."""
