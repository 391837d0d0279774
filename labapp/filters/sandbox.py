"""The app's side of the filters' sandbox: it starts the fork server (jail/server.py) once
per app process and restarts it when it dies, hands it jobs within a few slots, keeps one
child per grep, and says in the learner's words why a job did not finish."""
from __future__ import annotations

import atexit
import contextlib
import contextvars
import json
import os
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time

from ..i18n import N_, Message, msg, said
from .base import JQ_MEMORY, Filter
from .jail import frames

PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jail", "server.py")

# Why a sandbox child could not answer, by the key it replies (jail/server.py), and the
# parameters that come with it.
_FAILURES = {
    "memory": N_("stopped: it needed more than {mib} MiB of memory"),
    "batch-memory": N_("stopped: it needed more memory than it may use"),
    "nested": N_("stopped: the data is nested too deeply"),
    "error": N_("failed: {error}"),
    "job": N_("unknown job {job}"),
}


class JobFailed(Exception):
    """A sandbox job that did not finish; the message (a Message) is for the learner."""


class Busy(JobFailed):
    """A job that did not start: every slot stayed taken (it may be asked again later)."""


class Overran(JobFailed):
    """A job its child's limits stopped before its wall clock ran out: it used up its CPU time
    or its memory (what the job asked for, whatever the host's load)."""


class TimedOut(JobFailed):
    """A job still running when its wall clock ran out: on a busy host, not always the job's
    doing (compare Overran)."""


def nonsense() -> Message:
    return msg("stopped: the sandbox replied nonsense")


def _failure(reply: dict) -> Message:
    """What a child's failure REPLY says; the reply comes from a process that ran learner
    input, so only the keys above are believed."""
    template = _FAILURES.get(reply["failed"]) if isinstance(reply["failed"], str) else None
    if template is None:
        return nonsense()
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return msg(template, **{name: str(reply.get(name, ""))[:500] for name in names})


