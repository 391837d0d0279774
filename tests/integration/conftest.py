"""Integration fixtures: a shared 3-node sandbox, the probe's answer, a long command.
The engine (`client`), `settings` and the leak check live in tests/conftest.py."""
import threading

import pytest

from labapp.sandbox import SwarmSandbox
from labapp.sandbox.images import node_image_ref
from labapp.sandbox.probe import probe_kernel

from ..conftest import labelled_ids  # noqa: F401  (the tests import it from here)

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
    """A 90-second command started once; the test that needs its result joins it."""
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
