"""Terminal sessions: one interactive command (docker attach, docker exec -it) per learner,
behind a pseudo-terminal on a node; keys in order, output and the end as events."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ..errors import LabappError
from ..i18n import msg, said
from ..runner import OnEvent
from ..sandbox.base import Sandbox, TtySession
from .errors import LabError
from .seats import Seats

TTY_MAX_INPUT = 8192  # characters one tty_input may carry (a paste)
MAX_PENDING = 1000  # keys that may wait for an earlier one before the session is out of step


@dataclass
class _Session:
    tty: TtySession
    next_seq: int = 0  # the sequence number of the next keys to write
    pending: dict[int, str] = field(default_factory=dict)  # keys that arrived before their turn
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False  # closed by the lab (the learner's Close, a reload, a reset)


class Terminals:
    def __init__(self, seats: Seats):
        self.seats = seats
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def open(self, learner: str, sandbox: Sandbox, node: str, line: str, argv, size, on_event: OnEvent) -> dict:
        """Start ARGV (the console LINE, as judged) on NODE behind a terminal of SIZE (cols,
        rows); its output comes as tty_output events and its end as one tty_exit event."""
        cols, rows = terminal_size(*size)
        with self._lock:
            current = self._sessions.get(learner)
            if current is not None:
                return {"allowed": False, "reason": msg("a terminal session is already open ({command} on {node}); "
                                                        "leave it first (exit, Ctrl-P Ctrl-Q, or Close)",
                                                        command=current.tty.command, node=current.tty.node)}
            session = self._sessions[learner] = _Session(sandbox.open_tty(node, argv, cols=cols, rows=rows))
        on_event({"type": "tty_open", "node": node, "command": line})
        threading.Thread(target=self._pump, args=(learner, session, node, line, on_event), daemon=True,
                         name=f"labapp-tty-{learner[:8]}").start()
        return {"allowed": True, "interactive": True}

    def _pump(self, learner: str, session: _Session, node: str, line: str, on_event: OnEvent) -> None:
        tty = session.tty
        try:
            while (text := tty.read()) is not None:
                on_event({"type": "tty_output", "data": text})
            exit_code, message = tty.outcome()
        except LabappError as exc:
            exit_code, message = None, said(exc)
        if exit_code is not None:  # how it ended, in the lab's words; None: the node's problem, as said
            message = msg("the session was closed") if session.closed \
                else msg("the session ended (exit {code})", code=exit_code)
        with self._lock:
            if self._sessions.get(learner) is session:
                del self._sessions[learner]
        on_event({"type": "tty_exit", "node": node, "command": line, "exit_code": exit_code, "message": message})

    def _session(self, learner: str) -> _Session:
        with self._lock:
            session = self._sessions.get(learner)
        if session is None:
            raise LabError(msg("no terminal session is open; type docker attach or docker exec -it in the console"))
        return session

    def input(self, learner: str, text, seq=None) -> None:
        """Type TEXT into the learner's terminal. Socket.IO may hand messages to different
        threads, so keys carry SEQ (0, 1, 2... per session) and are written in that order
        whatever order they arrive in."""
        if not isinstance(text, str) or not text or len(text) > TTY_MAX_INPUT:
            raise LabError(msg("terminal input must be text of 1 to {most} characters", most=TTY_MAX_INPUT))
        if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or seq < 0):
            raise LabError(msg("terminal input 'seq' is a whole number counting from 0"))
        session = self._session(learner)
        self.seats.get(learner).active = time.monotonic()
        with session.lock:
            if seq is None:
                session.tty.write(text)
                return
            if len(session.pending) > MAX_PENDING:
                raise LabError(msg("terminal input arrived out of step; close the terminal and open it again"))
            session.pending[seq] = text
            while session.next_seq in session.pending:
                session.tty.write(session.pending.pop(session.next_seq))
                session.next_seq += 1

    def resize(self, learner: str, cols, rows) -> None:
        size = terminal_size(cols, rows)  # a malformed size is said as such, session or not
        self._session(learner).tty.resize(*size)

    def close(self, learner: str) -> None:
        """End the learner's terminal session, if one is open (its pump reports the end)."""
        with self._lock:
            session = self._sessions.get(learner)
        if session is not None:
            session.closed = True
            session.tty.close()


def terminal_size(cols, rows) -> tuple[int, int]:
    if not (isinstance(cols, int) and isinstance(rows, int) and 2 <= cols <= 500 and 2 <= rows <= 200):
        raise LabError(msg("a terminal size is whole columns (2-500) and rows (2-200)"))
    return cols, rows
