"""The node engines' AuthZ policy: requests recorded from the node's own docker CLI (and the
app's docker SDK), every lesson command, and hand-written raw-API attacks the CLI never sends."""
import ast
import base64
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from labapp.sandbox.authz import policy
from labapp.sandbox.authz.policy import REFUSALS, Policy

FIXTURES = Path(__file__).parent / "fixtures" / "authz"
_spec = importlib.util.spec_from_file_location("labapp_authz_record", FIXTURES / "record.py")
record = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(record)

HOST_ID = "hostnetid" + "0" * 55


class FakeNetworks:
    """The node engine's GET /networks/{ref}: full id, then name, then unique id prefix."""

    USER_NETWORKS = ("test-net", "legacy-net", "shop-net", "shop-net-attachable", "web-net",
                     "my-attachable-multi-host-network")

    def __init__(self):
        self.nets = [
            {"Id": HOST_ID, "Name": "host", "Driver": "host", "Scope": "local"},
            {"Id": "b71d9e" + "0" * 58, "Name": "bridge", "Driver": "bridge", "Scope": "local"},
            {"Id": "4a11" + "0" * 60, "Name": "none", "Driver": "null", "Scope": "local"},
            {"Id": record.NET_ID, "Name": "test-cluster-net", "Driver": "overlay", "Scope": "swarm"},
            {"Id": record.NET2_ID, "Name": "test-cluster-net2", "Driver": "overlay", "Scope": "swarm"},
        ] + [{"Id": f"{i:x}" * 64, "Name": name, "Driver": "overlay", "Scope": "swarm"}
             for i, name in enumerate(self.USER_NETWORKS, start=10)]
        self.asked = []

    def __call__(self, ref):
        self.asked.append(ref)
        for net in self.nets:
            if net["Id"] == ref:
                return net
        for net in self.nets:
            if net["Name"] == ref:
                return net
        prefixed = [n for n in self.nets if n["Id"].startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        return None  # 404 (an ambiguous prefix is an error too)


def make_policy(**kwargs):
    kwargs.setdefault("resolve_network", FakeNetworks())
    return Policy(**kwargs)


def request(method, uri, body=None, raw=None, headers=None):
    """An AuthZReq as dockerd sends it; BODY is JSON-encoded, RAW is sent as bytes."""
    if body is not None:
        raw = json.dumps(body).encode()
    return {"User": "", "UserAuthNMethod": "", "RequestMethod": method, "RequestUri": uri,
            "RequestHeaders": headers or {"Content-Type": "application/json"},
            "RequestBody": base64.b64encode(raw).decode() if raw is not None else None}


def verdict(req, **kwargs):
    decision = make_policy(**kwargs).judge(req)
    return "allow" if decision.allow else decision.id


def create(body, uri="/v1.41/containers/create"):
    return verdict(request("POST", uri, body))


def create_raw(text, uri="/v1.41/containers/create"):
    return verdict(request("POST", uri, raw=text.encode()))


# --------------------------------------------------------------------------------------
# recorded requests

def _load(path):
    return json.loads(path.read_text())


RECORDED = {p.stem: _load(p) for p in sorted((FIXTURES / "recorded").glob("*.json"))}

# attack fixture -> the id its decisive request must be refused with
ATTACKS = {
    "bad-build": "build", "bad-commit": "commit", "bad-config-template": "secret-driver",
    "bad-cp-in": "copy", "bad-cp-out": "copy", "bad-export": "copy",
    "bad-exec-privileged": "exec-privileged", "bad-import": "image-transfer",
    "bad-load": "image-transfer", "bad-save": "image-transfer", "bad-login": "no-registry",
    "bad-pull": "no-registry", "bad-push": "no-registry", "bad-search": "no-registry",
    "bad-network-bridge-name": "network-options", "bad-network-connect-host": "host-network",
    "bad-network-ipam-driver": "ipam-driver", "bad-network-macvlan": "network-driver",
    "bad-network-host-driver": "network-driver",
    "bad-plugin-disable": "plugins", "bad-plugin-enable": "plugins", "bad-plugin-install": "plugins",
    "bad-plugin-rm": "plugins", "bad-plugin-set": "plugins",
    "bad-run-apparmor": "security-opt", "bad-run-label-disable": "security-opt",
    "bad-run-nnp-false": "security-opt", "bad-run-seccomp": "security-opt",
    "bad-run-systempaths": "system-paths",
    "bad-run-bind-cluster": "bind-mount", "bad-run-bind-etc-ro": "bind-mount",
    "bad-run-bind-root": "bind-mount", "bad-run-mount-bind": "bind-mount",
    "bad-run-mount-bind-upper": "bind-mount", "bad-run-bind-relative": "volume-name",
    "bad-run-mount-volume-abs-source": "volume-name",
    "bad-run-mount-volume-device": "volume-driver", "bad-run-mount-volume-driver": "volume-driver",
    "bad-run-volume-driver": "volume-driver", "bad-volume-create-bind": "volume-driver",
    "bad-volume-create-driver": "volume-driver", "bad-volume-create-tmpfs-opts": "volume-driver",
    "bad-run-cap-add": "cap-add", "bad-run-cap-add-all": "cap-add", "bad-run-privileged": "privileged",
    "bad-run-device": "devices", "bad-run-device-cgroup-rule": "devices", "bad-run-gpus": "devices",
    "bad-run-pid-host": "host-namespace", "bad-run-ipc-host": "host-namespace",
    "bad-run-uts-host": "host-namespace", "bad-run-userns-host": "host-namespace",
    "bad-run-cgroupns-host": "host-namespace",
    "bad-run-net-host": "host-network", "bad-run-net-host-short": "host-network",
    "bad-run-net-host-by-id": "host-network",
    "bad-run-cgroup-parent": "cgroup-parent", "bad-run-runtime": "runtime",
    "bad-run-log-gelf": "log-driver", "bad-run-log-syslog": "log-driver", "bad-run-sysctl": "sysctls",
    "bad-secret-driver": "secret-driver", "bad-swarm-init-external-ca": "swarm-external-ca",
    "bad-service-bind": "bind-mount", "bad-service-update-mount-bind": "bind-mount",
    "bad-service-volume-device": "volume-driver", "bad-service-cap-add": "cap-add",
    "bad-service-net-host": "host-network", "bad-service-update-net-host": "host-network",
    "bad-service-sysctl": "sysctls", "bad-service-log-driver": "log-driver",
    "bad-service-credential-spec": "service-privileges",
}
LEGIT = sorted(n for n in RECORDED if n.startswith(("ok-", "sdk-", "lesson-")))


def _registry_lookup(req):
    """`docker service create` asks GET /distribution/IMAGE/json to pin a digest; refusing it
    gives the CLI's usual 'could not be accessed on a registry' warning, as the lesson says."""
    return req["RequestMethod"] == "GET" and req["RequestUri"].split("?")[0].startswith("/v1.41/distribution/")


def test_every_recording_is_either_legitimate_or_a_listed_attack():
    assert RECORDED, "no recorded fixtures: run tests/unit/fixtures/authz/record.py"
    unlisted = set(RECORDED) - set(LEGIT) - set(ATTACKS)
    assert not unlisted, f"fixtures with no expectation: {sorted(unlisted)}"
    assert not set(ATTACKS) - set(RECORDED), "an attack lost its recording"


def test_recordings_come_from_the_node_cli_and_the_sdk():
    clients = {rec["client"].split(" in ")[0] for rec in RECORDED.values()}
    assert any(c.startswith("docker CLI 20.10.24") for c in clients)
    assert any(c.startswith("docker SDK") for c in clients)


@pytest.mark.parametrize("name", LEGIT)
def test_legitimate_recording_is_allowed(name):
    rec = RECORDED[name]
    judge = make_policy(booting=lambda: False).judge
    denied = [(r["RequestMethod"], r["RequestUri"], judge(r).id) for r in rec["requests"]
              if not judge(r).allow and not _registry_lookup(r)]
    assert not denied, f"{rec['command']}: {denied}"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_recording_is_refused_with_its_id(name):
    rec = RECORDED[name]
    requests = rec["requests"]
    mutating = [r for r in requests if r["RequestMethod"] in ("POST", "PUT", "DELETE")]
    decisive = mutating[0] if mutating else requests[-1]
    decision = make_policy().judge(decisive)
    assert (decision.allow, decision.id) == (False, ATTACKS[name]), \
        f"{rec['command']}: {decisive['RequestMethod']} {decisive['RequestUri']}"
    assert decision.msg.endswith(f" [labapp:{ATTACKS[name]}]")


def _lesson_commands():
    return record.lesson_commands()


def test_every_lesson_command_has_a_recording_that_is_allowed():
    commands = _lesson_commands()
    assert len(commands) >= 30
    missing = [" ".join(argv) for name, argv in commands.items() if name not in RECORDED]
    assert not missing, f"re-record the fixtures; no recording of: {missing}"
    for name, argv in commands.items():
        assert RECORDED[name]["command"] == ["docker", *argv]


def test_recorded_bodies_are_what_dockerd_forwards():
    creates = [r for rec in RECORDED.values() for r in rec["requests"]
               if r["RequestUri"].endswith("/containers/create")]
    assert creates and all(r["RequestBody"] for r in creates)
    # docker load streams a tar: dockerd never shows such a body to the plugin
    load = [r for r in RECORDED["bad-load"]["requests"] if "/images/load" in r["RequestUri"]][0]
    assert load["RequestBody"] is None and load["_body_not_forwarded"]["content_type"] == "application/x-tar"


# --------------------------------------------------------------------------------------
# hand-written: what only the raw API can send

def test_the_cli_bind_body_denied_and_the_same_body_with_a_volume_allowed():
    body = json.loads(base64.b64decode(
        [r for r in RECORDED["bad-run-bind-root"]["requests"] if r["RequestBody"]][0]["RequestBody"]))
    assert create(body) == "bind-mount"
    body["HostConfig"]["Binds"] = ["data:/host"]
    assert create(body) == "allow"


@pytest.mark.parametrize("body, expected", [
    ({"Image": "alpine", "HostConfig": {"privileged": True}}, "privileged"),
    ({"Image": "alpine", "hostconfig": {"PRIVILEGED": True}}, "privileged"),
    ({"Image": "alpine", "HostConfig": {"Bind\u017f": ["/:/h"]}}, "bind-mount"),          # ſ = s
    ({"Image": "alpine", "HostConfig": {"Networ\u212aMode": "host"}}, "host-network"),    # K = k
    ({"Image": "alpine", "HostConfig": {"\u017fecurityOpt": ["seccomp=unconfined"]}}, "security-opt"),
    ({"Image": "alpine", "HostConfig": {"Ma\u017f\u212aedPaths": []}}, "system-paths"),
    ({"Image": "alpine", "HostConfig": {"Mount\u017f": [{"Type": "bind", "Source": "/", "Target": "/h"}]}},
     "bind-mount"),
    ({"Image": "alpine", "HostConfig": {"capadd": ["ALL"]}}, "cap-add"),
    ({"Image": "alpine", "HostConfig": {"CapAdd": "SYS_ADMIN"}}, "cap-add"),   # StrSlice takes a string
    ({"Image": "alpine", "HostConfig": {"Privileged": "yes"}}, "privileged"),  # a type error is no pass
    ({"Image": "alpine", "HostConfig": {"Privileged": 1}}, "privileged"),
    ({"Image": "alpine", "networkingconfig": {"endpointsconfig": {"host": {}}}}, "host-network"),
    # not folds: Go matches no field, so nothing is asked for
    ({"Image": "alpine", "HostConfig": {"Pr\u0130vileged": True}}, "allow"),
    ({"Image": "alpine", "HostConfig": {"Privileged\u200b": True}}, "allow"),
    ({"Image": "alpine", "HostConfig": {"Privileged": False, "CapAdd": None, "MaskedPaths": None}}, "allow"),
])
def test_field_names_fold_like_go(body, expected):
    assert create(body) == expected


@pytest.mark.parametrize("text, expected", [
    ('{"Image":"alpine","HostConfig":{"Privileged":false,"Privileged":true}}', "privileged"),
    ('{"Image":"alpine","HostConfig":{"Privileged":true,"privileged":false}}', "allow"),
    ('{"Image":"alpine","HostConfig":{"NetworkMode":"host","NetworkMode":"bridge"}}', "allow"),
    ('{"Image":"alpine","HostConfig":{"NetworkMode":"bridge","networkmode":"host"}}', "host-network"),
    # Go merges a repeated object into the first: the bind would survive, so refuse
    ('{"Image":"alpine","HostConfig":{"Binds":["/:/h"]},"HostConfig":{}}', "body-invalid"),
    ('{"Image":"alpine","HostConfig":{"Binds":["/:/h"]},"hostConfig":{"Binds":null}}', "body-invalid"),
    # null leaves a Go bool as it was: refuse rather than guess
    ('{"Image":"alpine","HostConfig":{"Privileged":true,"Privileged":null}}', "body-invalid"),
    ('{"Image":"alpine","HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/h"}],'
     '"Mounts":[{"Target":"/x"}]}}', "body-invalid"),
    ('{"Image":"alpine","HostConfig":{"Mounts":[{"Type":"volume","Type":"bind","Source":"/","Target":"/h"}]}}',
     "bind-mount"),
    # map keys are kept as sent; the last of a repeated key wins
    ('{"Image":"alpine","HostConfig":{"Sysctls":{"a":"1","a":"2"}}}', "sysctls"),
    ('{"Image":"alpine","Labels":{"x":"1","x":"2"},"HostConfig":{}}', "allow"),
])
def test_repeated_fields_follow_go_or_are_refused(text, expected):
    assert create_raw(text) == expected


@pytest.mark.parametrize("body, expected", [
    ({"Image": "alpine", "Privileged": True}, "privileged"),
    ({"Image": "alpine", "Binds": ["/:/host"]}, "bind-mount"),
    ({"Image": "alpine", "Mounts": [{"Type": "bind", "Source": "/", "Target": "/h"}]}, "bind-mount"),
    ({"Image": "alpine", "CapAdd": ["SYS_ADMIN"]}, "cap-add"),
    ({"Image": "alpine", "PidMode": "host"}, "host-namespace"),
    ({"Image": "alpine", "NetworkMode": "host"}, "host-network"),
    ({"Image": "alpine", "CgroupParent": "/"}, "cgroup-parent"),        # Resources, two levels deep
    ({"Image": "alpine", "Devices": [{"PathOnHost": "/dev/sda"}]}, "devices"),
    ({"Image": "alpine", "SecurityOpt": ["apparmor=unconfined"]}, "security-opt"),
    ({"Image": "alpine", "Sysctls": {"kernel.core_pattern": "|/x"}}, "sysctls"),
    ({"Image": "alpine", "LogConfig": {"Type": "syslog"}}, "log-driver"),
    ({"Image": "alpine", "ReadonlyPaths": []}, "system-paths"),
    # dockerd copies VolumeDriver from the top level into a HostConfig that lacks one
    ({"Image": "alpine", "HostConfig": {"Binds": ["v:/x"]}, "VolumeDriver": "sshfs"}, "volume-driver"),
    # ignored by dockerd when HostConfig is present; judged anyway (it never hurts to refuse)
    ({"Image": "alpine", "HostConfig": {"NetworkMode": "bridge"}, "NetworkMode": "host"}, "host-network"),
    ({"Image": "alpine", "Memory": 1048576, "HostConfig": {"NetworkMode": "bridge"}}, "allow"),
])
def test_top_level_host_config_fields_are_judged(body, expected):
    assert create(body) == expected


@pytest.mark.parametrize("uri, expected", [
    ("/v1.41/containers/create", "privileged"),
    ("/containers/create", "privileged"),                  # no version: dockerd's default 1.41
    ("/v1.40/containers/create", "privileged"),
    ("/v1.041/containers/create", "privileged"),           # Go compares 1.041 as 1.41
    ("/containers/cre%61te", "privileged"),                # the router decodes before matching
    ("/v1.41/containers/create?name=x&platform=", "privileged"),
    ("/v1.23/containers/create", "api-version"),           # old APIs read other fields (start HostConfig)
    ("/v1.42/containers/create", "api-version"),
    ("/v1.41.0/containers/create", "api-version"),
    ("/v1..41/containers/create", "api-version"),
    ("/v/containers/create", "endpoint"),
    ("/v1.41/containers/x%2Fy/start", "bad-path"),
    ("/v1.41/containers/x%2fy/start", "bad-path"),
    ("/v1.41/containers/%2e%2e/create", "bad-path"),
    ("/v1.41/containers/../containers/create", "bad-path"),
    ("/v1.41/containers/./create", "bad-path"),
    ("//v1.41/containers/create", "bad-path"),
    ("/v1.41//containers/create", "bad-path"),
    ("/v1.41/containers/create%", "bad-path"),
    ("/v1.41/containers/create%zz", "bad-path"),
    ("/v1.41/containers/create%00", "bad-path"),
    ("/v1.41/containers/create\n", "bad-path"),
    ("/v1.41/containers/c\u0441eate", "bad-path"),           # a Cyrillic letter
    ("/v1.41/containers/create%C3%A9", "bad-path"),
    ("/v1.41/containers/create%FF", "bad-path"),
    ("/v1.41/containers/create#x", "bad-path"),
    ("/v1.41/containers/create/", "endpoint"),
    ("http://docker/v1.41/containers/create", "bad-path"),  # absolute-form request target
    ("*", "bad-path"),
    ("", "bad-path"),
])
def test_paths_are_read_strictly(uri, expected):
    assert verdict(request("POST", uri, {"Image": "alpine", "HostConfig": {"Privileged": True}})) == expected


@pytest.mark.parametrize("method, uri, expected", [
    ("GET", "/v1.41/containers/x/attach/ws", "endpoint"),
    ("POST", "/v1.41/containers/x/checkpoints", "endpoint"),
    ("OPTIONS", "/v1.41/containers/json", "endpoint"),
    ("get", "/_ping", "endpoint"),
    ("PATCH", "/v1.41/containers/x", "endpoint"),
    ("GET", "/debug/pprof/", "endpoint"),
    ("GET", "/v1.41/containers/a/b/json", "endpoint"),      # the router would read name "a/b"
    ("DELETE", "/v1.41/containers/x/checkpoints/y", "endpoint"),
    ("POST", "/v1.41/containers/x/copy", "copy"),
    ("HEAD", "/v1.41/containers/x/archive", "copy"),
    ("GET", "/v1.41/containers/x/archive?path=/", "copy"),
    ("PUT", "/v1.41/containers/x/archive?path=/", "copy"),
    ("GET", "/v1.41/containers/x/export", "copy"),
    ("POST", "/v1.41/commit?container=x", "commit"),
    ("POST", "/v1.41/build", "build"), ("POST", "/v1.41/build/cancel", "build"),
    ("POST", "/v1.41/session", "session"), ("POST", "/v1.41/grpc", "session"),
    ("POST", "/v1.41/auth", "no-registry"),
    ("POST", "/v1.41/images/create?fromImage=alpine", "no-registry"),
    ("POST", "/v1.41/images/create?fromSrc=-&repo=x", "image-transfer"),
    ("POST", "/v1.41/images/create?fromSrc=http://10.0.0.1/rootfs.tar", "image-transfer"),
    ("POST", "/v1.41/images/alpine/push", "no-registry"),
    ("GET", "/v1.41/images/get?names=alpine", "image-transfer"),
    ("GET", "/v1.41/images/library/alpine/get", "image-transfer"),
    ("GET", "/v1.41/images/search?term=x", "no-registry"),
    ("GET", "/v1.41/distribution/alpine/json", "no-registry"),
    ("POST", "/v1.41/plugins/pull?remote=x", "plugins"), ("POST", "/v1.41/plugins/create?name=x", "plugins"),
    ("POST", "/v1.41/plugins/x/upgrade", "plugins"), ("POST", "/v1.41/plugins/x/push", "plugins"),
    ("POST", "/v1.41/plugins/vieux/sshfs:latest/enable", "plugins"),
    ("GET", "/v1.41/plugins/privileges?remote=x", "plugins"),
    # reads and plain actions that stay allowed
    ("GET", "/v1.41/plugins", "allow"), ("GET", "/v1.41/plugins/vieux/sshfs:latest/json", "allow"),
    ("GET", "/v1.41/images/library/alpine/json", "allow"),
    ("DELETE", "/v1.41/images/alpine:latest", "allow"),
    ("POST", "/v1.41/images/alpine/tag?repo=mine&tag=1", "allow"),
    ("POST", "/v1.41/build/prune", "allow"),
    ("GET", "/v1.41/swarm/unlockkey", "allow"),
    ("POST", "/v1.41/swarm/unlock", "allow"),
    ("GET", "/networks/", "allow"),
    ("GET", "/v1.41/tasks/abc/logs", "allow"),
    ("POST", "/v1.41/containers/x/start", "allow"),
    ("HEAD", "/_ping", "allow"),
])
def test_endpoints(method, uri, expected):
    assert verdict(request(method, uri, raw=None)) == expected


JUDGED = [
    ("POST", "/v1.41/containers/create"), ("POST", "/v1.41/containers/create?x=/auth"),
    ("POST", "/v1.41/containers/x/update"),
    ("POST", "/v1.41/containers/x/exec"), ("POST", "/v1.41/volumes/create"),
    ("POST", "/v1.41/networks/create"), ("POST", "/v1.41/networks/n/connect"),
    ("POST", "/v1.41/services/create"), ("POST", "/v1.41/services/s/update"),
    ("POST", "/v1.41/swarm/init"), ("POST", "/v1.41/swarm/update"),
    ("POST", "/v1.41/secrets/create"), ("POST", "/v1.41/configs/c/update"),
]


@pytest.mark.parametrize("method, uri", JUDGED)
@pytest.mark.parametrize("headers", [
    {"Content-Type": "application/json", "Content-Length": "4242"},  # body 1 MiB or larger: not forwarded
    {"Content-Type": "application/json"},                          # chunked past 1 MiB: no length left
    {"Content-Type": "application/json; charset=utf-8", "Content-Length": "80"},  # dockerd accepts it
    {"Content-Type": "text/plain", "Content-Length": "80"},        # services/create decodes it anyway
    {},
])
def test_judged_endpoint_without_a_body_is_refused(method, uri, headers):
    assert verdict(request(method, uri, raw=None, headers=headers)) == "body-missing"


@pytest.mark.parametrize("raw, expected", [
    (b"", "body-missing"),
    (b"  \n", "body-missing"),
    (b"x" * policy.MAX_BODY, "body-missing"),
    (b"[]", "body-invalid"), (b"null", "body-invalid"), (b'"x"', "body-invalid"), (b"1", "body-invalid"),
    (b"{", "body-invalid"), (b"{'Image': 'alpine'}", "body-invalid"),
    (b'{"Image":"alpine"} {"HostConfig":{"Privileged":true}}', "body-invalid"),
    (b'{"Image":"alpine","HostConfig":{"CpuShares":NaN}}', "body-invalid"),
    (b'\xef\xbb\xbf{"Image":"alpine"}', "body-invalid"),
    (b'{"Image":"alpine","HostConfig":"privileged"}', "body-invalid"),
    (b'{"Image":"alpine","HostConfig":{"Binds":"/:/h"}}', "body-invalid"),
    (b'{"Image":"alpine","HostConfig":{"Mounts":{"Type":"bind"}}}', "body-invalid"),
    (b'{"Image":"alpine","HostConfig":{"PidMode":["host"]}}', "body-invalid"),
    (b"[" * 100000 + b"]" * 100000, "body-invalid"),
    (b'{"Image":"alpine","x":' + b"[" * 5000 + b"]" * 5000 + b"}", "body-invalid"),
    (b'{"Image":"al\xffpine","HostConfig":{}}', "allow"),      # Go reads U+FFFD, as here
    (b'{"Image":"alpine","HostConfig":{"\\u0050rivileged":true}}', "privileged"),
])
def test_unreadable_bodies_are_refused_without_crashing(raw, expected):
    assert verdict(request("POST", "/v1.41/containers/create", raw=raw)) == expected


def test_the_uri_is_read_from_dockerds_RequestUri_key():
    req = request("POST", "/v1.41/containers/create", {"Image": "alpine"})
    assert verdict(req) == "allow"
    req["RequestURI"] = req.pop("RequestUri")          # the name the Go field has, accepted alone
    assert verdict(req) == "allow"
    req["RequestUri"] = "/v1.41/build"                   # two URIs that disagree: refuse
    assert verdict(req) == "bad-request"
    del req["RequestURI"]
    assert verdict(req) == "build"


def test_request_body_that_is_not_base64_is_refused():
    req = request("POST", "/v1.41/containers/create", {"Image": "alpine"})
    req["RequestBody"] = "not base64!"
    assert verdict(req) == "bad-request"
    req["RequestBody"] = 5
    assert verdict(req) == "bad-request"


@pytest.mark.parametrize("req", [None, [], "x", {}, {"RequestMethod": 5, "RequestUri": "/_ping"},
                                 {"RequestMethod": "GET"}, {"RequestMethod": "GET", "RequestUri": 5}])
def test_malformed_requests_are_refused_never_raised(req):
    decision = make_policy().judge(req)
    assert not decision.allow and decision.id in ("bad-request", "bad-path")


def test_an_exception_anywhere_refuses():
    def broken(ref):
        raise RuntimeError("engine down")

    assert verdict(request("POST", "/v1.41/containers/create",
                           {"Image": "a", "HostConfig": {"NetworkMode": "test-net"}}),
                   resolve_network=broken) == "network-unknown"
    assert verdict(request("POST", "/v1.41/containers/create",
                           {"Image": "a", "HostConfig": {"NetworkMode": "test-net"}}),
                   resolve_network=lambda ref: ["not", "a", "network"]) == "network-unknown"
    decision = Policy(booting=lambda: 1 / 0).judge(request("POST", "/v1.41/images/load", raw=None))
    assert (decision.allow, decision.id) == (False, "internal-error")


@pytest.mark.parametrize("binds, expected", [
    (["data:/data"], "allow"), (["data:/data:ro"], "allow"), (["/data"], "allow"),
    (["my_vol.1-x:/data:rw,nocopy"], "allow"),
    (["/:/host"], "bind-mount"), (["/etc/shadow:/s:ro"], "bind-mount"),
    (["/var/run/docker.sock:/var/run/docker.sock"], "bind-mount"),
    (["\uff0fetc:/x"], "volume-name"),         # fullwidth solidus
    (["\u2215etc:/x"], "volume-name"),         # division slash
    ([" /etc:/x"], "volume-name"), (["./etc:/x"], "volume-name"), (["~/x:/x"], "volume-name"),
    (["..:/x"], "volume-name"), ([":/x"], "volume-name"), (["data\u0000:/x"], "volume-name"),
    (["dat\u0430:/x"], "volume-name"),         # a Cyrillic a
    (["data:/d", "/:/h"], "bind-mount"),
    ([5], "body-invalid"),
])
def test_bind_sources_must_be_plain_volume_names(binds, expected):
    assert create({"Image": "alpine", "HostConfig": {"Binds": binds}}) == expected


MOUNT_CASES = [
    ({"Type": "volume", "Source": "data", "Target": "/d"}, "allow"),
    ({"Type": "volume", "Target": "/d"}, "allow"),
    ({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024}}, "allow"),
    ({"Type": "volume", "Source": "d", "Target": "/d",
      "VolumeOptions": {"DriverConfig": {"Name": "local"}, "NoCopy": True}}, "allow"),
    ({"Type": "bind", "Source": "/", "Target": "/h"}, "bind-mount"),
    ({"Type": "BIND", "Source": "/", "Target": "/h"}, "bind-mount"),
    ({"Type": "b\u0131nd", "Source": "/", "Target": "/h"}, "bind-mount"),  # Go's ToUpper: BIND
    ({"Type": "", "Source": "/", "Target": "/h"}, "bind-mount"),            # swarm: "" is BIND
    ({"Source": "/", "Target": "/h"}, "bind-mount"),
    ({"Type": "npipe", "Source": "/", "Target": "/h"}, "bind-mount"),
    ({"Type": "volume", "Source": "d", "Target": "/h", "BindOptions": {}}, "bind-mount"),
    ({"Type": "tmpfs", "Source": "/", "Target": "/h"}, "bind-mount"),
    ({"Type": "volume", "Source": "/etc", "Target": "/h"}, "volume-name"),
    ({"Type": "volume", "Source": "\uff0fetc", "Target": "/h"}, "volume-name"),
    ({"Type": "volume", "Source": "d", "Target": "/h",
      "VolumeOptions": {"DriverConfig": {"Name": "local",
                                         "Options": {"type": "none", "o": "bind", "device": "/"}}}},
     "volume-driver"),
    ({"Type": "volume", "Source": "d", "Target": "/h",
      "volumeoptions": {"driverconfig": {"options": {"device": "/"}}}}, "volume-driver"),
    ({"Type": "volume", "Source": "d", "Target": "/h", "VolumeOptions": {"DriverConfig": {"Name": "nfs"}}},
     "volume-driver"),
]


