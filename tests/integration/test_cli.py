"""The labapp command against the real engine."""
import json
import os
import subprocess
import sys

import pytest

from .conftest import labelled_ids

LABAPP = [sys.executable, "-m", "labapp.cli"]


def run(*args, timeout=120, env=None):
    return subprocess.run([*LABAPP, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


def test_doctor_json_reports_engine_images_and_kernel(client):
    proc = run("doctor", "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert report["engine"]["reachable"] is True and report["engine"]["version"]
    assert report["images"]["present"] is True and len(report["images"]["names"]) == 3
    assert set(report["kernel"]) == {"ipvs", "esp", "vxlan"}
    assert all(isinstance(v, bool) for v in report["kernel"].values())
    assert report["kernel"]["vxlan"] is True


def test_sandbox_up_exec_ls_down(client):
    up = run("sandbox", "up", "--nodes", "2", "--json")
    assert up.returncode == 0, up.stderr
    made = json.loads(up.stdout)
    sid = made["id"]
    try:
        assert [(n["name"], n["role"]) for n in made["nodes"]] == [("manager1", "manager"), ("worker1", "worker")]
        assert made["seconds"] > 0
        listed = json.loads(run("sandbox", "ls", "--json").stdout)["sandboxes"]
        assert sid in [sb["id"] for sb in listed]
        ok = run("sandbox", "exec", sid, "worker1", "--", "docker info --format '{{.Swarm.LocalNodeState}}'")
        assert (ok.returncode, ok.stdout) == (0, "active\n")
        failed = run("sandbox", "exec", sid, "manager1", "--", "sh", "-c", "echo 실패 >&2; exit 5")
        assert (failed.returncode, failed.stderr) == (5, "실패\n")
        unknown = run("sandbox", "exec", sid, "worker7", "--", "true")
        assert unknown.returncode == 1
        assert unknown.stderr.strip() == (f"labapp: error: sandbox {sid} has no node 'worker7' "
                                          "(its nodes: manager1, worker1)")
    finally:
        down = run("sandbox", "down", sid)
    assert down.returncode == 0 and f"removed sandbox {sid}" in down.stdout
    assert sid not in labelled_ids(client)


@pytest.mark.parametrize("args", [("sandbox", "exec", "nope0000", "manager1", "--", "true"),
                                  ("sandbox", "down", "nope0000")])
def test_unknown_sandbox_is_one_line(client, args):
    proc = run(*args)
    assert proc.returncode == 1
    assert proc.stderr == ("labapp: error: no sandbox has the id 'nope0000'; "
                           "'labapp sandbox ls' lists the sandboxes that exist\n")


def _ok(*args, env):
    proc = run(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_reap_and_pool_status_touch_only_this_instances_sandboxes(client, tmp_path):
    from labapp.services import instance_id
    from labapp.config import Settings
    from labapp.sandbox import SwarmSandbox
    from labapp.sandbox.base import LABEL_OWNER, LABEL_POOL

    data = tmp_path / "data"
    mine = instance_id(str(data))
    env = {"LABAPP_DATA_DIR": str(data)}
    orphan = SwarmSandbox.create(client, Settings.from_env(), nodes=1, labels={LABEL_OWNER: mine})
    pooled = SwarmSandbox.create(client, Settings.from_env(), nodes=1, labels={LABEL_OWNER: mine, LABEL_POOL: "1x1"})
    other = SwarmSandbox.create(client, Settings.from_env(), nodes=1, labels={LABEL_OWNER: "someone-else"})
    try:
        status = json.loads(_ok("pool", "status", "--json", env=env).stdout)
        assert status["instance"] == mine and [p["id"] for p in status["pooled"]] == [pooled.id]
        assert status["pooled"][0]["nodes_running"] == 1
        dry = _ok("reap", "--dry-run", env=env)
        assert f"would remove {orphan.id}: orphan: no learner holds it" in dry.stdout
        assert orphan.id in labelled_ids(client)
        reaped = json.loads(_ok("reap", "--json", env=env).stdout)
        assert reaped == {"removed": [{"id": orphan.id, "why": "orphan: no learner holds it"}]}
        left = labelled_ids(client)
        assert orphan.id not in left and pooled.id in left and other.id in left
        assert json.loads(_ok("reap", "--pool", "--json", env=env).stdout)["removed"][0]["id"] == pooled.id
        assert other.id in labelled_ids(client)
    finally:
        for sandbox in (orphan, pooled, other):
            sandbox.destroy()

