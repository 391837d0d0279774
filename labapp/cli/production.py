"""`labapp serve`'s production server: Gunicorn with one worker process of threads.

Flask-SocketIO stays in its threading mode; WebSockets are real (simple-websocket over
Gunicorn's socket). One worker process, always: the lab's seats, sandboxes, terminals and
Socket.IO rooms live in that process's memory. The arbiter (this process) restarts the
worker if it dies; the new one takes the sandboxes back (`Services.start`).

Gunicorn's threaded worker gives a thread to a connection as soon as it has a byte to read,
and that thread then blocks until the request's head has come: a client that sends its head
a byte at a time holds a thread for as long as it likes, and a few hundred such clients hold
them all (slowloris). `LabWorker` reads each request's head and body (up to `BODY_IN_LOOP`)
in the worker's event loop instead, without a thread, and hands a request to a thread only
when it is whole; a request not whole `REQUEST_SECONDS` after its first chance is dropped.
The threads (`--threads`) are bounded, so are the connections (`CONNECTIONS`) and the
WebSockets (each holds a thread while it is open: at most the threads less
`THREADS_KEPT_FOR_REQUESTS`, the rest are answered 503, so that pages and the API always
have threads). Idle kept-alive connections close after `KEEPALIVE_SECONDS`; a WebSocket
whose client stops answering Engine.IO's pings closes after 45 s (Flask-SocketIO's
ping_interval + ping_timeout).

Stopping: SIGTERM, SIGINT (Ctrl-C) and SIGQUIT all do the same, once: the worker stops
serving, destroys every sandbox it holds (`Services.shutdown`) and exits; the arbiter waits
for it (up to `STOP_SECONDS`) and exits too. A second signal does not cut the clean-up short.
"""
from __future__ import annotations

import os
import resource
import signal
import sys
import time
from dataclasses import dataclass
from functools import partial
from selectors import EVENT_READ

from gunicorn import http
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.gthread import ThreadWorker