@pytest.mark.parametrize("mount, expected", MOUNT_CASES)
def test_container_mounts(mount, expected):
    assert create({"Image": "alpine", "HostConfig": {"Mounts": [mount]}}) == expected


def service(container_spec=None, **task):
    spec = {"Name": "s", "TaskTemplate": {"ContainerSpec": {"Image": "nginx", **(container_spec or {})},
                                          **task}, "Mode": {"Replicated": {"Replicas": 1}}}
    return spec


def judge_service(spec, uri="/v1.41/services/create"):
    return verdict(request("POST", uri, spec))


@pytest.mark.parametrize("mount, expected", MOUNT_CASES + [
    ({"Type": "VOLUME", "Source": "data", "Target": "/d"}, "allow"),  # services upper-case the type
])
def test_service_mounts(mount, expected):
    assert judge_service(service({"Mounts": [mount]})) == expected
    assert judge_service(service({"Mounts": [mount]}), "/v1.41/services/abc/update?version=3") == expected


@pytest.mark.parametrize("spec, expected", [
    (service(), "allow"),
    (service(Runtime="container"), "allow"),
    (service(Runtime="plugin", PluginSpec={"Name": "x", "Remote": "evil/plugin"}), "service-runtime"),
    (service(Runtime="plugin"), "service-runtime"),
    (service(Runtime="attachment", NetworkAttachmentSpec={"ContainerID": "x"}), "service-runtime"),
    (service(PluginSpec={"Remote": "evil/plugin"}), "service-runtime"),
    (service(Runtime="Container"), "service-runtime"),
    (service({"Privileges": {"CredentialSpec": {"File": "x"}}}), "service-privileges"),
    (service({"Privileges": {"SELinuxContext": {"Disable": True}}}), "service-privileges"),
    (service({"Privileges": {"CredentialSpec": None, "SELinuxContext": None}}), "allow"),
    (service({"CapabilityAdd": ["CAP_SYS_ADMIN"]}), "cap-add"),
    (service({"CapabilityDrop": ["CAP_NET_RAW"]}), "allow"),
    (service({"Sysctls": {"net.ipv4.ip_forward": "1"}}), "sysctls"),
    (service(LogDriver={"Name": "gelf", "Options": {"gelf-address": "udp://x:1"}}), "log-driver"),
    (service(LogDriver={"Name": "json-file", "Options": {"max-size": "1m"}}), "allow"),
    (service(Networks=[{"Target": "host"}]), "host-network"),
    (service(Networks=[{"Target": HOST_ID}]), "host-network"),
    (service(Networks=[{"Target": "hostnet"}]), "host-network"),             # an id prefix
    (service(Networks=[{"Target": "test-cluster-net", "DriverOpts": {"x": "y"}}]), "network-options"),
    # not on this node: not its host network (a worker learns attachable overlays late)
    (service(Networks=[{"Target": "nosuch-net"}]), "allow"),
    (service(Networks=[{"Target": "test-cluster-net"}, {"Target": record.NET2_ID}]), "allow"),
    ({**service(), "Networks": [{"Target": "host"}]}, "host-network"),       # deprecated top-level list
    ({"name": "s", "tasktemplate": {"containerspec": {"image": "nginx",
                                                      "mounts": [{"type": "bind", "source": "/"}]}}},
     "bind-mount"),
])
def test_service_specs(spec, expected):
    assert judge_service(spec) == expected