class ForkServer:
    """The fork server (started lazily, restarted when it dies) and the jobs sent to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
        self._owners: dict[str, tuple[threading.Lock, int]] = {}  # owner -> (its one slot, jobs asking)
        self._proc: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        self._dir: str | None = None
        self._owner = 0
        self.info: dict = {}

    def _start(self) -> socket.socket:
        import importlib.util
        spec = importlib.util.find_spec("jq")
        if spec is None or not spec.origin:
            raise JobFailed(msg("cannot run: the jq package is not installed"))
        jq_dir = os.path.dirname(spec.origin)
        # Started as the app's user (it must read Python and libjq); when that is root, the
        # server drops to nobody itself once everything is loaded, before any job.
        user = "%d:%d" % nobody() if os.geteuid() == 0 else "-"
        workdir = tempfile.mkdtemp(prefix="labapp-filters-")
        os.chmod(workdir, 0o555)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", PROGRAM, "--sandbox-server", jq_dir, user],
                stdin=child, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={},
                cwd=workdir, close_fds=True, start_new_session=True)
        except OSError as exc:
            parent.close()
            os.rmdir(workdir)
            raise JobFailed(msg("cannot run: {error}", error=str(exc))) from None
        finally:
            child.close()
        parent.settimeout(15)
        try:
            hello = json.loads(parent.recv(65536) or b"null")
        except (OSError, ValueError):
            hello = None
        if not isinstance(hello, dict):
            parent.close()
            proc.kill()
            proc.wait()
            os.rmdir(workdir)
            raise JobFailed(msg("cannot run: the sandbox did not start"))
        parent.settimeout(None)
        self._proc, self._ctrl, self._dir, self._owner = proc, parent, workdir, os.getpid()
        self.info = hello
        return parent

    def _ensure(self) -> socket.socket:
        with self._lock:
            if self._ctrl is None or self._owner != os.getpid() or self._proc.poll() is not None:
                self._stop_locked()
                self._start()
            return self._ctrl

    def _stop_locked(self) -> None:
        """Stop the server (it exits when its socket closes); a forked app only drops its copy."""
        mine = self._owner == os.getpid()
        if self._ctrl is not None:
            self._ctrl.close()
        if self._proc is not None and mine:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._dir and mine:
            try:
                os.rmdir(self._dir)
            except OSError:
                pass
        self._proc = self._ctrl = self._dir = None

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    @contextlib.contextmanager
    def slot(self, seconds: float, wait: float | None = None):
        """One of the few jobs that may compute at once (the host has few cores), and one job
        at a time of each owner (owned_by): one learner's filters wait for each other, not
        for the whole room's. Busy after WAIT seconds (3 x SECONDS unless given)."""
        deadline = time.monotonic() + (seconds * 3 if wait is None else wait)
        with self._owned(_OWNER.get(), deadline):
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise Busy(_busy())
            try:
                yield
            finally:
                self._slots.release()

    @contextlib.contextmanager
    def _owned(self, owner: str, deadline: float):
        if not owner:
            yield
            return
        with self._lock:
            lock, users = self._owners.get(owner, (threading.Lock(), 0))
            self._owners[owner] = (lock, users + 1)
        try:
            if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise Busy(_busy())
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._lock:
                lock, users = self._owners[owner]
                if users == 1:
                    del self._owners[owner]
                else:
                    self._owners[owner] = (lock, users - 1)

    def connect(self, limits: dict) -> socket.socket:
        """A socket to a fresh child of the fork server, which applies LIMITS to itself."""
        data = json.dumps(limits).encode()
        for attempt in range(2):
            ctrl = self._ensure()
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                with self._lock:
                    socket.send_fds(ctrl, [data], [theirs.fileno()])
            except OSError:
                mine.close()
                self.stop()
                if attempt:
                    raise JobFailed(_unavailable()) from None
                continue
            finally:
                theirs.close()
            return mine
        raise JobFailed(_unavailable())

    @staticmethod
    def exchange(sock: socket.socket, job: dict, seconds: float, memory: int, last: bool) -> dict:
        """Send JOB, read the reply; a child that dies or overruns becomes JobFailed."""
        start = time.monotonic()
        sock.settimeout(seconds + 2)
        try:
            frames.send(sock, job)
            if last:
                sock.shutdown(socket.SHUT_WR)
            reply = frames.receive(sock)
        except (EOFError, OSError, ValueError, RecursionError):
            if time.monotonic() - start >= seconds * 0.9:
                raise TimedOut(msg("stopped: it ran longer than {seconds} s", seconds=format(seconds, "g"))) from None
            raise Overran(msg("stopped: it needed more than {mib} MiB of memory, more CPU time than it may use, "
                              "or failed", mib=memory >> 20)) from None
        if not isinstance(reply, dict):
            raise JobFailed(nonsense())
        if reply.get("failed"):
            raise JobFailed(_failure(reply))
        return reply

    def run(self, job: dict, seconds: float, memory: int = JQ_MEMORY, cpu: float | None = None,
            wait: float | None = None) -> dict:
        """Run JOB in a fresh child with SECONDS of wall clock and CPU seconds of CPU time (as
        much as the wall clock unless given), after waiting at most WAIT for a slot; its
        reply, or JobFailed."""
        with self.slot(seconds, wait):
            sock = self.connect({"seconds": seconds, "cpu": seconds if cpu is None else cpu, "memory": memory})
            try:
                return self.exchange(sock, job, seconds, memory, last=True)
            finally:
                sock.close()


_OWNER: contextvars.ContextVar[str] = contextvars.ContextVar("labapp_filters_owner", default="")


@contextlib.contextmanager
def owned_by(owner: str):
    """The filter jobs started inside this block are OWNER's (a learner): one runs at a time."""
    token = _OWNER.set(owner)
    try:
        yield
    finally:
        _OWNER.reset(token)


def _busy() -> Message:
    return msg("stopped: the server is busy with other filters; try again")


