"""Property-based fuzzing of the REST API against the real server process.

`labapp serve` runs on a free port with its own data directory, the real Docker engine and
one real sandbox; schemathesis generates requests from /api/openapi.json, valid ones and
invalid ones, as a learner (holding that sandbox), as the trainer (Bearer) and as nobody.
Every answer must be below 500, every error a JSON body with an "error" sentence, and
every status, content type, header and body must be the one the document promises: the
document is truthful or the test fails.

Bounded: a few examples per operation (FUZZ_EXAMPLES, default 15), no shrinking, and the
server is told to make at most one sandbox for learners (LABAPP_RATE_SANDBOXES=1/hour from
this address) and to hold at most one (LABAPP_MAX_SANDBOXES=1), so a workshop the fuzzer
creates (capacity 1 at most) cannot fill the warm pool with more than one. When the server
stops, nothing it labelled remains.
"""
import os
import time
from collections import Counter, defaultdict

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from labapp.sandbox.base import LABEL, LABEL_OWNER
from tests.e2e.conftest import TRAINER_TOKEN, Server

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance, response_headers_conformance, response_schema_conformance,
    status_code_conformance)

LESSON = "overlay-attachable"
FIRST_STEP = "swarm"  # its first step: blocks 0 and 1 run real commands on the real swarm
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
SLOW = {  # operations that run real commands on the sandbox: fewer examples
    ("POST", "/api/lessons/{slug}/steps/{step}/run"): 6,
    ("POST", "/api/lessons/{slug}/steps/{step}/check"): 4,
    ("POST", "/api/lessons/{slug}/sandbox"): 3,
    ("DELETE", "/api/sandbox"): 3,
}
LAST = ("DELETE", "/api/sandbox")  # it destroys the learner's sandbox: fuzz it after the rest
def not_a_server_error_but_a_full_lab(ctx, response, case):
    """No 5xx, but a 503 with Retry-After where the document promises one: "the lab is full"
    (admission refuses a sandbox when the host holds all it may; the fuzzed server may hold
    one, the learner's). Any other 5xx fails as schemathesis' own check says."""
    retry = {k.lower(): v for k, v in response.headers.items()}.get("retry-after")
    if response.status_code == 503 and retry:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [not_a_server_error_but_a_full_lab, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


def _owned(client, instance):
    """This server's labelled containers, networks and volumes on the engine."""
    label = {"label": f"labapp.owner={instance}"}
    api = client.api
    return ([c["Id"] for c in api.containers(all=True, filters=label)]
            + [n["Id"] for n in api.networks(filters=label)]
            + [v["Name"] for v in api.volumes(filters=label).get("Volumes") or []])


@pytest.fixture(scope="module")
def server(tmp_path_factory, client):
    """The real server, made to create at most one sandbox; everything it made is gone after."""
    running = Server(tmp_path_factory.mktemp("fuzz"), LABAPP_RATE_SANDBOXES="1/hour", LABAPP_MAX_SANDBOXES="1",
                     LABAPP_THROTTLE_FREE="1000000", LABAPP_JOIN_THROTTLE_FREE="1000000").start()
    try:
        yield running
    finally:
        instance = running.instance
        running.stop()
        assert _owned(client, instance) == [], "the fuzzed server left labelled objects behind"


@pytest.fixture(scope="module")
def schema(server):
    return schemathesis.openapi.from_url(server.url + "/api/openapi.json")


@pytest.fixture(scope="module")
def learner(server):
    """A learner session holding a real, ready sandbox (the one sandbox the server may make)."""
    session = requests.Session()
    session.get(f"{server.url}/lessons/{LESSON}", timeout=30).raise_for_status()
    made = session.post(f"{server.url}/api/lessons/{LESSON}/sandbox", json={}, timeout=180)
    assert made.status_code == 200 and made.json()["state"] == "ready", made.text
    return session


def _errors_are_json(response):
    """Every error is a JSON object with an "error" sentence."""
    if response.status_code >= 400:
        kind = (response.headers.get("content-type") or [""])[0]
        assert kind.startswith("application/json"), (response.status_code, kind, response.text[:200])
        error = response.json().get("error")
        assert isinstance(error, str) and error, response.text[:200]


def _fuzz(operation, session, headers, mode, examples, seen, path=None):
    """EXAMPLES cases of OPERATION in MODE, sent in SESSION with HEADERS (and the PATH
    parameters given), each checked; the statuses answered are counted in SEEN."""
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path))
    def fuzz(case):
        response = case.call(session=session, headers=headers, timeout=120)
        seen[f"{operation.method.upper()} {operation.path}"][response.status_code] += 1
        _errors_are_json(response)
        case.validate_response(response, checks=CHECKS, headers=headers)
    try:
        fuzz()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body): nothing to send
        assert mode is GenerationMode.NEGATIVE