def test_a_repeated_service_object_is_refused():
    text = ('{"Name":"s","TaskTemplate":{"ContainerSpec":{"Mounts":[{"Type":"bind","Source":"/","Target":"/h"}]},'
            '"containerspec":{"Image":"nginx"}}}')
    assert verdict(request("POST", "/v1.41/services/create", raw=text.encode())) == "body-invalid"


@pytest.mark.parametrize("opts, expected", [
    (["no-new-privileges"], "allow"), (["no-new-privileges:true"], "allow"),
    (["no-new-privileges=1"], "allow"), (["no-new-privileges=True"], "allow"),
    (["no-new-privileges=false"], "security-opt"), (["no-new-privileges:0"], "security-opt"),
    (["no-new-privileges:true=1"], "security-opt"), (["no-new-privileges=yes"], "security-opt"),
    (["disable"], "security-opt"), (["label=disable"], "security-opt"), (["label:type:spc_t"], "security-opt"),
    (["seccomp=unconfined"], "security-opt"), (["seccomp:unconfined"], "security-opt"),
    (["apparmor=unconfined"], "security-opt"), (["systempaths=unconfined"], "security-opt"),
    (["No-New-Privileges"], "security-opt"), (["no-new-privileges "], "security-opt"),
    (["no-new-privileges", "seccomp={}"], "security-opt"),
])
def test_security_options(opts, expected):
    assert create({"Image": "alpine", "HostConfig": {"SecurityOpt": opts}}) == expected


