"""The progress store keeps each learner's steps, and a pass stays a pass; seats and
workshops. Here on SQLite; the tests that take `database` run on PostgreSQL too
(tests/integration/test_store_postgres.py imports them with its own `database`)."""
import threading
import time

import pytest
import sqlalchemy as sa

from labapp.store import Store, StoreError


@pytest.fixture
def database(tmp_path):
    """A new, empty database: its path (or URL), which Store() opens again after a restart."""
    return str(tmp_path / "labapp.db")


def test_progress_is_per_learner_and_lesson(database):
    store = Store(database)
    store.record("ann", "overlay", "swarm", "passed")
    store.record("ann", "overlay", "overlay", "failed")
    store.record("bob", "overlay", "swarm", "failed")
    assert store.progress("ann", "overlay") == {"swarm": "passed", "overlay": "failed"}
    assert store.progress("bob", "overlay") == {"swarm": "failed"}
    assert store.progress("ann", "other") == {}


def test_a_pass_is_not_undone_and_a_failure_can_turn_into_a_pass(database):
    store = Store(database)
    store.record("ann", "l", "s", "passed")
    store.record("ann", "l", "s", "failed")
    store.record("ann", "l", "t", "failed")
    store.record("ann", "l", "t", "passed")
    store.close()
    assert Store(database).progress("ann", "l") == {"s": "passed", "t": "passed"}  # survives a restart


def test_any_sqlalchemy_url_works_and_attempts_are_kept(tmp_path):
    url = f"sqlite:///{tmp_path / 'by-url.db'}"
    store = Store(url)
    store.record("ann", "l", "s", "failed", ["network test-net", "ping"])
    store.record("ann", "l", "s", "passed")
    assert store.progress("ann", "l") == {"s": "passed"}
    tries = store.attempts(["ann"])
    assert [(t["passed"], t["failed_checks"]) for t in tries] == [(False, "network test-net\nping"), (True, "")]
    assert Store(":memory:").progress("ann", "l") == {}


def test_the_same_attempt_again_is_counted_on_one_row(database):
    """A learner pressing Check a thousand times with nothing changed adds one row (the
    roster and the room read every row at each redraw): the times are counted on it."""
    store = Store(database)
    for _ in range(1000):
        store.record("ann", "l", "s", "failed", ["ping"], {"ping": "ping: bad address 'my-nginx'"})
    store.record("ann", "l", "s", "failed", ["ping"], {"ping": "ping: timed out"})  # told something else
    store.record("ann", "l", "s", "failed", ["ping"], {"ping": "ping: bad address 'my-nginx'"})  # not merged with the first
    store.record("ann", "l", "t", "failed", ["ping"], {"ping": "ping: timed out"})  # another step
    store.record("bob", "l", "s", "failed", ["ping"], {"ping": "ping: timed out"})  # another learner
    store.record("ann", "l", "s", "passed")
    store.record("ann", "l", "s", "passed")
    tries = store.attempts(["ann"])
    assert [(t["step"], t["passed"], str(t["reasons"].get("ping")), t["repeats"]) for t in tries] == [
        ("s", False, "ping: bad address 'my-nginx'", 1000), ("s", False, "ping: timed out", 1),
        ("s", False, "ping: bad address 'my-nginx'", 1), ("t", False, "ping: timed out", 1), ("s", True, "None", 2)]
    assert tries[0]["last_at"] >= tries[0]["at"] and tries[1]["last_at"] == tries[1]["at"]
    assert store.progress("ann", "l") == {"s": "passed", "t": "failed"}


def test_a_repeat_long_after_is_a_new_row(database, monkeypatch):
    """Repeats are merged within REPEAT_WINDOW only: a learner who failed a step self-paced,
    then joins a workshop and fails it the same way, has the workshop's failures on a row of
    their own (the room counts what was made after the join)."""
    import labapp.store as store_module

    clock = [1000.0]
    monkeypatch.setattr(store_module.time, "time", lambda: clock[0])
    store = Store(database)
    store.record("ann", "l", "s", "failed", ["ping"])
    clock[0] += store_module.REPEAT_WINDOW - 1
    store.record("ann", "l", "s", "failed", ["ping"])
    clock[0] += store_module.REPEAT_WINDOW + 1
    store.record("ann", "l", "s", "failed", ["ping"])
    assert [(t["at"], t["repeats"], t["last_at"]) for t in store.attempts(["ann"])] == [
        (1000.0, 2, 1000.0 + store_module.REPEAT_WINDOW - 1), (clock[0], 1, clock[0])]


def test_seats_remember_which_sandbox_a_learner_holds(database):
    store = Store(database)
    store.hold("ann", "sb1", "overlay")
    store.hold("bob", "sb2", "overlay")
    store.hold("ann", "sb3", "overlay")  # a new sandbox replaces the old one
    assert set(store.holdings()) == {"sb2", "sb3"}
    store.let_go("bob", "other")  # not bob's sandbox: nothing changes
    assert "sb2" in store.holdings()
    store.let_go("bob")
    assert set(store.holdings()) == {"sb3"}


