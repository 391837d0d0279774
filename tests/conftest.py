"""Shared test set-up: the real engine for integration and e2e tests (with a leak check),
and with LABAPP_REQUIRE_INTEGRATION=1 (make test, CI) a skipped test fails the run."""
import os

import pytest

from labapp.config import Settings
from labapp.engine import connect
from labapp.errors import LabappError
from labapp.sandbox import LABEL, SwarmSandbox
from labapp.sandbox.images import missing_images

REQUIRE_INTEGRATION = os.environ.get("LABAPP_REQUIRE_INTEGRATION") == "1"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    if REQUIRE_INTEGRATION and skipped:
        terminalreporter.write_line(
            f"labapp: {len(skipped)} test(s) skipped while LABAPP_REQUIRE_INTEGRATION=1; "
            "every integration test must run here", red=True)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if REQUIRE_INTEGRATION and reporter is not None and reporter.stats.get("skipped"):
        session.exitstatus = 1


def _unavailable(reason):
    if REQUIRE_INTEGRATION:
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