@pytest.mark.parametrize("field", ["PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode"])
@pytest.mark.parametrize("value, expected", [
    ("host", "host-namespace"), ("host:x", "host-namespace"), ("", "allow"),
    ("container:alpine1", "allow"), ("private", "allow"),
])
def test_host_namespaces(field, value, expected):
    if field == "CgroupnsMode" and value.startswith("container"):
        value = "private"
    assert create({"Image": "alpine", "HostConfig": {field: value}}) == expected


@pytest.mark.parametrize("hc, expected", [
    ({"Cgroup": "host"}, "host-namespace"), ({"Cgroup": "container:x"}, "allow"),
    ({"CgroupParent": "/docker"}, "cgroup-parent"), ({"Runtime": ""}, "allow"),
    ({"Runtime": "runc"}, "runtime"),            # a hardened node's default is labapp-runc
    ({"Runtime": "labapp-runc"}, "runtime"),
    ({"Runtime": "io.containerd.runsc.v1"}, "runtime"), ({"Runtime": "nvidia"}, "runtime"),
    ({"Sysctls": {}}, "allow"), ({"Sysctls": {"net.core.somaxconn": "1024"}}, "sysctls"),
    ({"Devices": []}, "allow"), ({"DeviceCgroupRules": ["c 1:3 mr"]}, "devices"),
    ({"BlkioWeightDevice": [], "BlkioDeviceReadBps": None}, "allow"),
    ({"BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": 1}]}, "devices"),
    ({"BlkioWeightDevice": [{"Path": "/etc/shadow", "Weight": 10}]}, "devices"),
    ({"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]}, "devices"),
    ({"LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}}}, "allow"),
    ({"LogConfig": {"Type": "local"}}, "allow"), ({"LogConfig": {"Type": "none"}}, "allow"),
    ({"LogConfig": {"Type": "fluentd"}}, "log-driver"), ({"LogConfig": {"Type": "JSON-FILE"}}, "log-driver"),
    ({"VolumeDriver": "local", "Binds": ["v:/x"]}, "allow"),
    ({"VolumeDriver": "sshfs", "Binds": ["v:/x"]}, "volume-driver"),
    ({"MaskedPaths": None, "ReadonlyPaths": None}, "allow"),
    ({"MaskedPaths": ["/proc/kcore"]}, "system-paths"),
    ({"Privileged": False, "CapAdd": [], "CapDrop": ["ALL"]}, "allow"),
])
def test_other_host_config_fields(hc, expected):
    assert create({"Image": "alpine", "HostConfig": hc}) == expected


@pytest.mark.parametrize("body, expected, asked", [
    ({"HostConfig": {"NetworkMode": "test-net"}}, "allow", ["test-net"]),
    ({"HostConfig": {"NetworkMode": "default"}}, "allow", []),
    ({"HostConfig": {"NetworkMode": "bridge"}}, "allow", []),
    ({"HostConfig": {"NetworkMode": "none"}}, "allow", []),
    ({"HostConfig": {"NetworkMode": "container:alpine1"}}, "allow", []),
    ({"HostConfig": {"NetworkMode": "host"}}, "host-network", []),
    ({"HostConfig": {"NetworkMode": HOST_ID}}, "host-network", [HOST_ID]),
    ({"HostConfig": {"NetworkMode": "hostn"}}, "host-network", ["hostn"]),          # an id prefix
    # "host" in any case: on a manager dockerd's lookup finds the swarm's host network by
    # "Host" too (seen on a real sandbox: the container was made, its start refused).
    ({"HostConfig": {"NetworkMode": "HOST"}}, "host-network", []),
    ({"HostConfig": {"NetworkMode": "Host"}}, "host-network", []),
    ({"NetworkingConfig": {"EndpointsConfig": {"hOsT": {}}}}, "host-network", []),
    # Not found on this node (404): it cannot be the node's own host network, which every
    # engine has; dockerd may still find an attachable swarm overlay through its manager.
    ({"HostConfig": {"NetworkMode": "nosuch"}}, "allow", ["nosuch"]),
    ({"HostConfig": {"NetworkMode": "host:x"}}, "network-unknown", []),
    ({"HostConfig": {"NetworkMode": "my net"}}, "network-unknown", []),
    ({"NetworkingConfig": {"EndpointsConfig": {"host": {}}}}, "host-network", []),
    ({"NetworkingConfig": {"EndpointsConfig": {"hostnet": None}}}, "host-network", ["hostnet"]),
    ({"NetworkingConfig": {"EndpointsConfig": {"test-net": {"Aliases": ["a"]}}}}, "allow", ["test-net"]),
    # dockerd prefers EndpointSettings.NetworkID to the key (daemon.getNetworkID)
    ({"HostConfig": {"NetworkMode": "test-net"},
      "NetworkingConfig": {"EndpointsConfig": {"test-net": {"NetworkID": HOST_ID}}}}, "host-network",
     ["test-net", HOST_ID]),
    ({"NetworkingConfig": {"EndpointsConfig": {"test-net": {"DriverOpts": {"x": "y"}}}}}, "network-options", []),
])
def test_network_references_are_resolved(body, expected, asked):
    networks = FakeNetworks()
    assert verdict(request("POST", "/v1.41/containers/create", {"Image": "alpine", **body}),
                   resolve_network=networks) == expected
    assert networks.asked == asked


def test_without_a_resolver_a_network_reference_is_refused():
    req = request("POST", "/v1.41/containers/create", {"Image": "a", "HostConfig": {"NetworkMode": "test-net"}})
    assert Policy().judge(req).id == "network-unknown"
    assert Policy().judge(request("POST", "/v1.41/containers/create", {"Image": "a"})).allow


@pytest.mark.parametrize("uri, body, expected", [
    ("/v1.41/networks/test-net/connect", {"Container": "c"}, "allow"),
    ("/v1.41/networks/host/connect", {"Container": "c"}, "host-network"),
    ("/v1.41/networks/hostnetid/connect", {"Container": "c"}, "host-network"),
    ("/v1.41/networks/nosuch/connect", {"Container": "c"}, "allow"),  # dockerd answers 404 itself
    ("/v1.41/networks/test-net/connect", {"Container": "c", "EndpointConfig": {"NetworkID": HOST_ID}},
     "host-network"),
    ("/v1.41/networks/test-net/connect", {"Container": "c", "endpointconfig": {"networkid": "hostn"}},
     "host-network"),
    ("/v1.41/networks/test-net/connect", {"Container": "c", "EndpointConfig": {"DriverOpts": {"a": "b"}}},
     "network-options"),
    ("/v1.41/networks/test-net/disconnect", {"Container": "c", "Force": True}, "allow"),
])
def test_network_connect(uri, body, expected):
    assert verdict(request("POST", uri, body)) == expected


@pytest.mark.parametrize("body, expected", [
    ({"Name": "n", "Driver": "overlay", "Attachable": True, "Options": {"encrypted": ""}}, "allow"),
    ({"Name": "n", "Driver": "bridge", "Internal": True,
      "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.9.0.0/24"}], "Options": {}}}, "allow"),
    ({"Name": "n"}, "allow"),
    ({"Name": "n", "Driver": "macvlan", "Options": {"parent": "eth0"}}, "network-driver"),
    ({"Name": "n", "Driver": "ipvlan"}, "network-driver"), ({"Name": "n", "Driver": "host"}, "network-driver"),
    ({"Name": "n", "Driver": "null"}, "network-driver"), ({"Name": "n", "Driver": "Overlay"}, "network-driver"),
    ({"Name": "n", "driver": "macvlan"}, "network-driver"),
    ({"Name": "n", "Options": {"com.docker.network.bridge.name": "eth0"}}, "network-options"),
    ({"Name": "n", "Options": {"com.docker.network.driver.overlay.vxlanid_list": "4096"}}, "network-options"),
    ({"Name": "n", "Options": {"Encrypted": ""}}, "network-options"),     # map keys are not folded
    ({"Name": "n", "IPAM": {"Driver": "evil"}}, "ipam-driver"),
    ({"Name": "n", "IPAM": {"Options": {"a": "b"}}}, "ipam-driver"),
    ({"Name": "n", "ConfigOnly": True}, "network-options"),
    ({"Name": "n", "ConfigFrom": {"Network": "cfg"}}, "network-options"),
])
def test_network_create(body, expected):
    assert verdict(request("POST", "/v1.41/networks/create", body)) == expected


