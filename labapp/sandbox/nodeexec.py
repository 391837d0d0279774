"""Commands on a node: a command run to its end with its output streamed (NodeExecution),
and an interactive one behind a pseudo-terminal (NodeTty). Each runs in its own session on
the node (setsid), its pid recorded so that a timeout, a cancel or Close kills the whole
process group; the exit code comes from exec inspect; a node that dies under a command is
named (NodeDead)."""
from __future__ import annotations

import queue
import re
import secrets
import shlex
import threading
import time
from importlib import resources
from typing import TYPE_CHECKING, Iterator, Sequence

import docker
import docker.errors

from ..engine import CONNECTION_ERRORS
from ..errors import ExecError, LabappError, NodeDead
from .base import ExecResult, Execution, Node, TtySession
from .execstream import Chunk, OutputDecoder, start_exec

if TYPE_CHECKING:
    from .swarm import SwarmSandbox

_PID_DIR = "/run/labapp/exec"
# Who runs a command on a node. The app's own commands (swarm formation, checks, the network
# map) run as the node's root: in a hardened node, uid 100000 of the host, which owns the
# node's user namespace. What a learner typed runs as an unprivileged user of the node's
# group (it may use the node's docker socket, nothing else), with no new privileges.
LEARNER_USER = "100001:100000"
LEARNER_PREFIX = ("setpriv", "--no-new-privs", "--")
KEEP = 2 << 20  # characters of a command's output kept for its result (the runner cuts what it shows at 1 MiB)
KEPT_NOTE = "\n(output past 2 MiB: the command was stopped)\n"


def _never_caps() -> str:
    """The capabilities the node's own root drops from its bounding set at boot
    (assets/node-inner.sh, NEVER_CAPS): a node-root command drops the same ones."""
    script = resources.files("labapp.sandbox").joinpath("assets", "node-inner.sh").read_text()
    found = re.search(r"^NEVER_CAPS=((?:.*\\\n)*.*)$", script, re.M)
    if not found:
        raise RuntimeError("assets/node-inner.sh no longer sets NEVER_CAPS")
    return found.group(1).replace("\\\n", "").strip()


NEVER_CAPS = _never_caps()


def as_node_root(line: str) -> str:
    """The shell line that runs LINE as root of the node's own user namespace.

    The app's commands run as the owner of that namespace from outside it (uid 100000 of the
    host in a hardened node): enough for the node's own network (ss, ip xfrm, tcpdump), not
    to enter another network namespace (setns needs CAP_SYS_ADMIN in the caller's own user
    namespace too). This enters the node's user namespace (PID 1's) and becomes its root,
    with the bounding set the node's own root has (NEVER_CAPS dropped), and nothing of the
    host's: root there is still uid 100000 to the host kernel, under the node's seccomp.
    On a node without a user namespace of its own (the weak recipes) the app's user is
    already root and only the bounding set is dropped.

    Only lesson files reach this: a ```NODE root command block (runner.py), the check kinds
    that look inside a namespace (checks/namespace.py) and the checks' probes, which run the
    node's own busybox in a container's network namespace (checks/base.py,
    in_container_netns), never the container's programs. A learner's command is an argv list and
    never a shell line, so it can never be wrapped so (wrap_command refuses both at once);
    tests/security/test_node_root.py tries the console, the REST API and Socket.IO.
    """
    inner = f"setpriv --bounding-set={NEVER_CAPS} -- sh -c {shlex.quote(line)}"
    return ('if [ "$(readlink /proc/1/ns/user)" = "$(readlink /proc/self/ns/user)" ]; '
            f"then exec {inner}; "
            f"else exec nsenter --user=/proc/1/ns/user --preserve-credentials -- {inner}; fi")


def wrap_command(cmd: Sequence[str] | str, token: str, learner: bool = False) -> list[str]:
    """The argv that runs CMD on a node in a session of its own, recording its pid so
    that a timeout or a cancel can kill the whole process group.

    A string is a shell line (pipes allowed: the app's own commands and the lessons');
    a sequence is run as it is. A LEARNER's command must be a sequence (argv: it never
    meets a shell) and runs with no new privileges.
    """
    if learner and isinstance(cmd, str):
        raise ExecError("a learner's command is an argv list, never a shell line")
    if not cmd:
        raise ExecError("no command given")
    if learner:
        argv = [*LEARNER_PREFIX, *cmd]
    else:
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    script = (f'mkdir -p {_PID_DIR} && echo "$PPID $$" > {_PID_DIR}/{token}; '
              f'"$@"; rc=$?; rm -f {_PID_DIR}/{token}; exit $rc')
    return ["setsid", "-w", "sh", "-c", script, "labapp", *argv]


