"""The progress store keeps each learner's steps, and a pass stays a pass."""
from labapp.store import Store


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