@pytest.mark.parametrize("body, expected", [
    ({"Name": "data"}, "allow"), ({"Name": "data", "Driver": "local", "DriverOpts": {}}, "allow"),
    ({"Name": "v", "Driver": "local", "DriverOpts": {"type": "none", "o": "bind", "device": "/"}}, "volume-driver"),
    ({"Name": "v", "driveropts": {"device": "/"}}, "volume-driver"),
    ({"Name": "v", "Driver\u200b": "x", "DriverOpts": {}}, "allow"),
    ({"Name": "v", "Driver": "Local"}, "volume-driver"), ({"Name": "v", "Driver": "sshfs"}, "volume-driver"),
    ({"Name": "v", "DriverOpts": {"type": "tmpfs", "device": "tmpfs"}}, "volume-driver"),
])
def test_volume_create(body, expected):
    assert verdict(request("POST", "/v1.41/volumes/create", body)) == expected


@pytest.mark.parametrize("uri, body, expected", [
    ("/v1.41/containers/c/exec", {"Cmd": ["sh"], "Privileged": False}, "allow"),
    ("/v1.41/containers/c/exec", {"Cmd": ["sh"], "Privileged": True}, "exec-privileged"),
    ("/v1.41/containers/c/exec", {"Cmd": ["sh"], "privileged": 1}, "exec-privileged"),
    ("/v1.41/containers/c/update", {"Memory": 10485760, "CpuShares": 512, "RestartPolicy": {"Name": "always"}},
     "allow"),
    ("/v1.41/containers/c/update", {"Devices": [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda",
                                                 "CgroupPermissions": "rwm"}]}, "devices"),
    ("/v1.41/containers/c/update", {"DeviceCgroupRules": ["a *:* rwm"]}, "devices"),
    ("/v1.41/containers/c/update", {"DeviceRequests": [{"Driver": "nvidia"}]}, "devices"),
    ("/v1.41/containers/c/update", {"CgroupParent": "/"}, "cgroup-parent"),
    ("/v1.41/swarm/init", {"ListenAddr": "0.0.0.0:2377", "Spec": {"TaskDefaults": {"LogDriver": {"Name": "syslog"}}}},
     "log-driver"),
    ("/v1.41/swarm/update?version=3", {"TaskDefaults": {"LogDriver": {"Name": "gelf"}}}, "log-driver"),
    ("/v1.41/swarm/update?version=3", {"CAConfig": {"ExternalCAs": [{"URL": "https://x"}]}}, "swarm-external-ca"),
    ("/v1.41/swarm/update?version=3", {"TaskDefaults": {"LogDriver": {"Name": "json-file"}}}, "allow"),
    ("/v1.41/secrets/create", {"Name": "s", "Data": "eA=="}, "allow"),
    ("/v1.41/secrets/create", {"Name": "s", "Driver": {"Name": "vault"}}, "secret-driver"),
    ("/v1.41/configs/create", {"Name": "c", "Data": "eA==", "Templating": {"Name": "golang"}}, "secret-driver"),
    ("/v1.41/secrets/abc/update?version=2", {"Name": "s", "Labels": {"a": "b"}}, "allow"),
])
def test_other_judged_bodies(uri, body, expected):
    assert verdict(request("POST", uri, body)) == expected


