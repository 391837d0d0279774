"""Kill the app mid-workshop (SIGKILL, no clean-up) and start it again on the same data
directory: the learner gets the same sandbox and progress back, the pool is taken back, an
orphan is reaped, and stopping the app leaves nothing of it on the engine."""
import re
import time

import requests

from labapp.config import Settings
from labapp.sandbox import SwarmSandbox
from labapp.sandbox.base import LABEL_OWNER

from .conftest import TRAINER_TOKEN, Server

LESSON = "overlay-attachable"


def _pooled(url):
    text = requests.get(url + "/metrics", timeout=10).text
    return int(re.search(r"^labapp_sandboxes_pooled (\d+)", text, re.M).group(1))


def _wait(what, condition, timeout=180):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_a_restart_gives_learners_back_their_sandboxes_and_leaks_nothing(tmp_path, client):
    server = Server(tmp_path / "data", LABAPP_POOL_SIZE="1").start()
    orphan = None
    try:
        trainer = {"Authorization": f"Bearer {TRAINER_TOKEN}"}
        made = requests.post(server.url + "/api/workshops", headers=trainer, timeout=30,
                             json={"title": "Restart drill", "lessons": [LESSON], "capacity": 2}).json()
        ann = requests.Session()
        ann.get(server.url + "/", timeout=10)
        assert ann.post(server.url + "/api/join", json={"code": made["code"], "name": "Ann"}, timeout=10).ok
        box = ann.post(server.url + f"/api/lessons/{LESSON}/sandbox", json={}, timeout=180).json()
        assert box["state"] == "ready", box
        ann.post(server.url + f"/api/lessons/{LESSON}/steps/swarm/run", json={"block": 0}, timeout=120)
        assert ann.post(server.url + f"/api/lessons/{LESSON}/steps/swarm/check", json={}, timeout=60).json()["passed"]
        _wait("the pool to fill", lambda: _pooled(server.url) >= 1)
        instance = server.instance
        # A sandbox this instance was still making when it died: nobody holds it.
        orphan = SwarmSandbox.create(client, Settings.from_env(), labels={LABEL_OWNER: instance})

        server.stop(kill=True)
        server.start()

        again = ann.get(server.url + "/api/sandbox", timeout=10).json()
        assert again["state"] == "ready" and again["id"] == box["id"], again
        assert ann.get(server.url + f"/api/lessons/{LESSON}/progress", timeout=10).json()["steps"] == {"swarm": "passed"}
        for block in (0, 1):  # the step's two blocks: the network on manager1, then worker2's view
            ran = ann.post(server.url + f"/api/lessons/{LESSON}/steps/overlay/run", json={"block": block}, timeout=120)
            assert ran.status_code == 200, ran.text
        checked = ann.post(server.url + f"/api/lessons/{LESSON}/steps/overlay/check", json={}, timeout=60).json()
        assert checked["passed"], checked  # the same swarm still works
        roster = requests.get(server.url + f"/api/workshops/{made['id']}", headers=trainer, timeout=10).json()
        assert [(r["name"], r["step"]) for r in roster["learners"]] == [("Ann", "service")]
        assert orphan.id not in {s["id"] for s in SwarmSandbox.list(client)}, "the orphan was not reaped"
        assert _pooled(server.url) >= 1
    finally:
        server.stop()
        if orphan is not None:
            orphan.destroy()
    flt = {"label": f"{LABEL_OWNER}={instance}"}
    assert client.api.containers(all=True, filters=flt) == []
    assert client.api.networks(filters=flt) == []
    assert (client.api.volumes(filters=flt).get("Volumes") or []) == []