class NodeExecution(Execution):
    """A command running on a node: output chunks as they come, exit code from exec inspect."""

    def __init__(self, sandbox: SwarmSandbox, node: Node, cmd: Sequence[str] | str,
                 timeout: float | None, learner: bool = False):
        self.sandbox = sandbox
        self.node = node
        self.timeout = timeout
        self.token = secrets.token_hex(6)
        self.user = sandbox.user_for(learner)
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._kept = 0
        self._result: ExecResult | None = None
        self._timed_out = False
        self._cancelled = False
        self._started = time.monotonic()
        self._exec_id, self._response, self._reader, _ = _start(
            sandbox, node, wrap_command(cmd, self.token, learner), user=self.user)
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True,
                                         name=f"labapp-exec-{node.container}")
        self._thread.start()

    def _pump(self) -> None:
        try:
            while True:
                data = self._reader.read1(65536)
                if not data:
                    break
                self._queue.put(data)
        except (OSError, ValueError, AttributeError):
            pass  # the stream closed under us: the end of output either way
        finally:
            self._queue.put(None)

    def __iter__(self) -> Iterator[Chunk]:
        decoder = OutputDecoder()
        deadline = None if self.timeout is None else self._started + self.timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                data = self._queue.get(timeout=wait)
            except queue.Empty:
                self._timed_out = True
                self._kill()
                deadline = None  # now wait for the stream to close after the kill
                continue
            if data is None:
                break
            for chunk in decoder.feed(data):
                self._keep(chunk)
                yield chunk
        for chunk in decoder.close():
            self._keep(chunk)
            yield chunk
        self._finish()

    def _keep(self, chunk: Chunk) -> None:
        """Keep CHUNK for result(), up to KEEP characters in all: a command's output is the
        learner's to make (a program in their container may print without end), and the
        app holds it in memory. Past that the command is stopped (its result says so)."""
        room = KEEP - self._kept
        if room <= 0:
            return
        text = chunk.text[:room]
        self._kept += len(text)
        (self._stdout if chunk.stream == "stdout" else self._stderr).append(text)
        if self._kept >= KEEP and not self._cancelled:
            self._stderr.append(KEPT_NOTE)
            self.cancel()

    def _finish(self) -> None:
        self._response.close()
        exit_code = _exit_code(self.sandbox, self._exec_id)
        if exit_code != 0 and not self._timed_out and not self._cancelled:
            # A node killed under the command ends it with 137 (or with no code at all):
            # say the node died rather than blame the command.
            self._raise_if_dead(exit_code)
        self._result = ExecResult(exit_code, "".join(self._stdout), "".join(self._stderr),
                                  self._timed_out, time.monotonic() - self._started)

    def _raise_if_dead(self, exit_code: int | None) -> None:
        problem = _node_problem(self.sandbox, self.node, exit_code)
        if problem:
            raise problem

    def result(self) -> ExecResult:
        if self._result is None:
            for _ in self:
                pass
        return self._result

    def cancel(self) -> None:
        self._cancelled = True
        self._kill()

    def _kill(self) -> None:
        """Kill the command's process group on the node (recorded by wrap_command)."""
        # setsid (the exec's own process) first, so that it cannot report the kill, then
        # the session it started: every process of the command, pipes and children.
        if not _kill_recorded(self.sandbox, self.node, self.token, '"$first" -"$second"', self.user):
            self._response.close()  # the node is gone: end the stream from this side


class NodeTty(TtySession):
    """An interactive command on a node behind a pseudo-terminal (docker attach, exec -it).

    The command leads its own session with the terminal as its controlling one, so the
    docker CLI inside gets SIGWINCH on resize and Ctrl-C reaches the container.
    """

    def __init__(self, sandbox: SwarmSandbox, node: Node, argv: Sequence[str], cols: int, rows: int):
        if isinstance(argv, str) or not argv:
            raise ExecError("a terminal runs an argv list, never a shell line")
        self.sandbox, self._node, self.node = sandbox, node, node.name
        self.command = " ".join(argv)
        self.token = secrets.token_hex(6)
        self.user = LEARNER_USER
        script = f'mkdir -p {_PID_DIR} && echo "$$ $$" > {_PID_DIR}/{self.token}; exec "$@"'
        self._exec_id, self._response, self._reader, self._sock = _start(
            sandbox, node, ["sh", "-c", script, "labapp", *LEARNER_PREFIX, *argv], tty=True, user=self.user)
        self._decoder = OutputDecoder(tty=True)
        self._closed = False
        self._nudged = False
        self._size = (cols, rows)
        self._outcome: tuple[int | None, str] | None = None
        self.resize(cols, rows)

    def read(self) -> str | None:
        while True:
            try:
                data = self._reader.read1(65536)
            except (OSError, ValueError, AttributeError):
                data = b""
            if not data:
                rest = "".join(c.text for c in self._decoder.close())
                self._end()
                return rest or None
            text = "".join(c.text for c in self._decoder.feed(data))
            if text:
                if not self._nudged:
                    self._nudged = True
                    threading.Timer(0.3, self._nudge).start()
                return text

    def _nudge(self) -> None:
        """Say the terminal's size again once the program in it is up. The docker CLI reads
        the size when it starts and only then listens for SIGWINCH, so a resize that lands
        in between is lost; one row less and back makes two signals it does hear."""
        cols, rows = self._size
        if not self._closed:
            self.resize(cols, max(2, rows - 1))
            self.resize(cols, rows)

    def write(self, text: str) -> None:
        if self._closed or self._sock is None:
            raise ExecError(f"the terminal on {self.node} has ended")
        try:
            self._sock.sendall(text.encode("utf-8"))
        except OSError:
            raise ExecError(f"the terminal on {self.node} has ended") from None

    def resize(self, cols: int, rows: int) -> None:
        self._size = (cols, rows)
        try:
            self.sandbox.client.api.exec_resize(self._exec_id, height=rows, width=cols)
        except (docker.errors.APIError, *CONNECTION_ERRORS):
            pass  # the session ended meanwhile; its reader reports how

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._running():
            _kill_recorded(self.sandbox, self._node, self.token, '-"$first"', self.user)
        self._response.close()

    def _running(self) -> bool:
        try:
            return bool(self.sandbox.client.api.exec_inspect(self._exec_id).get("Running"))
        except (docker.errors.APIError, *CONNECTION_ERRORS):
            return False

    def _end(self) -> None:
        if self._outcome is not None:
            return
        exit_code = _exit_code(self.sandbox, self._exec_id)
        problem = _node_problem(self.sandbox, self._node, exit_code) if exit_code != 0 else None
        if problem is not None:
            self._outcome = (None, str(problem))
        elif self._closed:
            self._outcome = (exit_code, "the session was closed")
        else:
            self._outcome = (exit_code, f"the session ended (exit {exit_code})")
        self._closed = True
        _kill_recorded(self.sandbox, self._node, self.token, "", self.user)  # only removes the pid file
        self._response.close()

    def outcome(self) -> tuple[int | None, str]:
        if self._outcome is None:
            raise ExecError("the terminal session has not ended yet")
        return self._outcome


