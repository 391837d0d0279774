"""End-to-end fixtures: the real server (real engine, real sandboxes) and Debian's Chromium
driven by Playwright. Screenshots go to test-artifacts/e2e/."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

REQUIRE = os.environ.get("LABAPP_REQUIRE_INTEGRATION") == "1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts", "e2e")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


def _unavailable(reason):
    if REQUIRE:
        pytest.fail(f"e2e tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TRAINER_TOKEN = "e2e-trainer-token-of-the-tests"  # the app wants 20 characters or more


class Server:
    """`labapp serve` on a free port with DATA as its data directory. While it runs, a test
    that fails carries the end of its log (pytest_runtest_makereport below): a failure in
    CI, on a machine nobody can look at afterwards, says what the server was doing."""

    running = []  # the servers started and not stopped yet

    def __init__(self, data, **env):
        self.data = data
        self.env = {**os.environ, "LABAPP_DATA_DIR": str(data), "LABAPP_TRAINER_TOKEN": TRAINER_TOKEN,
                    "LABAPP_POOL_SIZE": "0",
                    # every browser of a test is a learner at 127.0.0.1: no per-address cap here
                    "LABAPP_SANDBOXES_PER_ADDRESS": "0",
                    # make test runs two workers side by side on a small host: its load is the
                    # tests', not a public lab's (tests/unit/test_converging.py tries overload)
                    "LABAPP_OVERLOAD_PER_CORE": "0", **env}
        self.proc = None
        self.url = None

    def start(self, port=None):
        port = port or _free_port()
        self.data.mkdir(parents=True, exist_ok=True)
        self.log = open(self.data / "server.log", "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "labapp.cli", "serve", "--port", str(port)],
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        Server.running.append(self)
        for _ in range(300):
            try:
                urllib.request.urlopen(self.url + "/", timeout=2)
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        self.proc.kill()
        Server.running.remove(self)
        pytest.fail(f"the server did not start: {(self.data / 'server.log').read_text()[-2000:]}")

    @property
    def instance(self):
        return (self.data / "instance_id").read_text().strip()

    def stop(self, kill=False):
        if self.proc is None:
            return
        if kill:
            self.proc.kill()  # SIGKILL: no clean-up, as when a host loses power
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc = None
        self.log.close()
        if self in Server.running:
            Server.running.remove(self)

    def log_tail(self, size=6000):
        """The last SIZE characters of the server's log."""
        try:
            text = (self.data / "server.log").read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return text[-size:]


@pytest.fixture(scope="session")
def server(tmp_path_factory, client):
    """The shared server; stopped (sandboxes and all) at the end."""
    running = Server(tmp_path_factory.mktemp("labapp-data")).start()
    yield running.url
    running.stop()


# A page's scripts, styles, images and fonts are fetched by Playwright's driver, not by
# Chromium's own network stack: Chromium aborts the requests in flight with
# net::ERR_NETWORK_CHANGED whenever the host's interfaces change, and on this host every
# sandbox made or removed adds or removes bridges and veths. Measured: a lesson page whose
# dom.js, netmap.js and lab.js all failed so never started its lab (the e2e failures of two
# CI runs). The driver's fetch does not watch the interfaces; what it gets is handed to
# Chromium as the answer. Documents, WebSockets and the page's own fetches stay Chromium's
# (a document answered by the driver has no address, and Chromium's local network access
# checks then refuse its WebSocket to 127.0.0.1; Socket.IO reconnects by itself).
FETCHED_BY_DRIVER = {"script", "stylesheet", "image", "font"}


def _through_driver(route):
    request = route.request
    if request.resource_type not in FETCHED_BY_DRIVER:
        route.continue_()
        return
    from playwright.sync_api import Error as PlaywrightError
    for attempt in range(4):
        try:
            answer = route.fetch(max_redirects=0, timeout=60_000)
        except PlaywrightError:
            if attempt == 3:
                raise
            time.sleep(0.5 * (attempt + 1))
            continue
        route.fulfill(response=answer)
        return


class _Browser:
    """The browser, whose new contexts fetch through the driver (_through_driver)."""

    def __init__(self, browser):
        self._browser = browser

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        context.route("**/*", _through_driver)
        return context


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, one per test module: what a module leaves in it (pages still
    reconnecting to a server that is gone, sockets queued) cannot reach the next module.
    Its contexts fetch pages and their assets through the driver (_through_driver)."""
    if not os.path.exists(CHROMIUM):
        _unavailable("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield _Browser(browser)
        browser.close()


def watch(page):
    """What PAGE goes through that a failure should tell: console messages, script errors,
    failed requests, error answers, WebSockets opened and closed (a list, filled as it comes)."""
    seen = []
    clock = time.monotonic

    def note(text):
        seen.append(f"{clock():.1f} {text}")
    page.on("console", lambda m: note(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: note(f"page error: {e}"))
    page.on("requestfailed", lambda r: note(f"request failed: {r.method} {r.url}: {r.failure}"))
    page.on("response", lambda r: note(f"response {r.status} {r.url}") if r.status >= 400 else None)

    def socket(ws):
        note(f"websocket opened: {ws.url}")
        ws.on("close", lambda w: note(f"websocket closed: {w.url}"))
        ws.on("socketerror", lambda e: note(f"websocket error: {e}"))
        ws.on("framereceived", lambda f: note(f"websocket frame in: {str(f)[:120]}"))
    page.on("websocket", socket)
    return seen


def watched(request, who, page):
    """Watch PAGE (WHO's) for the test REQUEST runs: a failure of the test carries what it
    went through."""
    if not hasattr(request.node, "page_watch"):
        request.node.page_watch = []
    request.node.page_watch.append((who, watch(page)))
    return page


@pytest.fixture
def page(browser, request):
    """A fresh browser context (a new learner) and a screenshot helper; a failing test
    carries what the page went through (watch)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    watched(request, "the learner", page)
    os.makedirs(ARTIFACTS, exist_ok=True)
    shots = []

    def shot(stage):
        path = os.path.join(ARTIFACTS, f"{request.node.name}-{len(shots):02d}-{stage}.png")
        page.screenshot(path=path, full_page=False)
        shots.append(path)
    page.shot = shot
    yield page
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        shot("failed")
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report
    if report.failed:
        for who, events in getattr(item, "page_watch", []):
            report.sections.append((f"what {who}'s page went through", "\n".join(events[-200:]) or "(nothing)"))
        for server in Server.running:
            report.sections.append((f"labapp serve at {server.url}: the end of its log", server.log_tail()))