def _raft(**fields):
    return {"Raft": {"SnapshotInterval": 500, "KeepOldSnapshots": 0, "LogEntriesForSlowFollowers": 500,
                     **fields}, "Orchestration": {"TaskHistoryRetentionLimit": 5}}


@pytest.mark.parametrize("uri, body, expected", [
    ("/v1.41/swarm/update?version=3", _raft(), "allow"),
    ("/v1.41/swarm/update?version=3", _raft(SnapshotInterval=10000), "allow"),
    ("/v1.41/swarm/update?version=3", _raft(SnapshotInterval=0), "allow"),  # the engine's default
    ("/v1.41/swarm/update?version=3", _raft(SnapshotInterval=1), "swarm-raft"),
    ("/v1.41/swarm/update?version=3", _raft(SnapshotInterval=18446744073709551615), "swarm-raft"),
    ("/v1.41/swarm/update?version=3", _raft(SnapshotInterval=600.5), "swarm-raft"),
    ("/v1.41/swarm/update?version=3", _raft(SnapshotInterval=False), "swarm-raft"),
    ("/v1.41/swarm/update?version=3", _raft(KeepOldSnapshots=1000000), "swarm-raft"),
    ("/v1.41/swarm/update?version=3", _raft(LogEntriesForSlowFollowers=10 ** 9), "swarm-raft"),
    ("/v1.41/swarm/update?version=3", {**_raft(), "Orchestration": {"TaskHistoryRetentionLimit": 100000}},
     "swarm-raft"),
    ("/v1.41/swarm/update?version=3", {"raft": {"keepOldSnapshots": 7}}, "swarm-raft"),  # Go's field folding
    ("/v1.41/swarm/init", {"ListenAddr": "0.0.0.0:2377", "Spec": _raft(KeepOldSnapshots=5)}, "swarm-raft"),
    ("/v1.41/services/create", {"Name": "web", "Mode": {"Replicated": {"Replicas": 16}}}, "allow"),
    ("/v1.41/services/create", {"Name": "web", "Mode": {"Replicated": {"Replicas": 17}}}, "replicas"),
    ("/v1.41/services/abc/update?version=9", {"Name": "web", "Mode": {"Replicated": {"Replicas": 500}}}, "replicas"),
    ("/v1.41/services/create", {"Name": "j", "Mode": {"ReplicatedJob": {"TotalCompletions": 200}}}, "replicas"),
    ("/v1.41/services/create", {"Name": "j", "Mode": {"ReplicatedJob": {"MaxConcurrent": 100}}}, "replicas"),
    ("/v1.41/services/create", {"Name": "web", "Mode": {"Replicated": {"Replicas": "5"}}}, "replicas"),
    ("/v1.41/services/create", {"Name": "web", "Labels": {"k": "x" * 20000}}, "too-large"),
    ("/v1.41/nodes/abc/update?version=4", {"Labels": {"k": "x" * 20000}, "Role": "worker"}, "too-large"),
    ("/v1.41/nodes/abc/update?version=4", {"Labels": {"zone": "a"}, "Role": "worker"}, "allow"),
    ("/v1.41/networks/create", {"Name": "big", "Driver": "overlay", "Labels": {"k": "x" * 20000}}, "too-large"),
    ("/v1.41/secrets/create", {"Name": "s", "Data": "eA==" * 5000}, "too-large"),
])
def test_what_the_swarm_stores_is_kept_small(uri, body, expected):
    assert verdict(request("POST", uri, body)) == expected


