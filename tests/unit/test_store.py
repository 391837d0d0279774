"""The progress store keeps each learner's steps, and a pass stays a pass."""
import pytest

from labapp.store import Store, StoreError


def test_progress_is_per_learner_and_lesson(tmp_path):
    store = Store(str(tmp_path / "labapp.db"))
    store.record("ann", "overlay", "swarm", "passed")
    store.record("ann", "overlay", "overlay", "failed")
    store.record("bob", "overlay", "swarm", "failed")
    assert store.progress("ann", "overlay") == {"swarm": "passed", "overlay": "failed"}
    assert store.progress("bob", "overlay") == {"swarm": "failed"}
    assert store.progress("ann", "other") == {}


def test_a_pass_is_not_undone_and_a_failure_can_turn_into_a_pass(tmp_path):
    path = str(tmp_path / "labapp.db")
    store = Store(path)
    store.record("ann", "l", "s", "passed")
    store.record("ann", "l", "s", "failed")
    store.record("ann", "l", "t", "failed")
    store.record("ann", "l", "t", "passed")
    store.close()
    assert Store(path).progress("ann", "l") == {"s": "passed", "t": "passed"}  # survives a restart


def test_any_sqlalchemy_url_works_and_attempts_are_kept(tmp_path):
    url = f"sqlite:///{tmp_path / 'by-url.db'}"
    store = Store(url)
    store.record("ann", "l", "s", "failed", ["network test-net", "ping"])
    store.record("ann", "l", "s", "passed")
    assert store.progress("ann", "l") == {"s": "passed"}
    tries = store.attempts(["ann"])
    assert [(t["passed"], t["failed_checks"]) for t in tries] == [(False, "network test-net\nping"), (True, "")]
    assert Store(":memory:").progress("ann", "l") == {}


def test_the_same_attempt_again_is_counted_on_one_row(tmp_path):
    """A learner pressing Check a thousand times with nothing changed adds one row (the
    roster and the room read every row at each redraw): the times are counted on it."""
    store = Store(str(tmp_path / "a.db"))
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


def test_a_repeat_long_after_is_a_new_row(tmp_path, monkeypatch):
    """Repeats are merged within REPEAT_WINDOW only: a learner who failed a step self-paced,
    then joins a workshop and fails it the same way, has the workshop's failures on a row of
    their own (the room counts what was made after the join)."""
    import labapp.store as store_module

    clock = [1000.0]
    monkeypatch.setattr(store_module.time, "time", lambda: clock[0])
    store = Store(str(tmp_path / "w.db"))
    store.record("ann", "l", "s", "failed", ["ping"])
    clock[0] += store_module.REPEAT_WINDOW - 1
    store.record("ann", "l", "s", "failed", ["ping"])
    clock[0] += store_module.REPEAT_WINDOW + 1
    store.record("ann", "l", "s", "failed", ["ping"])
    assert [(t["at"], t["repeats"], t["last_at"]) for t in store.attempts(["ann"])] == [
        (1000.0, 2, 1000.0 + store_module.REPEAT_WINDOW - 1), (clock[0], 1, clock[0])]


def test_seats_remember_which_sandbox_a_learner_holds(tmp_path):
    store = Store(str(tmp_path / "s.db"))
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


def test_a_check_of_a_step_already_passed_keeps_when_it_was_passed(tmp_path):
    """The roster's time on a step counts from the last step passed: checking an earlier,
    passed step again (and failing it) must not move that time (the red team hid from the
    stuck mark so)."""
    import time as clock

    from labapp.store import Store

    store = Store(str(tmp_path / "lab.db"))
    store.record("ann", "lesson", "one", "passed")
    [first] = [r for r in store.all_progress(["ann"]) if r["step"] == "one"]
    clock.sleep(0.05)
    store.record("ann", "lesson", "one", "failed", ["network x"])
    store.record("ann", "lesson", "one", "passed")
    [again] = [r for r in store.all_progress(["ann"]) if r["step"] == "one"]
    assert again["status"] == "passed" and again["updated"] == first["updated"]
    assert len(store.attempts(["ann"])) == 3  # every attempt is still kept