def _unavailable() -> Message:
    return msg("cannot run: the sandbox is not available")


class Session:
    """One sandbox child kept for one filter: it prepares once (compiles a pattern) and then
    answers batch after batch, within SECONDS of wall clock per batch and BUDGET of CPU in all."""

    IDLE = 300  # seconds a child waits for the next batch before it exits

    def __init__(self, header: dict, seconds: float, budget: float, memory: int = 128 << 20):
        self.header, self.seconds, self.budget, self.memory = header, seconds, budget, memory
        self.sock: socket.socket | None = None
        self.last_used = 0.0

    def call(self, job: dict) -> dict:
        sandbox = server()
        with sandbox.slot(self.seconds):
            for attempt in range(2):
                fresh = self.sock is None
                if fresh:
                    self.sock = sandbox.connect({"seconds": self.seconds, "cpu": self.budget,
                                                 "memory": self.memory, "idle": self.IDLE})
                idle = time.monotonic() - self.last_used
                try:
                    if fresh:
                        frames.send(self.sock, self.header)
                    reply = sandbox.exchange(self.sock, job, self.seconds, self.memory, last=False)
                    self.last_used = time.monotonic()
                    return reply
                except JobFailed:
                    self.close()
                    if fresh or attempt or idle < self.IDLE - 5:
                        raise
                except OSError:
                    self.close()
                    if attempt:
                        raise JobFailed(_gone()) from None
        raise JobFailed(_gone())

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _gone() -> Message:
    return msg("stopped: the sandbox went away")


def answer(owner: Filter, job: dict, seconds: float, status: int, sound) -> dict | None:
    """The sandbox's reply to OWNER's JOB, or None when the job failed or its reply is not
    SOUND (a check of its shape): then OWNER notes why and takes the exit STATUS."""
    try:
        got = server().run(job, seconds)
    except JobFailed as exc:
        owner.note(said(exc))
        owner.status = status
        return None
    if not sound(got):
        owner.note(nonsense())
        owner.status = status
        return None
    return got


SEARCH_SECONDS = 3.0  # the longest a lesson's pattern may take over a learner's output
SEARCH_MEMORY = 256 << 20


def search(pattern: str, flags: int, texts: list[str], seconds: float = SEARCH_SECONDS) -> list[int]:
    """The indexes of the TEXTS that PATTERN (a lesson's regular expression, with re's FLAGS)
    matches. Computed in a sandbox child with SECONDS of CPU time: a learner can print output
    that makes a backtracking pattern run for hours, and in the app it would hold the
    interpreter for every learner. Its wall clock is 4 x SECONDS, so that on a busy host a
    quick pattern is not stopped for the host's slowness. JobFailed when it did not finish:
    Overran when the pattern used up its CPU time (the output's doing), TimedOut when the
    wall clock ran out first (the host's), Busy when it waited SECONDS for a slot."""
    reply = server().run({"op": "search", "regex": pattern, "flags": int(flags), "texts": list(texts)},
                         seconds * 4, SEARCH_MEMORY, cpu=seconds, wait=seconds)
    hits = reply.get("hits")
    if not isinstance(hits, list) or any(type(i) is not int or not 0 <= i < len(texts) for i in hits):
        raise JobFailed(nonsense())
    return hits


_SERVER = ForkServer()
atexit.register(_SERVER.stop)


def server() -> ForkServer:
    """This process's fork server."""
    return _SERVER


def nobody() -> tuple[int, int]:
    try:
        import pwd
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except (ImportError, KeyError):
        return 65534, 65534


def isolation() -> dict:
    """What the sandbox holds on this host: its user, environment and which escapes failed."""
    reply = _SERVER.run({"op": "selftest"}, 5.0)
    return dict(_SERVER.info, **reply)


def shutdown() -> None:
    """Stop this process's sandbox (it starts again when a filter needs it)."""
    _SERVER.stop()
