"""Shared test set-up: the real engine for integration and e2e tests, a leak check over the
whole run (in the controller when pytest-xdist runs the tests in workers: a run ends with
zero labelled containers, networks and volumes it made), Debian's Redis and PostgreSQL
(`redis_url`, `postgres_url`: tests/servers.py), and with LABAPP_REQUIRE_INTEGRATION=1
(make test, CI) a skipped test fails the run."""
import os

import pytest

from labapp.config import Settings
from labapp.engine import connect
from labapp.errors import LabappError
from labapp.sandbox import LABEL, SwarmSandbox
from labapp.sandbox.images import missing_images

from .servers import ServerMissing, postgres_server, redis_server

REQUIRE_INTEGRATION = os.environ.get("LABAPP_REQUIRE_INTEGRATION") == "1"
_BEFORE = pytest.StashKey[set]()  # the labelled sandbox ids on the engine when the run began


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    if REQUIRE_INTEGRATION and skipped:
        terminalreporter.write_line(
            f"labapp: {len(skipped)} test(s) skipped while LABAPP_REQUIRE_INTEGRATION=1; "
            "every integration test must run here", red=True)


def pytest_collection_modifyitems(session, config, items):
    """The longest suites first (marked slow), then the rest of the real-engine suites, then the
    unit tests: run in two workers (make test: pytest-xdist, a file per worker at a time), the
    long files start at once instead of last. The sort is stable, so a file's tests stay
    together and in their order."""
    def rank(item):
        if item.get_closest_marker("slow"):
            return 0
        return 2 if item.nodeid.startswith("tests/unit/") else 1
    items.sort(key=rank)


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


def _worker(config) -> bool:
    """True in a pytest-xdist worker (the controller, or a run without xdist, is not one)."""
    return hasattr(config, "workerinput")


def pytest_sessionstart(session):
    """Once per run (in the controller under xdist, before any worker makes a sandbox):
    sweep what a dead earlier run left, and note the labelled objects there are now for
    the leak check at the end. Nothing to do when no engine answers (the `client`
    fixture says why, in the tests that need one)."""
    args = [os.path.normpath(a.split("::")[0]) for a in session.config.args]
    if _worker(session.config) or (args and all(a.startswith(os.path.join("tests", "unit")) for a in args)):
        return
    try:
        engine = connect()
    except LabappError:
        return
    _sweep_dead(engine)
    session.config.stash[_BEFORE] = labelled_ids(engine)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if REQUIRE_INTEGRATION and reporter is not None and reporter.stats.get("skipped"):
        session.exitstatus = 1
    if _worker(session.config) or _BEFORE not in session.config.stash:
        return
    leaked = labelled_ids(connect()) - session.config.stash[_BEFORE]
    if leaked:  # every worker has ended: whatever is new was left by this run
        message = f"labapp: the tests left labelled objects behind for sandboxes {sorted(leaked)}"
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:
            print(message)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def client(settings):
    try:
        client = connect()
    except LabappError as exc:
        _unavailable(str(exc))
    missing = missing_images(client, settings)
    if missing:
        _unavailable("images not built: " + ", ".join(missing) + "; run 'labapp images build'")
    yield client


def _serve(server, tmpdir):
    """Yield the URL of SERVER (a context manager of tests/servers.py) started in TMPDIR."""
    try:
        with server(tmpdir) as url:
            yield url
    except ServerMissing as exc:  # raised before anything is started
        _unavailable(str(exc))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """redis://127.0.0.1:PORT/0 of a Redis of its own, once per session (per xdist worker)."""
    yield from _serve(redis_server, tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """postgresql+psycopg://labapp@127.0.0.1:PORT/labapp of a PostgreSQL of its own, once per
    session (per xdist worker)."""
    yield from _serve(postgres_server, tmp_path_factory.mktemp("postgres"))
