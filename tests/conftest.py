"""Shared test set-up: with LABAPP_REQUIRE_INTEGRATION=1 (make test, CI) a skipped test fails the run."""
import os

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