def test_a_store_writing_body_too_large_to_be_forwarded_is_refused_by_its_length():
    """dockerd forwards no body of 1 MiB or more, but runs the request: its Content-Length counts."""
    update = request("POST", "/v1.41/nodes/abc/update?version=4", raw=None,
                     headers={"Content-Type": "application/json", "Content-Length": str(2 << 20)})
    assert verdict(update) == "too-large"


def test_the_messages_name_the_limits_they_enforce():
    assert f"at most {policy.MAX_REPLICAS} tasks" in REFUSALS["replicas"]
    assert f"more than {policy.RAFT_BODY // 1024} KiB" in REFUSALS["too-large"]


def test_images_load_only_while_the_node_boots():
    load = request("POST", "/v1.41/images/load?quiet=1", raw=None,
                   headers={"Content-Type": "application/x-tar", "Content-Length": "2048"})
    assert verdict(load, booting=lambda: True) == "allow"
    assert verdict(load, booting=lambda: False) == "image-transfer"
    assert verdict(load) == "image-transfer"


def test_every_refusal_is_one_sentence_with_its_tag():
    assert len(REFUSALS) >= 30
    for rid, text in REFUSALS.items():
        msg = policy.message(rid)
        assert msg.endswith(f" [labapp:{rid}]") and msg.count("[labapp:") == 1
        assert text[0].isupper() and text.endswith("."), rid
        assert not any(text[i] == "." and text[i + 1] == " " and text[i + 2].isupper()
                       for i in range(len(text) - 2)), f"{rid}: more than one sentence"
        assert ":" in text, f"{rid}: says what to do instead after a colon"


def test_every_refusal_id_the_code_uses_is_listed():
    source = Path(policy.__file__).read_text()
    used = {m for pattern in (r'Refusal\("([a-z-]+)"', r'refuse\("([a-z-]+)"\)', r'Decision\(False, "([a-z-]+)"')
            for m in re.findall(pattern, source)}
    assert used <= set(REFUSALS), used - set(REFUSALS)
    assert set(REFUSALS) - used <= {"bad-request"}  # bad-request is the plugin's own


def test_endpoint_table_names_every_endpoint():
    rows = policy.endpoint_table()
    assert len(rows) == len(policy.ENDPOINTS)
    kinds = {kind.split(":")[0] for _, _, kind in rows}
    assert {"allowed", "judged", "refused"} <= kinds


def test_policy_uses_the_standard_library_only():
    for name in ("policy.py", "plugin.py"):
        tree = ast.parse((Path(policy.__file__).parent / name).read_text())
        modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names}
        modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
        assert modules <= set(sys.stdlib_module_names), (name, modules - set(sys.stdlib_module_names))

