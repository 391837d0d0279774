"""Debian's Redis and PostgreSQL for the tests of instances sharing them (scripts/ensure-cluster.sh
installs both): each server is started here on a free loopback port, in a directory of its own,
waited for, and at the end stopped and removed with that directory, whatever the test did.
A server is started through `setpriv --pdeathsig`, so that it ends with the process that started
it even when that process is killed (a pytest-xdist worker that crashed leaves no server behind).

PostgreSQL refuses to run as root: run as root (make test, CI), initdb and the server run as the
`postgres` user the package makes (`nobody` where there is none), and its directory is a new one
in the system's temporary directory (pytest's own is root's alone, closed to that user)."""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

READY_TIMEOUT = 30  # seconds a server has to answer
DATABASE = "labapp"  # the database postgres_server makes, and its superuser's name
PORT_TRIES = 3  # another process can take a free port between our look and the server's bind


class ServerMissing(RuntimeError):
    """The server's binaries are not installed."""


class ServerError(RuntimeError):
    """A server did not start or did not answer in time (the message ends with its log)."""


def redis_binary() -> str | None:
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    return found if os.access(found, os.X_OK) else None


def postgres_bindir() -> str | None:
    """/usr/lib/postgresql/<version>/bin of the newest PostgreSQL installed, or None."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path):
        number = path.split("/")[-3]
        return tuple(int(p) if p.isdigit() else 0 for p in number.split("."))
    return os.path.dirname(max(found, key=version)) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path, size=3000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - size))
            return f.read().decode(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"


def _command(argv, user: pwd.struct_passwd | None, deathsig: str) -> tuple[list[str], dict]:
    """(argv, Popen's keywords) to run ARGV as USER (None: as we are), sent DEATHSIG when the
    process that started it ends."""
    if not shutil.which("setpriv"):  # util-linux, in every Debian; elsewhere without the signal
        return list(argv), ({} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []})
    prefix = ["setpriv", "--pdeathsig", deathsig]
    if user is not None:
        prefix += [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
    return [*prefix, "--", *argv], {}


def _stop(proc, signum, grace=15) -> None:
    """Stop PROC with SIGNUM, then SIGKILL if it has not ended within GRACE seconds."""
    if proc.poll() is None:
        proc.send_signal(signum)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _start(what, argv_for, ready, log, stop_signal):
    """Start ARGV_FOR(port) on a free port, its output to LOG, until READY(proc, port) within
    READY_TIMEOUT; another port when the one picked was taken meanwhile. (proc, port)."""
    for attempt in range(PORT_TRIES):
        port = free_port()
        argv, how = argv_for(port)
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, **how)
        deadline = time.monotonic() + READY_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if ready(proc, port):
                    return proc, port
            except OSError:
                pass
            time.sleep(0.1)
        exited = proc.poll()
        _stop(proc, stop_signal)
        if exited is not None and "already in use" in log_tail(log) and attempt + 1 < PORT_TRIES:
            continue
        how = f"exited with {exited}" if exited is not None else f"did not answer within {READY_TIMEOUT} s"
        raise ServerError(f"{what} on 127.0.0.1:{port} {how}; the end of its log ({log}):\n{log_tail(log)}")


# --- Redis ----------------------------------------------------------------------------------

def _redis_is(proc, port) -> bool:
    """True when the Redis on PORT answers, and is PROC (not another one on a port reused)."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.settimeout(2)
        s.sendall(b"INFO server\r\n")
        data = b""
        while not (found := re.search(rb"\r\nprocess_id:(\d+)\r\n", data)):
            chunk = s.recv(65536)
            if not chunk:
                return False
            data += chunk
    return int(found.group(1)) == proc.pid


@contextlib.contextmanager
def redis_server(tmpdir):
    """Yield redis://127.0.0.1:PORT/0 of a new redis-server (no persistence, its directory in
    TMPDIR); stopped and its directory removed on exit."""
    binary = redis_binary()
    if binary is None:
        raise ServerMissing("redis-server is not installed (scripts/ensure-cluster.sh installs it)")
    directory = tempfile.mkdtemp(prefix="redis-", dir=tmpdir)
    proc = None
    try:
        proc, port = _start(
            "redis-server",
            lambda port: _command([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", directory, "--daemonize", "no"],
                                  None, "TERM"),
            _redis_is, os.path.join(directory, "redis.log"), signal.SIGTERM)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        if proc is not None:
            _stop(proc, signal.SIGTERM)
        shutil.rmtree(directory, ignore_errors=True)


# --- PostgreSQL -----------------------------------------------------------------------------

def _postgres_user() -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    raise ServerError("PostgreSQL cannot run as root, and there is neither a postgres nor a nobody user")


def _postgres_is(data):
    """READY for _start: PROC's postmaster.pid (in DATA) says it is ready on PORT."""
    def ready(proc, port):
        with open(os.path.join(data, "postmaster.pid")) as f:
            lines = f.read().splitlines()
        return (len(lines) >= 8 and lines[0].strip() == str(proc.pid) and lines[3].strip() == str(port)
                and lines[7].strip() == "ready")
    return ready


@contextlib.contextmanager
def postgres_server(tmpdir):
    """Yield postgresql+psycopg://labapp@127.0.0.1:PORT/labapp of a new PostgreSQL cluster (initdb,
    trust authentication, listening on 127.0.0.1 only, its Unix socket in its own directory),
    with the database `labapp` made; stopped and its directory removed on exit. The directory
    is in TMPDIR, or in the system's temporary directory when run as root (see the module)."""
    bindir = postgres_bindir()
    if bindir is None:
        raise ServerMissing("PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb "
                            "(scripts/ensure-cluster.sh installs it)")
    user = _postgres_user()
    directory = tempfile.mkdtemp(prefix="labapp-postgres-", dir=None if user is not None else tmpdir)
    data, log = os.path.join(directory, "data"), os.path.join(directory, "postgres.log")
    proc = None
    try:
        if user is not None:
            os.chown(directory, user.pw_uid, user.pw_gid)
        argv, how = _command([os.path.join(bindir, "initdb"), "-D", data, "-U", DATABASE, "--auth=trust",
                              "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], user, "KILL")
        made = subprocess.run(argv, cwd=directory, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120, **how)
        if made.returncode != 0:
            raise ServerError(f"initdb failed ({made.returncode}):\n{(made.stdout + made.stderr)[-3000:]}")
        proc, port = _start(
            "postgres",
            lambda port: _command([os.path.join(bindir, "postgres"), "-D", data, "-p", str(port), "-k", directory,
                                   "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                   "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                                   "-c", "shared_buffers=32MB"], user, "QUIT"),
            _postgres_is(data), log, signal.SIGINT)  # SIGINT: a fast shutdown, clients cut off
        created = subprocess.run([os.path.join(bindir, "createdb"), "-h", "127.0.0.1", "-p", str(port),
                                  "-U", DATABASE, DATABASE],
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        if created.returncode != 0:
            raise ServerError(f"createdb {DATABASE} failed: {created.stderr.strip()}\n{log_tail(log)}")
        yield f"postgresql+psycopg://{DATABASE}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if proc is not None:
            _stop(proc, signal.SIGINT)
        shutil.rmtree(directory, ignore_errors=True)
