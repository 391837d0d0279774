"""Progress that outlives a request: which steps a learner has passed (SQLite)."""
from __future__ import annotations

import os
import sqlite3
import threading
import time

_SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (
    learner TEXT NOT NULL,
    lesson TEXT NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (learner, lesson, step)
);
"""


class Store:
    """A small progress store; one SQLite file, safe to use from several threads."""

    def __init__(self, path: str):
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)

    def progress(self, learner: str, lesson: str) -> dict[str, str]:
        """{step id: status} for LEARNER in LESSON."""
        with self._lock:
            rows = self._db.execute("SELECT step, status FROM progress WHERE learner = ? AND lesson = ?",
                                    (learner, lesson)).fetchall()
        return dict(rows)

    def record(self, learner: str, lesson: str, step: str, status: str) -> None:
        """Remember STATUS ('passed' or 'failed') for a step; a pass is never undone by a
        later failure (a learner who broke the swarm afterwards still did the step)."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO progress (learner, lesson, step, status, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (learner, lesson, step) DO UPDATE SET "
                "status = CASE WHEN progress.status = 'passed' THEN 'passed' ELSE excluded.status END, "
                "updated = excluded.updated",
                (learner, lesson, step, status, time.time()))

    def close(self) -> None:
        with self._lock:
            self._db.close()
