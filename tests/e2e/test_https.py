"""HTTPS as docs/deploy.md sets it up: Debian's nginx terminating TLS with a certificate this
test makes, in front of `labapp serve` on 127.0.0.1 with LABAPP_TRUSTED_PROXIES=1, nginx
configured by the repository's own site file (deploy/nginx/labapp.conf). Chromium, through the
proxy over https: a learner completes a step over a real WebSocket, the session cookie is
Secure, HSTS is sent; what a client writes in X-Forwarded-* is not believed."""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest
import requests
from playwright.sync_api import expect

from .conftest import ARTIFACTS, REQUIRE, Server

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SITE = os.path.join(ROOT, "deploy", "nginx", "labapp.conf")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LESSON = "/lessons/overlay-attachable?lang=en"
JOINS = 3  # LABAPP_RATE_JOINS for this server: per client address and minute


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _certificate(directory):
    """A self-signed certificate for localhost and 127.0.0.1, made here with openssl."""
    cert, key = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def site_for_test(app_port, http_port, https_port, cert, key) -> str:
    """deploy/nginx/labapp.conf with this test's ports, certificate and server name, and nothing
    else changed (each value it replaces must still be in the file)."""
    text = open(SITE, encoding="utf-8").read()
    for old, new in {
        "server 127.0.0.1:5000;": f"server 127.0.0.1:{app_port};",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "/etc/ssl/labapp/fullchain.pem": cert,
        "/etc/ssl/labapp/privkey.pem": key,
        "server_name lab.example.org;": "server_name localhost;",
    }.items():
        assert old in text, f"deploy/nginx/labapp.conf no longer has {old!r}: bring this test up to date"
        text = text.replace(old, new)
    return text


class Nginx:
    """Debian's nginx in the foreground with its own prefix, configuration and ports."""

    def __init__(self, prefix, site):
        self.prefix = prefix
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "labapp.conf").write_text(site)
        temps = " ".join(f"{kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                           "uwsgi", "scgi"))
        (prefix / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 512; }}
http {{
    access_log {prefix}/access.log;
    {temps}
    include {prefix}/labapp.conf;
}}
""")
        self.proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                                      "-e", str(prefix / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def wait(self, port):
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"nginx did not start: {(self.prefix / 'error.log').read_text()[-2000:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then the master exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _goto(page, url):
    """page.goto, again when Chromium aborts it because the host's interfaces changed (the
    engine adds and removes bridges and veths as sandboxes, this one's or others', come and go)."""
    from playwright.sync_api import Error

    for attempt in range(3):
        try:
            return page.goto(url)
        except Error as exc:
            if "ERR_NETWORK_CHANGED" not in str(exc) or attempt == 2:
                raise
            time.sleep(1)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, client):
    """(https URL, certificate path): labapp behind nginx; both stopped at the end."""
    if not os.path.exists(NGINX) or not shutil.which("openssl"):
        if REQUIRE:
            pytest.fail("nginx or openssl is missing (scripts/ensure-nginx.sh installs them)", pytrace=False)
        pytest.skip("nginx or openssl is missing (scripts/ensure-nginx.sh installs them)")
    base = tmp_path_factory.mktemp("https")
    cert, key = _certificate(base)
    app = Server(base / "data", LABAPP_TRUSTED_PROXIES=os.environ.get("LABAPP_TEST_TRUSTED_PROXIES", "1"),
                 LABAPP_RATE_JOINS=f"{JOINS}/minute", LABAPP_TRAINER_TOKEN="https-e2e-trainer-token-0123").start()
    http_port, https_port = _free_port(), _free_port()
    app_port = int(app.url.rsplit(":", 1)[1])
    nginx = Nginx(base / "nginx", site_for_test(app_port, http_port, https_port, cert, key)).wait(https_port)
    try:
        yield f"https://localhost:{https_port}", cert, http_port
    finally:
        nginx.stop()
        app.stop()


@pytest.fixture
def tls_page(browser, request):
    """A new learner whose browser accepts the test's self-signed certificate."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US", ignore_https_errors=True)
    page = context.new_page()
    os.makedirs(ARTIFACTS, exist_ok=True)
    yield page
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        page.screenshot(path=os.path.join(ARTIFACTS, f"{request.node.name}-failed.png"))
    context.close()


def test_a_learner_completes_a_step_over_https_on_a_websocket_with_a_secure_cookie(proxied, tls_page):
    url, _, _ = proxied
    page = tls_page
    sockets, frames, polls = [], [], []

    def on_socket(ws):
        sockets.append(ws.url)
        ws.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, str) else ""))
    page.on("websocket", on_socket)
    page.on("request", lambda req: "transport=polling" in req.url and polls.append(req.url))

    answer = _goto(page, url + LESSON)
    assert answer.ok
    assert answer.headers.get("strict-transport-security") == "max-age=31536000"
    expect(page.locator("#sandbox-status")).to_contain_text("Sandbox ready", timeout=90_000)
    step = page.locator("#step-swarm")
    for button in step.locator("button.run").all():
        button.click()
        expect(page.locator("#lab")).to_have_attribute("data-busy", "0", timeout=120_000)
    step.locator("button.check").click()
    expect(page.locator("#lab")).to_have_attribute("data-busy", "0", timeout=120_000)
    expect(step.locator(".step-status")).to_have_attribute("data-status", "passed")
    page.screenshot(path=os.path.join(ARTIFACTS, "https-step-passed.png"))

    # Socket.IO ran over one real WebSocket through the proxy, never over polling.
    host = url.removeprefix("https://")
    assert [u for u in sockets if u.startswith(f"wss://{host}/socket.io/") and "transport=websocket" in u], sockets
    assert polls == [], polls
    assert any('"verdict"' in f for f in frames), "the verdict did not come over the WebSocket"
    # The session cookie is Secure (and stays HttpOnly, SameSite=Lax).
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["session"]["secure"] is True, cookies
    assert cookies["session"]["httpOnly"] is True and cookies["session"]["sameSite"] == "Lax"
    # The learner's sandbox goes now (the module's server removes the rest when it stops).
    page.request.delete(url + "/api/sandbox", headers={"Content-Type": "application/json"})


def test_plain_http_on_the_proxy_redirects_to_https(proxied):
    _, _, http_port = proxied
    answer = requests.get(f"http://127.0.0.1:{http_port}/lessons", allow_redirects=False, timeout=10)
    assert answer.status_code == 301
    assert answer.headers["Location"].startswith("https://")


def test_forwarded_headers_written_by_a_client_are_not_believed(proxied):
    """Each request claims another client address and plain http; through nginx the app sees the
    real address (so the per-address limit on joins counts them together) and https."""
    url, cert, _ = proxied
    statuses = []
    for i in range(JOINS + 2):
        answer = requests.post(url + "/api/join", json={"code": "ZZZZZZ", "name": "x"}, verify=cert, timeout=10,
                               headers={"X-Forwarded-For": f"203.0.113.{i + 1}", "X-Forwarded-Proto": "http",
                                        "X-Forwarded-Host": "evil.example"})
        statuses.append(answer.status_code)
        assert answer.headers.get("Strict-Transport-Security"), "the app did not see https"
    assert statuses[:JOINS] == [404] * JOINS and statuses[JOINS:] == [429, 429], statuses


def test_the_certificate_is_the_one_this_test_made(proxied):
    """The proxy really terminates TLS with the test's certificate (no plain-text shortcut)."""
    url, cert, _ = proxied
    host, port = url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=cert)
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        assert re.match(r"TLSv1\.[23]", tls.version())
        assert dict(x[0] for x in tls.getpeercert()["subject"])["commonName"] == "localhost"