@pytest.mark.parametrize("url,words", [
    ("nosuchdb://x/y", "cannot open the database nosuchdb://x/y"),
    ("postgresql+nosuchdriver://u:secret@h/db", "cannot open the database postgresql+nosuchdriver://u:***@h/db"),
])
def test_a_bad_database_url_says_what_to_fix(url, words):
    with pytest.raises(StoreError) as caught:
        Store(url)
    assert words in str(caught.value) and "LABAPP_DATABASE_URL" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_a_check_of_a_step_already_passed_keeps_when_it_was_passed(database):
    """The roster's time on a step counts from the last step passed: checking an earlier,
    passed step again (and failing it) must not move that time (the red team hid from the
    stuck mark so)."""
    store = Store(database)
    store.record("ann", "lesson", "one", "passed")
    [first] = [r for r in store.all_progress(["ann"]) if r["step"] == "one"]
    time.sleep(0.05)
    store.record("ann", "lesson", "one", "failed", ["network x"])
    store.record("ann", "lesson", "one", "passed")
    [again] = [r for r in store.all_progress(["ann"]) if r["step"] == "one"]
    assert again["status"] == "passed" and again["updated"] == first["updated"]
    assert len(store.attempts(["ann"])) == 3  # every attempt is still kept


def test_two_checks_of_a_step_at_once_both_count(database):
    """Two checks of one step ending together (two threads, or two instances on one database):
    both read no row for the step, one inserts it first, the other's insert fails on the key
    and its record is made again, as an update. Nothing is lost: a pass stays a pass whichever
    came first, and both attempts are kept."""
    store = Store(database)
    both_read, inserts, lock = threading.Barrier(2, timeout=10), [], threading.Lock()

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO PROGRESS"):
            with lock:
                inserts.append(statement)
            both_read.wait()  # each has read that there is no row yet
    sa.event.listen(store.engine, "before_cursor_execute", before)
    tries, record = [], store._record
    store._record = lambda *args: tries.append(args) or record(*args)
    errors = []

    def check(status):
        try:
            store.record("ann", "l", "s", status, [] if status == "passed" else ["ping"])
        except Exception as exc:  # reported below
            errors.append(exc)
    threads = [threading.Thread(target=check, args=(status,)) for status in ("passed", "failed")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(inserts) == 2
    assert len(tries) == 3  # one of the two was made again after its insert failed
    assert store.progress("ann", "l") == {"s": "passed"}
    assert sorted(t["passed"] for t in store.attempts(["ann"])) == [False, True]


def _workshop(store, wid="w1", capacity=2):
    store.add_workshop(id=wid, code=f"code-{wid}", title="Overlay day", lessons="overlay\nrouting",
                       capacity=capacity, starts=time.time(), minutes=90, created=time.time())


def test_joining_a_workshop_names_capacity_and_coming_back(database):
    store = Store(database)
    _workshop(store, capacity=2)
    assert store.workshop(code="code-w1")["lessons"] == "overlay\nrouting"
    assert store.join("w1", "ann", "Ann", 2) == "joined"
    assert store.join("w1", "bob", "ANN", 2) == "name:Ann"  # the default clash: case aside
    assert store.join("w1", "bob", "ANN", 2, clash=lambda one, other: one == other) == "joined"
    assert store.join("w1", "cid", "Cid", 2) == "full"
    assert store.join("w1", "ann", "Annie", 2) == "joined"  # back, renamed: no new seat taken
    assert [(p["learner"], p["name"]) for p in store.participants("w1")] == [("ann", "Annie"), ("bob", "ANN")]
    assert store.learners_workshop("ann")["id"] == "w1" and store.learners_workshop("cid") is None
    store.leave("w1", "bob", time.time())
    assert store.learners_workshop("bob") is None
    assert store.join("w1", "dan", "ann", 2) == "name:ANN"  # who left keeps their name
    assert store.join("w1", "cid", "Cid", 2) == "joined"  # and frees their seat
    assert store.join("w1", "bob", "ANN", 2) == "joined"  # coming back is never 'full'
    assert [p["left"] for p in store.participants("w1")] == [None, None, None]
    store.end_workshop("w1", time.time())
    assert store.learners_workshop("ann") is None and store.workshop("w1")["ended"] is not None


def test_a_removed_learner_cannot_join_again_and_frees_seat_and_name(database):
    store = Store(database)
    _workshop(store, capacity=1)
    _workshop(store, "w2", capacity=1)
    assert store.join("w1", "ann", "Ann", 1) == "joined"
    assert store.remove("w1", "bob", time.time()) is None  # not in it
    assert store.remove("w1", "ann", time.time())["name"] == "Ann"
    assert store.participants("w1") == []
    assert store.join("w1", "ann", "Ann", 1) == "removed"
    assert store.join("w1", "bob", "ann", 1) == "joined"  # her seat and her name are free
    assert store.join("w2", "ann", "Ann", 1) == "joined"  # removed from one workshop only
    assert [w["id"] for w in store.workshops()] == ["w2", "w1"]  # newest first