REQUEST_SECONDS = 10.0  # from a request's first chance to be read to the whole of it
KEEPALIVE_SECONDS = 5  # an idle kept-alive connection closes after this
HEAD_MAX = 64 * 1024  # a request head larger than this gets 431
BODY_IN_LOOP = 1024 * 1024  # bodies up to this are read in the loop; larger go to the app (413)
CONNECTIONS = 1000  # open connections at once (the rest wait in the listen backlog)
THREADS = 256  # request threads; each open WebSocket holds one
THREADS_KEPT_FOR_REQUESTS = 32  # never taken by WebSockets
STOP_SECONDS = 60  # the longest the arbiter waits for the worker's clean-up before SIGKILL


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 5000
    threads: int = THREADS

    @property
    def websockets(self) -> int:
        """The most WebSockets open at once."""
        return max(1, self.threads - min(THREADS_KEPT_FOR_REQUESTS, self.threads // 2))


def _answer(sock, status: str, extra: str = "") -> None:
    """A short plain answer written straight to a non-blocking socket (best effort), then closed."""
    body = status.split(" ", 1)[1] + "\n"
    try:
        sock.send((f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                   f"Connection: close\r\n{extra}\r\n{body}").encode())
    except OSError:
        pass


def _head_facts(head: bytes) -> tuple[int | None, bool, bool]:
    """(Content-Length or None, chunked, a WebSocket upgrade) from a request head."""
    length, chunked, upgrade = None, False, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value) if value.isdigit() else -1
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"upgrade" and value == b"websocket":
            upgrade = True
    return length, chunked, upgrade


class LabWorker(ThreadWorker):
    """Gunicorn's threaded worker; requests read whole in the event loop, WebSockets capped,
    and one clean stop that destroys the sandboxes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading: dict = {}  # connection -> deadline, in the order they started
        self.websockets = 0
        self.max_websockets = getattr(self.app, "options", ServeOptions()).websockets
        self.stopping = False

    # --- one clean stop -----------------------------------------------------------------

    def init_signals(self):
        super().init_signals()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, self.handle_stop)

    def handle_stop(self, sig, frame):
        if self.stopping:
            return  # the clean-up is under way: let it finish
        self.stopping = True
        self.alive = False
        raise SystemExit(0)

    handle_exit = handle_quit = handle_stop

    def init_process(self):
        _die_with_parent(self.ppid)
        code = 0
        try:
            super().init_process()
        except SystemExit:
            pass
        except BaseException as exc:  # noqa: BLE001 - said, then the arbiter decides
            from ..errors import LabappError

            if isinstance(exc, LabappError):
                print(f"labapp: error: {exc}", file=sys.stderr)
            else:
                import traceback

                traceback.print_exc()
            code = 1 if self.booted else Arbiter.WORKER_BOOT_ERROR  # a boot error stops the arbiter
        finally:
            self.stopping = True
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for listener in self.sockets:
                listener.close()
            try:
                getattr(self.app, "close", lambda: None)()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                # Threads still serving WebSockets would hold the interpreter's exit.
                os._exit(code)

    # --- requests read whole in the loop ----------------------------------------------------

    def enqueue_req(self, conn):
        """Every way a request reaches the threads passes here (a new connection, a kept-alive
        one that became readable, bytes read ahead): read it whole first."""
        if getattr(conn, "whole", False):
            conn.whole = False
            super().enqueue_req(conn)
            return
        seed = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        conn.buffer = bytearray(seed or b"")
        conn.sock.setblocking(False)
        self.reading[conn] = time.monotonic() + REQUEST_SECONDS
        if not self._maybe_whole(conn):
            self.poller.register(conn.sock, EVENT_READ, partial(self._on_readable, conn))
            conn.registered = True

    def _on_readable(self, conn, _sock):
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        conn.buffer += data
        self._maybe_whole(conn)

    def _maybe_whole(self, conn) -> bool:
        """Hand CONN to a thread if its request is whole (or answer it here); True if done with it."""
        buf = conn.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > HEAD_MAX:
                _answer(conn.sock, "431 Request Header Fields Too Large")
                self._drop(conn)
                return True
            return False
        length, chunked, upgrade = _head_facts(bytes(buf[:end]))
        if chunked:
            _answer(conn.sock, "411 Length Required")  # no request of this app streams a body
            self._drop(conn)
            return True
        if length and 0 < length <= BODY_IN_LOOP and len(buf) < end + 4 + length:
            return False
        if upgrade:
            if self.websockets >= self.max_websockets:
                _answer(conn.sock, "503 Service Unavailable", "Retry-After: 10\r\n")
                self._drop(conn)
                return True
            self.websockets += 1
            conn.websocket = True
        self._stop_reading(conn)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(buf))
        conn.buffer = None
        conn.data_ready = True
        conn.whole = True
        self.enqueue_req(conn)
        return True

    def _stop_reading(self, conn) -> None:
        self.reading.pop(conn, None)
        if getattr(conn, "registered", False):
            conn.registered = False
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass

    def _drop(self, conn) -> None:
        self._stop_reading(conn)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        """Each turn of the loop: drop the requests that are not whole in time."""
        super().murder_pending()
        now = time.monotonic()
        for conn, deadline in list(self.reading.items()):
            if deadline > now:
                break
            _answer(conn.sock, "408 Request Timeout")
            self._drop(conn)

    def finish_request(self, conn, fs):
        if getattr(conn, "websocket", False):
            conn.websocket = False
            self.websockets -= 1
        super().finish_request(conn, fs)


def _die_with_parent(parent: int) -> None:
    """SIGKILL to `labapp serve` (a host losing power, a test's kill) takes the worker with it,
    clean-up and all, as it would a single process: the next start takes the sandboxes back.
    Without this the orphaned worker would serve on until it noticed, then clean up."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the arbiter died before prctl took
        os._exit(1)


class LabArbiter(Arbiter):
    def stop(self, graceful=True):
        """Whatever the signal, the worker gets the time to destroy its sandboxes."""
        super().stop(graceful=False)


class Production(BaseApplication):
    """The app as Gunicorn serves it: built in the worker, once it has forked."""

    def __init__(self, make_app, options: ServeOptions, close=None):
        self.make_app = make_app
        self.options = options
        self.closer = close
        self.services = None
        super().__init__()

    def load_config(self):
        o = self.options
        settings = {
            "bind": [f"[{o.host}]:{o.port}" if ":" in o.host else f"{o.host}:{o.port}"],
            "workers": 1,  # the lab's state is in this process's memory: never more than one
            "worker_class": f"{__name__}.LabWorker",
            "threads": o.threads,
            "worker_connections": CONNECTIONS,
            "keepalive": KEEPALIVE_SECONDS,
            "timeout": 120,  # the worker's heartbeat (its loop, not a request)
            "graceful_timeout": STOP_SECONDS,
            "max_requests": 0,
            "preload_app": False,
            # X-Forwarded-* are believed only through the app's ProxyFix (LABAPP_TRUSTED_PROXIES),
            # never by Gunicorn itself (it would trust them from 127.0.0.1 by default).
            "forwarded_allow_ips": "",
            "secure_scheme_headers": {},
            "proxy_allow_ips": "",
            "control_socket_disable": True,
            "errorlog": "-",
            "loglevel": "warning",
            "accesslog": None,
            "proc_name": "labapp",
        }
        for key, value in settings.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        raise_open_files()
        app, services = self.make_app()
        self.services = services
        return app

    def close(self):
        """In the worker, on its way out: no sandbox outlives it."""
        if self.closer is not None and self.services is not None:
            self.closer(self.services)

    def run(self):
        try:
            LabArbiter(self).run()
        except RuntimeError as exc:
            print(f"labapp: error: {exc}", file=sys.stderr)
            sys.exit(1)


def raise_open_files(want: int = 65536) -> None:
    """Each connection is a file descriptor: lift the soft limit (often 1024) toward the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass


def proxy_networks(text: str) -> tuple:
    """--proxy-from: comma-separated addresses or networks (CIDR) of the proxy."""
    import ipaddress

    from ..errors import LabappError

    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part.strip("[]"), strict=False))
        except ValueError:
            raise LabappError(f"--proxy-from: {part!r} is not an address or a network (like 10.0.0.5 "
                              "or 10.0.0.0/24)") from None
    if not networks:
        raise LabappError("--proxy-from: name at least one address (the proxy's)")
    return tuple(networks)


FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
             "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


def forwarded_only_from(wsgi_app, networks):
    """WSGI middleware, outside ProxyFix: a request's X-Forwarded-* (and Forwarded) headers
    are dropped unless the peer (REMOTE_ADDR) is in NETWORKS, the proxy's. ProxyFix alone
    believes them from whoever reaches the port."""
    import ipaddress

    def peer_is_proxy(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.split("%", 1)[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in networks)

    def guarded(environ, start_response):
        if not peer_is_proxy(environ.get("REMOTE_ADDR") or ""):
            for key in FORWARDED:
                environ.pop(key, None)
        return wsgi_app(environ, start_response)

    return guarded
