"""What outlives a request and a restart: learners' progress and check attempts, which
sandbox each learner holds, and workshops (their participants, and who was removed). SQLite
by default; any SQLAlchemy URL works (LABAPP_DATABASE_URL, e.g.
postgresql+psycopg://user@host/labapp with its driver installed).
"""
from __future__ import annotations

import json
import os
import time

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError

from .errors import LabappError
from .i18n import from_data, to_data

metadata = sa.MetaData()

progress = sa.Table(
    "progress", metadata,
    sa.Column("learner", sa.String(64), primary_key=True),
    sa.Column("lesson", sa.String(128), primary_key=True),
    sa.Column("step", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)
attempts = sa.Table(
    "attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("learner", sa.String(64), nullable=False, index=True),
    sa.Column("lesson", sa.String(128), nullable=False),
    sa.Column("step", sa.String(128), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("failed_checks", sa.Text, nullable=False, default=""),  # names, one per line
    sa.Column("at", sa.Float, nullable=False),
)
attempt_reasons = sa.Table(  # why an attempt's checks failed, as the learner was told (JSON)
    "attempt_reasons", metadata,
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("reasons", sa.Text, nullable=False),  # {check name: i18n.to_data(reason)}
)
SCHEMA_LOCK = 0x6C61626170  # PostgreSQL advisory lock key held while the tables are made ("labap")
REPEAT_WINDOW = 15 * 60  # seconds after an attempt in which the same one again is counted on its row
attempt_repeats = sa.Table(  # an attempt told the same again (same step, verdict and reasons): one row
    "attempt_repeats", metadata,
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("repeats", sa.Integer, nullable=False),  # the times it was made, the first included
    sa.Column("last_at", sa.Float, nullable=False),
)
seats = sa.Table(  # which sandbox a learner holds now: re-adopted after a restart
    "seats", metadata,
    sa.Column("learner", sa.String(64), primary_key=True),
    sa.Column("sandbox", sa.String(32), nullable=False, unique=True),
    sa.Column("lesson", sa.String(128), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)
workshops = sa.Table(
    "workshops", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("code", sa.String(16), nullable=False, unique=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("lessons", sa.Text, nullable=False),  # slugs, one per line
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("starts", sa.Float, nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("ended", sa.Float, nullable=True),
)
participants = sa.Table(
    "participants", metadata,
    sa.Column("workshop", sa.String(32), primary_key=True),
    sa.Column("learner", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("joined", sa.Float, nullable=False),
    sa.Column("left", sa.Float, nullable=True),
    sa.UniqueConstraint("workshop", "name", name="one_name_per_workshop"),
    sa.Index("participants_by_learner", "learner"),  # which workshop is this learner in?
)

removals = sa.Table(  # learners a trainer removed from a workshop: that browser cannot join it again
    "removals", metadata,
    sa.Column("workshop", sa.String(32), primary_key=True),
    sa.Column("learner", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)


def database_url(value: str) -> str:
    """A SQLAlchemy URL from VALUE: a URL stays; a file path becomes sqlite:///PATH."""
    if "://" in value:
        return value
    if value == ":memory:":
        return "sqlite://"
    os.makedirs(os.path.dirname(os.path.abspath(value)), exist_ok=True)
    return f"sqlite:///{os.path.abspath(value)}"


class StoreError(LabappError):
    """The database cannot be opened or used."""

    hint = "check LABAPP_DATABASE_URL (a SQLAlchemy URL, e.g. sqlite:////var/lib/labapp/labapp.db)"


class Store:
    """The app's tables behind one SQLAlchemy engine; safe to use from several threads."""

    def __init__(self, url_or_path: str):
        url = database_url(url_or_path)
        try:
            kwargs = {"connect_args": {"check_same_thread": False}} if url.startswith("sqlite") else {}
            if url == "sqlite://":
                kwargs["poolclass"] = sa.pool.StaticPool  # one in-memory database, not one per thread
            self.engine = sa.create_engine(url, **kwargs)
            if url.startswith("sqlite"):
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            with self.engine.begin() as db:
                if db.dialect.name == "postgresql":
                    # several instances starting at once on an empty database: one makes the
                    # tables, the others wait for it (else: UniqueViolation, an instance fails to start)
                    db.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
                metadata.create_all(db)
        except (ArgumentError, NoSuchModuleError, OperationalError, ImportError) as exc:
            raise StoreError(f"cannot open the database {_safe(url)}: {exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0]}") from None
        self.url = url

    # --- progress -----------------------------------------------------------------------

    def progress(self, learner: str, lesson: str) -> dict[str, str]:
        """{step id: status} for LEARNER in LESSON."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(progress.c.step, progress.c.status).where(
                progress.c.learner == learner, progress.c.lesson == lesson)).all()
        return {step: status for step, status in rows}

    def record(self, learner: str, lesson: str, step: str, status: str, failed_checks=(),
               reasons: dict | None = None) -> None:
        """Remember STATUS ('passed' or 'failed') for a step, and the attempt; a pass is never
        undone by a later failure (a learner who broke the swarm afterwards still did it).
        REASONS: {failed check: the reason the learner was told} (Messages kept as such)."""
        for attempt in range(2):
            try:
                return self._record(learner, lesson, step, status, failed_checks, reasons)
            except sa.exc.IntegrityError:  # a record of the same step at the same moment inserted first
                if attempt:
                    raise

    def _record(self, learner, lesson, step, status, failed_checks, reasons) -> None:
        now = time.time()
        with self.engine.begin() as db:
            old = db.execute(sa.select(progress.c.status).where(
                progress.c.learner == learner, progress.c.lesson == lesson, progress.c.step == step)).scalar()
            if old is None:
                db.execute(progress.insert().values(learner=learner, lesson=lesson, step=step,
                                                    status=status, updated=now))
            else:
                if old != "passed":  # a passed step keeps when it was passed (the roster's time on a step)
                    db.execute(progress.update().where(
                        progress.c.learner == learner, progress.c.lesson == lesson, progress.c.step == step
                    ).values(status=status, updated=now))
            names = "\n".join(failed_checks)
            said = json.dumps({name: to_data(reason) for name, reason in reasons.items()}) if reasons else None
            # The same attempt again (a learner pressing Check over and over: same verdict, same
            # reasons) is counted on the last one's row: the roster and the room read every row
            # at each redraw, and clicks must not make them slower.
            last = db.execute(sa.select(attempts.c.id, attempts.c.passed, attempts.c.failed_checks, attempts.c.at,
                                        attempt_reasons.c.reasons)
                              .select_from(attempts.outerjoin(attempt_reasons,
                                                              attempt_reasons.c.attempt == attempts.c.id))
                              .where(attempts.c.learner == learner, attempts.c.lesson == lesson,
                                     attempts.c.step == step)
                              .order_by(attempts.c.id.desc()).limit(1)).first()
            if (last is not None and bool(last.passed) == (status == "passed") and last.failed_checks == names
                    and last.reasons == said and now - last.at < REPEAT_WINDOW):
                again = db.execute(attempt_repeats.update().where(attempt_repeats.c.attempt == last.id)
                                   .values(repeats=attempt_repeats.c.repeats + 1, last_at=now))
                if again.rowcount == 0:
                    db.execute(attempt_repeats.insert().values(attempt=last.id, repeats=2, last_at=now))
                return
            made = db.execute(attempts.insert().values(learner=learner, lesson=lesson, step=step,
                                                       passed=status == "passed", failed_checks=names, at=now))
            if said is not None:
                db.execute(attempt_reasons.insert().values(attempt=made.inserted_primary_key[0], reasons=said))

    def attempts(self, learners) -> list[dict]:
        """Every check attempt of LEARNERS, oldest first; one made again and again the same is
        one entry, with `repeats` (the times, 1 or more) and `last_at` (the last time)."""
        learners = list(learners)
        if not learners:
            return []
        with self.engine.connect() as db:
            rows = db.execute(sa.select(attempts, attempt_reasons.c.reasons, attempt_repeats.c.repeats,
                                        attempt_repeats.c.last_at)
                              .select_from(attempts.outerjoin(attempt_reasons,
                                                              attempt_reasons.c.attempt == attempts.c.id)
                                           .outerjoin(attempt_repeats, attempt_repeats.c.attempt == attempts.c.id))
                              .where(attempts.c.learner.in_(learners))
                              .order_by(attempts.c.id)).mappings().all()
        found = []
        decoded: dict[str, dict] = {}  # the same reasons, read once
        for row in rows:
            entry = dict(row)
            text = entry.pop("reasons") or "{}"
            if text not in decoded:
                decoded[text] = {name: from_data(data) for name, data in json.loads(text).items()}
            entry["reasons"] = dict(decoded[text])
            entry["repeats"] = entry["repeats"] or 1
            entry["last_at"] = entry["last_at"] or entry["at"]
            found.append(entry)
        return found

    def all_progress(self, learners) -> list[dict]:
        learners = list(learners)
        if not learners:
            return []
        with self.engine.connect() as db:
            rows = db.execute(sa.select(progress).where(progress.c.learner.in_(learners))).mappings().all()
        return [dict(r) for r in rows]

    # --- seats: who holds which sandbox ---------------------------------------------------

    def hold(self, learner: str, sandbox: str, lesson: str) -> None:
        for attempt in range(2):  # several instances: another may record this learner's seat at the same moment
            try:
                with self.engine.begin() as db:
                    db.execute(seats.delete().where(sa.or_(seats.c.learner == learner, seats.c.sandbox == sandbox)))
                    db.execute(seats.insert().values(learner=learner, sandbox=sandbox, lesson=lesson,
                                                     created=time.time()))
                return
            except IntegrityError:
                if attempt:
                    raise

    def let_go(self, learner: str, sandbox: str | None = None) -> None:
        with self.engine.begin() as db:
            where = seats.c.learner == learner
            if sandbox is not None:
                where = sa.and_(where, seats.c.sandbox == sandbox)
            db.execute(seats.delete().where(where))

    def holdings(self) -> dict[str, dict]:
        """{sandbox id: {learner, lesson, created}} for every sandbox a learner holds."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(seats)).mappings().all()
        return {r["sandbox"]: {"learner": r["learner"], "lesson": r["lesson"], "created": r["created"]}
                for r in rows}

    # --- workshops and who is in them ------------------------------------------------------

    def add_workshop(self, **values) -> None:
        with self.engine.begin() as db:
            db.execute(workshops.insert().values(**values))

    def workshops(self) -> list[dict]:
        """Every workshop, newest first (rows as stored)."""
        with self.engine.connect() as db:
            return [dict(r) for r in db.execute(sa.select(workshops).order_by(workshops.c.created.desc()))
                    .mappings().all()]

    def workshop(self, wid: str | None = None, code: str | None = None) -> dict | None:
        """The workshop with id WID or join code CODE, or None."""
        where = workshops.c.id == wid if wid is not None else workshops.c.code == code
        with self.engine.connect() as db:
            row = db.execute(sa.select(workshops).where(where)).mappings().first()
        return dict(row) if row else None

    def end_workshop(self, wid: str, at: float) -> None:
        with self.engine.begin() as db:
            db.execute(workshops.update().where(workshops.c.id == wid).values(ended=at))

    def participants(self, wid: str) -> list[dict]:
        """The workshop's participants, in the order they joined."""
        with self.engine.connect() as db:
            return [dict(r) for r in db.execute(sa.select(participants).where(participants.c.workshop == wid)
                                                .order_by(participants.c.joined)).mappings().all()]

    def learners_workshop(self, learner: str) -> dict | None:
        """The open workshop LEARNER is in (the one joined last), or None."""
        with self.engine.connect() as db:
            row = db.execute(sa.select(workshops).join(
                participants, participants.c.workshop == workshops.c.id).where(
                participants.c.learner == learner, participants.c.left.is_(None),
                workshops.c.ended.is_(None)).order_by(participants.c.joined.desc())).mappings().first()
        return dict(row) if row else None

    def join(self, wid: str, learner: str, name: str, capacity: int,
             clash=lambda one, other: one.casefold() == other.casefold()) -> str:
        """Add LEARNER to the workshop as NAME, or welcome them back, in one transaction.
        Returns 'joined', or why not: 'removed' (the trainer removed them), 'name:<the name
        taken>' (one that CLASHes with NAME) or 'full'."""
        with self.engine.begin() as db:
            _lock_workshop(db, wid)
            if db.execute(sa.select(removals.c.at).where(removals.c.workshop == wid,
                                                         removals.c.learner == learner)).first() is not None:
                return "removed"
            rows = db.execute(sa.select(participants).where(participants.c.workshop == wid)).mappings().all()
            mine = next((r for r in rows if r["learner"] == learner), None)
            taken = next((r for r in rows if r["learner"] != learner and clash(r["name"], name)), None)
            if taken is not None:
                return f"name:{taken['name']}"
            present = [r for r in rows if r["left"] is None and r["learner"] != learner]
            if mine is None and len(present) >= capacity:
                return "full"
            if mine is None:
                db.execute(participants.insert().values(workshop=wid, learner=learner, name=name,
                                                        joined=time.time(), left=None))
            else:
                db.execute(participants.update().where(
                    participants.c.workshop == wid, participants.c.learner == learner).values(name=name, left=None))
        return "joined"

    def remove(self, wid: str, learner: str, at: float) -> dict | None:
        """Take LEARNER off the workshop (their seat and name are free again) and remember that
        they were removed, in one transaction; their row as it was, or None if not in it."""
        with self.engine.begin() as db:
            _lock_workshop(db, wid)
            row = db.execute(sa.select(participants).where(
                participants.c.workshop == wid, participants.c.learner == learner)).mappings().first()
            if row is None:
                return None
            db.execute(participants.delete().where(participants.c.workshop == wid, participants.c.learner == learner))
            db.execute(removals.delete().where(removals.c.workshop == wid, removals.c.learner == learner))
            db.execute(removals.insert().values(workshop=wid, learner=learner, name=row["name"], at=at))
        return dict(row)

    def leave(self, wid: str, learner: str, at: float) -> None:
        with self.engine.begin() as db:
            db.execute(participants.update().where(
                participants.c.workshop == wid, participants.c.learner == learner).values(left=at))

    def close(self) -> None:
        self.engine.dispose()


def _lock_workshop(db, wid: str) -> None:
    """Joins and removals of workshop WID one at a time, those of other instances of the app
    sharing the database too: its row is locked until the transaction ends (SELECT ... FOR
    UPDATE; SQLite has no such lock, and one instance's workshop lock is all it needs). Without
    it, two instances could both see the last seat (or a name) free and both take it."""
    db.execute(sa.select(workshops.c.id).where(workshops.c.id == wid).with_for_update())


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _safe(url: str) -> str:
    """URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
