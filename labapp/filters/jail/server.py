"""The sandbox's program: a fork server, started once per app process with an empty
environment, that forks one child per job; the child limits itself (rlimits, an alarm, a
seccomp allow-list of system calls on x86_64), then computes its job and replies.

Run as `python -I -S -B server.py --sandbox-server JQDIR USER` (labapp/filters/sandbox.py
starts it), so it and its siblings import only the standard library."""
from __future__ import annotations

import json
import os
import re
import socket
import struct
import sys
import time

if __package__:
    from . import frames, grepmatch, jqrun, sortorder
else:  # the sandbox's program: its sibling files, after the standard library
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))
    import frames
    import grepmatch
    import jqrun
    import sortorder

_SECCOMP_X86_64 = {
    # I/O on the job's socket, memory, signals, time, exit: what Python and libjq need to compute.
    "read": 0, "write": 1, "close": 3, "fstat": 5, "lseek": 8, "mmap": 9, "mprotect": 10,
    "munmap": 11, "brk": 12, "rt_sigaction": 13, "rt_sigprocmask": 14, "rt_sigreturn": 15,
    "writev": 20, "sched_yield": 24, "mremap": 25, "madvise": 28, "getpid": 39,
    "sendto": 44, "recvfrom": 45, "shutdown": 48, "exit": 60,
    "fcntl": 72, "gettimeofday": 96, "getrusage": 98, "getuid": 102, "getgid": 104,
    "geteuid": 107, "getegid": 108, "getppid": 110, "sigaltstack": 131, "gettid": 186,
    "time": 201, "futex": 202, "clock_gettime": 228, "clock_getres": 229, "clock_nanosleep": 230,
    "exit_group": 231, "newfstatat": 262, "getrandom": 318, "rseq": 334,
}


class _Seccomp:
    """The BPF program, built once in the fork server; each child adds its pid and loads it."""

    def __init__(self) -> None:
        import ctypes
        self.ctypes = ctypes
        machine = os.uname().machine
        self.why_not = None if machine == "x86_64" else \
            f"off (the allow-list is written for x86_64, this is {machine})"
        ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
        allow, errno, kill = 0x7FFF0000, 0x00050000 | 1, 0x80000000
        code: list = []                               # (op, jt, jf, k); labels patched below
        code.append((ld, 0, 0, 4))                    # arch
        code.append((jeq, 1, 0, 0xC000003E))          # AUDIT_ARCH_X86_64
        code.append((ret, 0, 0, kill))
        code.append((ld, 0, 0, 0))                    # syscall number
        code.append((0x35, "ERR", 0, 0x40000000))     # x32 ABI: refuse
        code.append((jeq, "TGKILL", 0, 234))          # tgkill only at itself (abort)
        code.append((jeq, "MAP", 0, 9))               # mmap/mprotect without PROT_EXEC
        code.append((jeq, "MAP", 0, 10))
        for number in sorted(set(_SECCOMP_X86_64.values()) - {9, 10}):
            code.append((jeq, "OK", 0, number))
        code.append((ret, 0, 0, errno))               # everything else: EPERM
        labels = {"TGKILL": len(code)}                # (BPF jumps only forward: blocks, then returns)
        code.append((ld, 0, 0, 16))                   # args[0]: the thread group
        self.pid_at = len(code)
        code.append((jeq, "OK", "ERR", 0))            # k: the child's pid, set per child
        labels["MAP"] = len(code)
        code.append((ld, 0, 0, 32))                   # args[2]: prot
        code.append((jset, "ERR", "OK", 4))           # PROT_EXEC
        labels["ERR"] = len(code)
        code.append((ret, 0, 0, errno))
        labels["OK"] = len(code)
        code.append((ret, 0, 0, allow))
        self.code = []
        for index, (op, jt, jf, k) in enumerate(code):
            jt = labels[jt] - index - 1 if isinstance(jt, str) else jt
            jf = labels[jf] - index - 1 if isinstance(jf, str) else jf
            self.code.append((op, jt, jf, k))

        class Fprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

        self.Fprog = Fprog
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                                    ctypes.c_ulong]

    def load(self, pid: int) -> str:
        """Allow only the system calls in _SECCOMP_X86_64 (EPERM for the rest): 'on' or why not."""
        if self.why_not:
            return self.why_not
        code = list(self.code)
        op, jt, jf, _ = code[self.pid_at]
        code[self.pid_at] = (op, jt, jf, pid)
        packed = b"".join(struct.pack("HBBI", *ins) for ins in code)
        prog = self.Fprog(len(code), packed)
        if self.libc.prctl(38, 1, None, 0, 0) != 0:   # PR_SET_NO_NEW_PRIVS
            return f"off (no_new_privs: errno {self.ctypes.get_errno()})"
        if self.libc.prctl(22, 2, self.ctypes.addressof(prog), 0, 0) != 0:   # PR_SET_SECCOMP
            return f"off (seccomp: errno {self.ctypes.get_errno()})"
        return "on"