def _exit_code(sandbox: SwarmSandbox, exec_id: str) -> int | None:
    """The exit code of a finished exec; None when the engine cannot say (node gone)."""
    try:
        for _ in range(50):  # the exit code lands a moment after the stream closes
            info = sandbox.client.api.exec_inspect(exec_id)
            if not info.get("Running"):
                return info.get("ExitCode")
            time.sleep(0.02)
    except (docker.errors.APIError, *CONNECTION_ERRORS):
        pass
    return None


def _start(sandbox: SwarmSandbox, node: Node, argv: list[str], tty: bool = False, user: str = ""):
    """Create and start an exec of ARGV on NODE as USER; (exec id, response, reader, socket).
    A node that is gone or stopped is reported as NodeDead, naming it."""
    api = sandbox.client.api
    try:
        exec_id = api.exec_create(node.container, argv, stdout=True, stderr=True, stdin=tty, tty=tty,
                                  user=user or sandbox.app_user,
                                  environment={"TERM": "xterm-256color"} if tty else None)["Id"]
        return (exec_id, *start_exec(api, exec_id, tty=tty))
    except docker.errors.NotFound:
        raise NodeDead(f"node {node.name} of sandbox {sandbox.id} is gone (its container was removed)") from None
    except docker.errors.APIError as exc:
        text = exc.explanation or str(exc)
        if "is not running" in text or "is paused" in text or "is restarting" in text:
            raise NodeDead(f"node {node.name} of sandbox {sandbox.id} is not running") from None
        raise ExecError(f"cannot run the command on {node.name}: {text}") from None
    except CONNECTION_ERRORS:
        raise ExecError(f"the engine went away before the command started on {node.name}") from None


def _node_problem(sandbox: SwarmSandbox, node: Node, exit_code: int | None = None) -> LabappError | None:
    """NodeDead (naming NODE) when its container no longer runs; None when it does.

    A node being killed ends its commands (exit 137, or no code) a moment before the
    engine reports the container stopped, so those codes get a second of grace."""
    grace = time.monotonic() + (1.0 if exit_code in (None, 137) else 0.0)
    while True:
        try:
            status = sandbox.client.api.inspect_container(node.container)["State"]["Status"]
        except docker.errors.NotFound:
            status = "removed"
        except CONNECTION_ERRORS:
            return ExecError(f"the engine went away while the command ran on {node.name}")
        if status != "running" or time.monotonic() >= grace:
            break
        time.sleep(0.1)
    if status == "running":
        return None
    return NodeDead(f"node {node.name} of sandbox {sandbox.id} died during the command "
                    f"(its container is {status})")


def _kill_recorded(sandbox: SwarmSandbox, node: Node, token: str, targets: str, user: str) -> bool:
    """Kill TARGETS (built from the pid file's "$first" and "$second") on NODE, as USER (who
    ran them), then remove the pid file; an empty TARGETS only removes it. False when the
    node cannot be reached."""
    pidfile = f"{_PID_DIR}/{token}"
    kill = f'[ -f {pidfile} ] && read first second < {pidfile} && env kill -KILL -- {targets}; ' \
        if targets else ""
    try:
        api = sandbox.client.api
        exec_id = api.exec_create(node.container, ["sh", "-c", f"{kill}rm -f {pidfile}"], user=user)["Id"]
        api.exec_start(exec_id)
        return True
    except (docker.errors.APIError, *CONNECTION_ERRORS):
        return False
