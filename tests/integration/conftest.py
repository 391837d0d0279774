"""Integration fixtures: the real engine, the images, a shared 3-node sandbox, a leak check."""
import os
import threading

import pytest

from labapp.config import Settings
from labapp.engine import connect
from labapp.errors import LabappError
from labapp.sandbox import LABEL, SwarmSandbox
from labapp.sandbox.images import missing_images
from labapp.sandbox.probe import probe_kernel
from labapp.sandbox.images import node_image_ref

REQUIRE = os.environ.get("LABAPP_REQUIRE_INTEGRATION") == "1"


def _unavailable(reason):
    if REQUIRE:
        pytest.fail(f"integration tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def labelled_ids(client):
    """The sandbox ids of every labelled container, network and volume on the engine."""
    api = client.api
    ids = {c["Labels"][LABEL] for c in api.containers(all=True, filters={"label": LABEL})}
    ids |= {n["Labels"][LABEL] for n in api.networks(filters={"label": LABEL})}
    ids |= {v["Labels"][LABEL] for v in api.volumes(filters={"label": LABEL}).get("Volumes") or []}
    return ids


def _sweep_dead(client):
    """Remove sandboxes none of whose nodes run (left by a run whose engine went away)."""
    running = {c["Labels"][LABEL] for c in client.api.containers(filters={"label": LABEL})}
    for sid in labelled_ids(client) - running:
        SwarmSandbox(client, sid, []).destroy()


@pytest.fixture(scope="session")
def settings():
    return Settings.from_env()


@pytest.fixture(scope="session")
def client(settings):
    try:
        client = connect()
    except LabappError as exc:
        _unavailable(str(exc))
    missing = missing_images(client, settings)
    if missing:
        _unavailable("images not built: " + ", ".join(missing) + "; run 'labapp images build'")
    _sweep_dead(client)
    before = labelled_ids(client)
    yield client
    leaked = labelled_ids(client) - before
    assert not leaked, f"the tests left labelled objects behind for sandboxes {sorted(leaked)}"


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
