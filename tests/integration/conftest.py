"""Integration fixtures: a shared 3-node sandbox, the probe's answer, a long command, and
until() to wait on a condition. The engine (`client`), `settings` and the leak check live
in tests/conftest.py."""
import threading
import time

import pytest

from labapp.sandbox import SwarmSandbox
from labapp.sandbox.images import node_image_ref
from labapp.sandbox.probe import probe_kernel

from ..conftest import labelled_ids  # noqa: F401  (the tests import it from here)


def until(condition, timeout=30, interval=0.2, what="the condition"):
    """Wait until CONDITION() is true; fail naming WHAT after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(interval)


@pytest.fixture(scope="session")
def kernel(client, settings):
    return probe_kernel(client, node_image_ref(settings))


@pytest.fixture(scope="session")
def sandbox(client, settings):
    sb = SwarmSandbox.create(client, settings, nodes=3)
    yield sb
    sb.destroy()


@pytest.fixture(scope="session")
def long_command(sandbox):
    """A 90-second command (`sleep 90`, then a line) on worker2, started once in a thread;
    test_the_long_command_runs_on_worker2 sees it run, test_ninety_second_command_is_not_cut_off
    joins it for its result."""
    box = {}

    def run():
        try:
            box["result"] = sandbox.exec("worker2", "sleep 90; echo 'still here after 90 s'",
                                         timeout=150)
        except Exception as exc:  # reported by the test that joins
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box
