"""The node engines' AuthZ policy (labapp/sandbox/authz/policy.py): the time of one judgement
of three recorded requests (a `docker run` create, a `service update --network-add`, an
inspect), against a floor run in the same process: decoding the same request's JSON body,
which any judgement must do at least. Prints figures; never passes or fails on time (this
was a unit test with a 0.5 ms bound once, and failed on a loaded host).
Usage: python bench/authz.py [ROUNDS]
"""
from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labapp.sandbox.authz.policy import Policy  # noqa: E402

RECORDED = ROOT / "tests" / "unit" / "fixtures" / "authz" / "recorded"


def _load(name: str) -> list[dict]:
    return json.loads((RECORDED / f"{name}.json").read_text())["requests"]


def _best(call, req, rounds: int, n: int = 200) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            call(req)
        best = min(best, (time.perf_counter() - started) / n)
    return best


def _floor(req: dict) -> None:
    body = req.get("RequestBody")
    if body:
        json.loads(base64.b64decode(body))


def main(rounds: int = 7) -> None:
    create = [r for r in _load("ok-run-dti-network") if r["RequestUri"].split("?")[0].endswith("/containers/create")][0]
    update = [r for r in _load("ok-service-update-network-add") if r["RequestMethod"] == "POST"][0]
    inspect = {"RequestMethod": "GET", "RequestUri": "/v1.41/containers/alpine1/json"}
    judge = Policy(resolve_network=lambda ref: {"Name": ref, "Driver": "overlay"}).judge
    print(f"bench/authz.py: best of {rounds} rounds of 200 judgements each; cpus {os.cpu_count()}")
    print(f"{'request':<44} {'judge µs':>9} {'floor µs':>9} {'ratio':>6}")
    for req in (create, update, inspect):
        assert judge(req).allow, req["RequestUri"]
        spent, floor = _best(judge, req, rounds), _best(_floor, req, rounds)
        print(f"{req['RequestMethod'] + ' ' + req['RequestUri'].split('?')[0][:38]:<44} {spent * 1e6:9.1f} "
              f"{floor * 1e6:9.1f} {spent / max(floor, 1e-9):6.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
