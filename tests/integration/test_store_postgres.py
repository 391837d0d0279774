"""The store on a real PostgreSQL (Debian's, started by the `postgres_url` fixture), as several
instances of the app share it: the store's tests of tests/unit/test_store.py that take a
`database`, run here on PostgreSQL, and what only a database shared by instances shows."""
import threading

import pytest
import sqlalchemy as sa

from labapp.store import Store

from ..unit.test_store import (  # noqa: F401  (collected here, on PostgreSQL: `database` below)
    _workshop,
    test_a_check_of_a_step_already_passed_keeps_when_it_was_passed,
    test_a_pass_is_not_undone_and_a_failure_can_turn_into_a_pass,
    test_a_removed_learner_cannot_join_again_and_frees_seat_and_name,
    test_a_repeat_long_after_is_a_new_row,
    test_joining_a_workshop_names_capacity_and_coming_back,
    test_progress_is_per_learner_and_lesson,
    test_seats_remember_which_sandbox_a_learner_holds,
    test_the_same_attempt_again_is_counted_on_one_row,
    test_two_checks_of_a_step_at_once_both_count,
)


@pytest.fixture
def database(postgres_url):
    """The session's PostgreSQL database, emptied: each test starts with no tables."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as db:
        db.execute(sa.text("DROP SCHEMA public CASCADE"))
        db.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return postgres_url


def test_it_is_postgresql(database):
    store = Store(database)
    assert store.engine.dialect.name == "postgresql"
    with store.engine.connect() as db:
        assert db.execute(sa.text("SELECT current_database()")).scalar() == "labapp"
    store.close()


def test_instances_starting_at_once_on_an_empty_database_all_start(database):
    """Each Store makes the tables it lacks; several at once on an empty PostgreSQL raced
    (UniqueViolation on the catalog: an instance failed to start, 3 times in 3)."""
    stores, errors = [], []

    def start():
        try:
            stores.append(Store(database))
        except Exception as exc:  # noqa: BLE001 - what the test looks for
            errors.append(exc)
    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(stores) == 4
    stores[0].hold("l1", "sb1", "lesson")
    assert stores[3].holdings()["sb1"]["learner"] == "l1"
    for store in stores:
        store.close()


def test_two_instances_joining_the_last_seat_at_once_one_gets_it(database):
    """Two instances (two Stores) take the last seat of a workshop at the same moment: the
    second to look must see the first's seat taken ('full'), not both join. (One instance
    serialises its joins with a lock of its own; instances only through the database.)"""
    first, second = Store(database), Store(database)
    _workshop(first, capacity=1)
    first_read, second_read = threading.Event(), threading.Event()

    def before_insert(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO PARTICIPANTS"):
            first_read.set()
            second_read.wait(2)  # the second instance looks at the seats meanwhile, if it can

    def after_select(conn, cursor, statement, *args):
        if "FROM participants" in statement:
            second_read.set()
    sa.event.listen(first.engine, "before_cursor_execute", before_insert)
    sa.event.listen(second.engine, "after_cursor_execute", after_select)
    outcomes = {}
    ann = threading.Thread(target=lambda: outcomes.update(ann=first.join("w1", "ann", "Ann", 1)))
    ann.start()
    assert first_read.wait(10)
    outcomes["bob"] = second.join("w1", "bob", "Bob", 1)
    ann.join(10)
    assert sorted(outcomes.values()) == ["full", "joined"], outcomes
    assert [p["learner"] for p in first.participants("w1")] == ["ann"]
    first.close()
    second.close()