def _operations(schema):
    found = [result.ok() for result in schema.get_all_operations()]
    found.sort(key=lambda op: (op.method.upper(), op.path) == LAST)
    return found


def test_no_input_makes_a_5xx_or_an_undocumented_answer(server, schema, learner):
    started = time.monotonic()
    anonymous = requests.Session()
    trainer = {"Authorization": f"Bearer {TRAINER_TOKEN}"}
    operations = _operations(schema)
    assert len(operations) >= 19
    seen = defaultdict(Counter)
    for operation in operations:
        key = (operation.method.upper(), operation.path)
        examples = SLOW.get(key, EXAMPLES)
        is_trainer = operation.path.startswith("/api/workshops") or operation.path == "/api/status"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if is_trainer:
                _fuzz(operation, anonymous, trainer, mode, examples, seen)
            _fuzz(operation, learner, None, mode, examples, seen)
        if "{slug}" in operation.path:  # and deeper: the lesson (and step) of the learner's sandbox
            path = {"slug": LESSON, "step": FIRST_STEP} if "{step}" in operation.path else {"slug": LESSON}
            _fuzz(operation, learner, None, GenerationMode.POSITIVE, examples, seen, path=path)
        _fuzz(operation, anonymous, None, GenerationMode.NEGATIVE, max(2, examples // 3), seen)
    took = time.monotonic() - started
    requests_sent = sum(sum(c.values()) for c in seen.values())
    print(f"\nfuzzed {len(operations)} operations in {took:.0f} s, {requests_sent} requests:")
    for name, statuses in sorted(seen.items()):
        print(f"  {name}: {dict(sorted(statuses.items()))}")
    # The fuzzer got past validation into the real code: the sandbox answered commands.
    for name in ("POST /api/lessons/{slug}/console", "POST /api/lessons/{slug}/steps/{step}/check",
                 "POST /api/lessons/{slug}/steps/{step}/run"):
        assert set(seen[name]) & {200, 422}, (name, seen[name])


def test_the_server_made_at_most_one_sandbox(server, learner, client):
    """The limits kept the fuzzer from making sandboxes: refusals, not new swarms. A fresh
    cookie asking now is refused too: the one sandbox the lab may hold is the learner's, so
    admission says the lab is full (503) before the address's sandbox rate is charged (a
    refused request costs the address nothing), or the rate says too many (429)."""
    again = requests.Session()
    again.get(f"{server.url}/", timeout=30)
    refused = again.post(f"{server.url}/api/lessons/{LESSON}/sandbox", json={}, timeout=60)
    assert refused.status_code in (429, 503), refused.text
    assert refused.json()["error"] and int(refused.headers["Retry-After"]) > 0
    made = {c["Labels"][LABEL] for c in client.api.containers(filters={"label": f"{LABEL_OWNER}={server.instance}"})}
    assert len(made) <= 1, f"the server holds {len(made)} sandboxes: {sorted(made)}"
