"""Two instances behind Debian's nginx, configured by the repository's own site file with its
lines for several instances switched on (deploy/nginx/labapp.conf): a browser's requests
all reach one instance (the hash of its `labapp_route` cookie), browsers are spread over
both, and when a browser's instance dies nginx sends it to the other, where it is the same
learner (one database, one session secret). Sandboxes are simulated (LABAPP_BACKEND=loadtest):
what is tried here is the proxy and the instances, not swarms (test_instances.py has those)."""
import os
import shutil
import uuid

import pytest
import requests

from labapp import ROUTE_COOKIE

from .conftest import REQUIRE, TRAINER_TOKEN, Server
from .test_https import NGINX, Nginx, _certificate, _free_port, site_for_test
from .test_instances import _kill_hard, database  # noqa: F401 - a fixture

LESSON = "overlay-attachable"
TRAINER = {"Authorization": f"Bearer {TRAINER_TOKEN}"}


def _several(site: str, second_port: int) -> str:
    """The site file's commented lines for several instances, switched on."""
    for old, new in {"# hash $cookie_labapp_route consistent;": "hash $cookie_labapp_route consistent;",
                     "# server 10.0.0.12:5000;": f"server 127.0.0.1:{second_port};"}.items():
        assert old in site, f"deploy/nginx/labapp.conf no longer has {old!r}: bring this test up to date"
        site = site.replace(old, new)
    return site


def test_nginx_keeps_a_browser_on_one_instance_and_moves_it_when_that_one_dies(tmp_path, redis_url, database):  # noqa: F811
    if not os.path.exists(NGINX) or not shutil.which("openssl"):
        if REQUIRE:
            pytest.fail("nginx or openssl is missing (scripts/ensure-nginx.sh installs them)", pytrace=False)
        pytest.skip("nginx or openssl is missing (scripts/ensure-nginx.sh installs them)")
    cert, key = _certificate(tmp_path)
    shared = {"LABAPP_DATABASE_URL": database, "LABAPP_MESSAGE_QUEUE": redis_url, "LABAPP_BACKEND": "loadtest",
              "LABAPP_CLUSTER_NAME": f"proxy-{uuid.uuid4().hex[:8]}", "LABAPP_SECRET_KEY": "proxy-" + "k" * 40,
              "LABAPP_TRUSTED_PROXIES": "1"}
    a = Server(tmp_path / "a", **shared).start()
    b = Server(tmp_path / "b", **shared).start()
    http_port, https_port = _free_port(), _free_port()
    port = {s: int(s.url.rsplit(":", 1)[1]) for s in (a, b)}
    nginx = Nginx(tmp_path / "nginx", _several(site_for_test(port[a], http_port, https_port, cert, key),
                                               port[b])).wait(https_port)
    url = f"https://localhost:{https_port}"
    try:
        def browser():
            session = requests.Session()
            session.verify, session.trust_env = cert, False  # REQUESTS_CA_BUNDLE would win over verify
            assert session.get(url + "/", timeout=10).ok
            assert session.cookies.get(ROUTE_COOKIE), "no route cookie with several instances"
            return session

        def answered_by(session):
            answer = session.get(url + "/api/status", headers=TRAINER, timeout=10).json()
            assert sorted(answer["instances"]) == sorted([a.instance, b.instance]) or b.proc is None
            return answer["instance"]

        on = {}
        for _ in range(40):  # new browsers until both instances have one
            session = browser()
            answers = {answered_by(session) for _ in range(6)}
            assert len(answers) == 1, f"one browser's requests reached {answers}"
            on.setdefault(answers.pop(), session)
            if len(on) == 2:
                break
        assert set(on) == {a.instance, b.instance}, f"40 browsers all reached {set(on)}"

        made = requests.post(url + "/api/workshops", headers=TRAINER, verify=cert, timeout=10,
                             json={"title": "Behind nginx", "lessons": [LESSON], "capacity": 2}).json()
        bob = on[b.instance]
        assert bob.post(url + "/api/join", json={"code": made["code"], "name": "Bob"}, timeout=10).ok
        assert bob.post(url + f"/api/lessons/{LESSON}/sandbox", json={}, timeout=30).json()["state"] == "ready"
        roster = requests.get(url + f"/api/workshops/{made['id']}", headers=TRAINER, verify=cert, timeout=10).json()
        assert [(p["name"], p["sandbox"]) for p in roster["learners"]] == [("Bob", "ready")]

        _kill_hard(b)
        assert answered_by(bob) == a.instance  # nginx tried B, found it gone, went on to A
        again = bob.post(url + "/api/join", json={"code": made["code"], "name": "Bob"}, timeout=10)
        assert again.ok, again.text  # welcomed back: the same learner, not a second "Bob"
        roster = requests.get(url + f"/api/workshops/{made['id']}", headers=TRAINER, verify=cert, timeout=10).json()
        assert [p["name"] for p in roster["learners"]] == ["Bob"]
        box = bob.post(url + f"/api/lessons/{LESSON}/sandbox", json={}, timeout=30).json()
        assert box["state"] == "ready", box  # a new one on A
    finally:
        nginx.stop()
        if b.proc is not None:
            b.stop()
        a.stop()