def _selftest() -> dict:
    """Try what a job must not be able to do; report what happened (for tests and doctor)."""
    results = {}

    def attempt(name, action):
        try:
            action()
            results[name] = "allowed"
        except Exception as exc:  # each escape is expected to fail; say how
            results[name] = f"blocked ({type(exc).__name__}: {exc})"[:200]

    attempt("read /etc/passwd", lambda: open("/etc/passwd", "rb").read(1))
    attempt("list the working directory", lambda: os.listdir("."))
    attempt("write a file", lambda: open("selftest", "wb").write(b"x"))
    attempt("run a program", lambda: os.execv("/bin/true", ["true"]))
    attempt("start a process", lambda: os._exit(0) if os.fork() == 0 else None)
    attempt("open a socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    attempt("signal the parent", lambda: os.kill(os.getppid(), 0))
    results["environment"] = dict(os.environ)
    results["uid"] = os.getuid()
    return results


def _child(fd: int, limits: dict, seccomp: _Seccomp) -> None:
    """A forked child: limit itself, lock itself in, then answer its job (or its batches)."""
    import resource
    import signal
    seconds = max(1, int(float(limits["seconds"]) + 0.999))
    cpu = max(1, int(float(limits.get("cpu", seconds)) + 0.999))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)   # the alarm kills; no handler can delay it
    signal.alarm(seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (int(limits["memory"]), int(limits["memory"])))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (fd + 1, fd + 1))
    sock = socket.socket(fileno=fd)
    state = seccomp.load(os.getpid())
    try:
        job = frames.receive(sock)
        op = job.get("op")
        if op == "grep-session":
            _grep_session(sock, job, seconds, int(limits.get("idle", 300)))
            return
        if op == "jq":
            reply = jqrun.answer(job)
        elif op == "grep":
            reply = grepmatch.answer(job)
        elif op == "sort":
            reply = sortorder.answer(job)
        elif op == "search":
            reply = _search(job)
        elif op == "selftest":
            reply = dict(_selftest(), seccomp=state)
        elif op == "ping":
            reply = {"pong": True, "seccomp": state}
        else:
            reply = {"failed": "job", "job": repr(op)}
    except EOFError:
        return
    except MemoryError:
        reply = {"failed": "memory", "mib": int(limits["memory"]) >> 20}
    except RecursionError:
        reply = {"failed": "nested"}
    except Exception as exc:  # reported to the learner as the filter's failure
        reply = {"failed": "error", "error": f"{type(exc).__name__}: {exc}"[:492]}
    try:
        reply["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        frames.send(sock, reply)
    except (OSError, MemoryError):
        pass
    sock.close()


def _search(job: dict) -> dict:
    """Which of the job's texts a lesson's pattern matches (their indexes). Here, not in the
    app: the texts are a learner's output, and a backtracking pattern over a crafted output
    can take hours (the child's alarm ends it)."""
    rx = re.compile(job["regex"], int(job["flags"]))
    return {"hits": [index for index, text in enumerate(job["texts"]) if rx.search(text)]}


def _grep_session(sock: socket.socket, header: dict, seconds: int, idle: int) -> None:
    """Batches of lines for one grep: the alarm waits IDLE between batches, SECONDS in one."""
    import signal
    rx = re.compile(header["regex"], header["flags"])
    while True:
        signal.alarm(idle)
        try:
            batch = frames.receive(sock)
        except EOFError:
            return
        signal.alarm(seconds)
        started = time.monotonic()
        try:
            reply = grepmatch.answer(dict(header, lines=batch["lines"]), rx)
        except MemoryError:
            reply = {"failed": "batch-memory"}
        reply["seconds"] = time.monotonic() - started
        signal.alarm(0)
        frames.send(sock, reply)


def _serve(jq_dir: str, user: str) -> None:
    """The fork server: a clean process that forks one child per job it is handed."""
    import resource
    import signal
    import traceback
    os.environ.clear()              # Python may have set LC_CTYPE while starting
    sys.path.insert(0, jq_dir)
    import jq  # noqa: F401  (loaded once, shared by every child)
    seccomp = _Seccomp()
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    seccomp.libc.prctl(4, 0, None, 0, 0)   # PR_SET_DUMPABLE 0: no ptrace, no core dump
    if user != "-":                 # the app is root: become nobody, with no groups
        uid, gid = (int(x) for x in user.split(":"))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    ctrl = socket.socket(fileno=0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the kernel
    ctrl.send(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                          "cwd": os.getcwd(), "environment": dict(os.environ)}).encode())
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 4096, 4)
        except InterruptedError:
            continue
        if not msg:
            return
        if not fds:
            continue
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                ctrl.close()
                for extra in fds[1:]:
                    os.close(extra)
                _child(fds[0], json.loads(msg), seccomp)
            except BaseException:   # stderr is /dev/null unless someone debugs the sandbox
                traceback.print_exc()
                status = 1
            finally:
                os._exit(status)
        for fd in fds:
            os.close(fd)


if __name__ == "__main__" and sys.argv[1:2] == ["--sandbox-server"]:
    _serve(sys.argv[2], sys.argv[3])
