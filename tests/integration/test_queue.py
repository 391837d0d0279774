"""A room that joins at once: on a real engine, with one sandbox made at a time, two learners
who ask in the same second both get theirs, in order; the second is told its place in the
queue and a wait while the first is made."""
import threading

import pytest

from labapp.lesson.catalog import load_catalog
from labapp.sandbox.backend import SwarmBackend
from labapp.services import build_services

from .conftest import labelled_ids, until

pytestmark = pytest.mark.integration


def test_learners_who_join_together_wait_their_turn_and_are_told_their_place(client, settings, tmp_path):
    lesson = load_catalog().get("overlay-attachable", "en")
    backend = SwarmBackend(settings, owner=f"itest-{tmp_path.name[-8:]}")
    lab = build_services(settings.replace(data_dir=str(tmp_path), pool_size=0, sandboxes_at_once=1,
                                          overload_per_core=0),
                         backend=backend, kernel={"ipvs": False, "esp": False, "vxlan": True}, capacity=None)
    stages = {"ann": [], "bob": []}
    made, errors = {}, []

    def join(learner):
        try:
            made[learner] = lab.lifecycle.ensure(learner, lesson, stages[learner].append)
        except Exception as exc:  # reported below
            errors.append(f"{learner}: {exc}")

    try:
        ann = threading.Thread(target=join, args=("ann",))
        ann.start()
        until(lambda: lab.lifecycle.queue.status()["making"] == 1, timeout=60, what="ann's sandbox being made")
        bob = threading.Thread(target=join, args=("bob",))
        bob.start()
        ann.join(300)
        bob.join(300)
        assert errors == []
        assert sorted(made) == ["ann", "bob"] and made["ann"].id != made["bob"].id
        assert all(made[name].state().ready for name in made)
        told = [str(s) for s in stages["bob"] if str(s).startswith("waiting for your turn")]
        assert told, stages["bob"]  # bob asked while ann's was being made: one at a time
        assert told[0].startswith("waiting for your turn: 1 of 1 in the queue, about ")
        assert told[0].endswith(" s (1 sandbox is made at a time)")
        assert not any(str(s).startswith("waiting") for s in stages["ann"])  # ann's turn came at once
        assert lab.lifecycle.queue.status()["making"] == 0 and lab.lifecycle.queue.status()["waiting"] == 0
    finally:
        lab.shutdown()
    assert not {b.id for b in made.values()} & labelled_ids(client)
