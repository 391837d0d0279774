"""The node engines' authorization policy: which Docker API requests a learner may make.

Every API request to a node's dockerd (Docker 20.10, API 1.41) reaches the labapp-authz
plugin as an AuthZReq (RequestMethod, the raw request URI as "RequestUri", RequestHeaders,
and the JSON RequestBody, base64, when dockerd forwards it). `Policy.judge` answers it:

- default deny: an allow-list of (method, path) endpoints; some are judged on their body;
  anything unknown, any path the router could read differently (encoded '/', dot segments,
  '//', unusual characters), any API version but 1.40/1.41 is refused;
- a judged endpoint without its body (too large, chunked past 1 MiB, not sent as exactly
  application/json, or empty) is refused: dockerd still runs such requests but never shows
  their body to the plugin (pkg/authorization/authz.go, sendBody and drainBody);
- bodies are read as dockerd reads them (Go encoding/json): field names match
  case-insensitively, with U+017F 'ſ' folding to s and U+212A 'K' to k; unknown fields are
  ignored; containers/create also takes every HostConfig field at the top level (the
  deprecated embedded *HostConfig of ContainerConfigWrapper); map keys stay as sent. A
  repeated field is judged by its last value when every copy is a plain string, number or
  bool; repeated objects, arrays or nulls are refused, because Go merges a repeated object
  into the earlier one and reuses slice elements (golang/go#21092) rather than replacing;
- network references (container NetworkMode and EndpointsConfig keys, EndpointSettings
  NetworkID, networks/{id}/connect, service Networks Targets) are resolved by the injected
  `resolve_network` (GET /networks/{ref} on the node's own engine); a failed lookup denies.

A refusal's message is one sentence that says what to do instead and ends with
" [labapp:ID]"; REFUSALS lists every ID. Standard library only: this file also runs inside
the node (Debian bookworm's python3), beside plugin.py.

It is one file of some 800 lines on purpose: it is the whole of what a node's engine lets a
learner do, read by a reviewer in one sitting from the URI to the last body field, and the
node loads it as a single file beside plugin.py (no package, no import path to get wrong).
Its parts, in order: the refusals (REFUSALS), the request path, the body as Go decodes it,
the judges, the endpoint table (ENDPOINTS) and Policy.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qsl

API_VERSIONS = ((1, 40), (1, 41))  # the node CLI and labapp's SDK both speak 1.41
MAX_BODY = 1048576                 # dockerd never forwards a body of 1 MiB or more
LOG_DRIVERS = ("", "json-file", "local", "none")
NETWORK_DRIVERS = ("", "bridge", "overlay")
NETWORK_OPTIONS = ("encrypted",)
TRUE_WORDS = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool, true side
# The swarm's store is written to the managers' disk (a volume with no size limit): what a
# learner may write there is kept small. A request that changes the store carries at most
# RAFT_BODY bytes (a service spec the CLI sends is 1-3 KiB); a service runs at most
# MAX_REPLICAS tasks; the raft log is compacted into one snapshot every SNAPSHOT_INTERVALS
# entries at most, old snapshots are not kept, and at most TASK_HISTORY finished tasks a slot.
RAFT_BODY = 16 * 1024
MAX_REPLICAS = 16
SNAPSHOT_INTERVALS = (100, 10000)  # Docker's default is 10000; labapp's own swarm init uses 500
MAX_SLOW_FOLLOWER_ENTRIES = 500    # Docker's default
TASK_HISTORY = 5                   # Docker's default

REFUSALS: dict[str, str] = {
    "bad-path": "This request's path is written in an unusual way (encoded slashes, dot segments, "
                "double slashes or special characters), so it was refused: use plain names with the docker CLI.",
    "api-version": "The engines in this lab accept Docker API versions 1.40 and 1.41 only: "
                   "use the docker CLI on the node without setting DOCKER_API_VERSION.",
    "endpoint": "This Docker API call is switched off in the lab: use the docker commands the lesson shows.",
    "body-missing": "The engine could not check this request because its JSON body was missing, "
                    "too large or not sent as application/json: send it with the docker CLI instead.",
    "body-invalid": "The request body is not JSON the lab can check (it may repeat a field or use the "
                    "wrong type): send it with the docker CLI instead.",
    "bind-mount": "Mounting files or folders of the node into a container is not allowed here: use a "
                  "named volume instead, such as -v data:/data or --mount type=volume,source=data,target=/data.",
    "volume-name": "A volume name may only use letters, digits, '_', '.' and '-': pick a plain name "
                   "such as data (-v data:/data).",
    "volume-driver": "Volumes here use the local driver without options: create them with "
                     "docker volume create NAME, or let -v NAME:/path create one.",
    "privileged": "Privileged containers are not allowed in this lab: run the container without --privileged.",
    "cap-add": "Adding Linux capabilities is not allowed in this lab: leave out --cap-add.",
    "devices": "Devices of the node cannot be given to containers here: leave out --device, "
               "--device-cgroup-rule, --gpus and the --blkio-weight-device and --device-read/write options.",
    "security-opt": "The only security option allowed here is no-new-privileges: leave out the "
                    "other --security-opt values.",
    "system-paths": "The kernel paths that Docker hides or makes read-only cannot be changed here: "
                    "leave out --security-opt systempaths=unconfined.",
    "host-namespace": "Sharing the node's process, IPC, hostname, user or cgroup namespace is not "
                      "allowed: leave out --pid, --ipc, --uts, --userns and --cgroupns host (and --cgroup).",
    "host-network": "The node's host network is off limits in this lab: use a bridge or overlay network "
                    "instead (docker network create -d overlay --attachable NAME).",
    "network-unknown": "That network could not be found on this node: check its name with docker network ls, "
                       "or create it first with docker network create.",
    "network-driver": "Networks in this lab use the bridge or overlay driver: create them with "
                      "-d bridge or -d overlay.",
    "network-options": "Of the network options only encrypted is available here: keep --attachable, "
                       "--internal and --subnet, and leave out the other -o/--opt and --driver-opt values.",
    "ipam-driver": "Networks here use Docker's default address management: leave out --ipam-driver and --ipam-opt.",
    "cgroup-parent": "Choosing a container's parent cgroup is not allowed here: leave out --cgroup-parent.",
    "runtime": "Only the default container runtime is available here: leave out --runtime.",
    "log-driver": "Logs stay on the node in this lab: use the json-file, local or none log driver, "
                  "or leave out --log-driver.",
    "sysctls": "Kernel parameters cannot be set for containers here: leave out --sysctl.",
    "exec-privileged": "Running docker exec with --privileged is not allowed here: run it without --privileged.",
    "service-runtime": "Services in this lab run containers only: create the service from an image "
                       "(docker service create --name NAME IMAGE).",
    "service-privileges": "Services cannot set credential specs or SELinux contexts here: leave out "
                          "--credential-spec.",
    "plugins": "Docker plugins cannot be installed or changed in this lab: docker plugin ls and "
               "docker plugin inspect still work.",
    "build": "Building images is not available in this lab: use the alpine and nginx images that are "
             "already on every node.",
    "commit": "Saving a container as an image is not available in this lab: use the alpine and nginx "
              "images that are already on every node.",
    "no-registry": "This lab has no registry, so pulling, pushing, searching and logging in do not "
                   "work: the alpine and nginx images are already on every node.",
    "image-transfer": "Images cannot be saved, loaded or imported in this lab: the alpine and nginx "
                      "images are already on every node.",
    "copy": "Copying files between the node and a container is not available here: look inside with "
            "docker exec CONTAINER cat FILE instead.",
    "session": "Build sessions and gRPC streams are not available in this lab: use the docker commands "
               "the lesson shows.",
    "swarm-external-ca": "An external certificate authority cannot be used in this lab: let the swarm "
                         "run its own (leave out --external-ca).",
    "secret-driver": "Secrets and configs are kept by the swarm itself here: leave out --driver and "
                     "--template-driver.",
    "swarm-raft": "The swarm's log and snapshot settings are fixed in this lab: leave out --snapshot-interval, "
                  "--max-snapshots and --task-history-limit.",
    "replicas": "A service here runs at most 16 tasks: ask for fewer replicas.",  # MAX_REPLICAS
    "too-large": "This request would store more than 16 KiB in the swarm: use shorter labels, "  # RAFT_BODY
                 "environment values and names.",
    "bad-request": "The engine's guard could not read this request, so it was refused: try the command again.",
    "internal-error": "The engine's guard could not check this request, so it was refused: try again, "
                      "or run the command as the lesson shows it.",
}


def message(refusal_id: str) -> str:
    """The learner's sentence for REFUSAL_ID, ending with its ' [labapp:ID]' tag."""
    return f"{REFUSALS[refusal_id]} [labapp:{refusal_id}]"


@dataclass(frozen=True)
class Decision:
    """The answer to one AuthZReq; DETAIL is for the node's log only, never the learner."""
    allow: bool
    id: str = ""
    detail: str = field(default="", compare=False)

    @property
    def msg(self) -> str:
        return "" if self.allow else message(self.id)

    def to_json(self) -> dict:
        return {"Allow": self.allow, "Msg": self.msg, "Err": ""}


ALLOWED = Decision(True)


class Refusal(Exception):
    """Raised by a judge: refuse the request with REFUSALS[id]."""

    def __init__(self, refusal_id: str, detail: str = ""):
        super().__init__(f"{refusal_id}: {detail}" if detail else refusal_id)
        self.id = refusal_id
        self.detail = detail


# --------------------------------------------------------------------------------------
# the request path, as dockerd's router (gorilla/mux on the decoded path) reads it

_PATH_CHARS = re.compile(r"[A-Za-z0-9._:@/-]*", re.ASCII)
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_VERSIONED = re.compile(r"/v([0-9.]+)(/.*)?", re.S)
_MINOR = re.compile(r"1\.([0-9]{1,3})", re.ASCII)


def split_uri(uri: Any) -> tuple[Optional[str], str, str]:
    """(API version or None, path without its version prefix, raw query) of a request URI.
    Raises Refusal for anything the router might read differently than this function."""
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise Refusal("bad-path", "not an origin-form URI")
    path, _, query = uri.partition("?")
    if "%" in path:
        if re.search(r"%2[fF]", path):
            raise Refusal("bad-path", "encoded slash")
        if path.count("%") != len(_PERCENT.findall(path)):
            raise Refusal("bad-path", "malformed percent-encoding")
        try:
            path = bytes(_unquote_bytes(path)).decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal("bad-path", "encoded bytes are not UTF-8") from None
    if not _PATH_CHARS.fullmatch(path):
        raise Refusal("bad-path", "unusual characters")
    if "//" in path or any(seg in (".", "..") for seg in path.split("/")):
        raise Refusal("bad-path", "unclean path")
    version = None
    m = _VERSIONED.fullmatch(path)
    if m:
        version, path = m.group(1), m.group(2) or ""
        minor = _MINOR.fullmatch(version)
        if not minor or (1, int(minor.group(1))) not in API_VERSIONS:
            raise Refusal("api-version", version)
    return version, path, query


def _unquote_bytes(path: str) -> bytearray:
    out = bytearray()
    i = 0
    while i < len(path):
        if path[i] == "%":
            out.append(int(path[i + 1:i + 3], 16))
            i += 3
        else:
            out += path[i].encode("utf-8")
            i += 1
    return out


# --------------------------------------------------------------------------------------
# the body, as Go's encoding/json fills dockerd's structs

class _Pairs(list):
    """A JSON object as its (key, value) pairs, in order, duplicates kept."""


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def load_json(raw: bytes) -> Any:
    """Parse RAW like Go would accept it: objects stay _Pairs (so duplicates are visible);
    invalid UTF-8 inside strings becomes U+FFFD as in Go; NaN/Infinity are not JSON."""
    text = raw.decode("utf-8", errors="replace")
    return json.loads(text, object_pairs_hook=_Pairs, parse_constant=_reject_constant)


_FOLD = str.maketrans({"\u017f": "s", "\u212a": "k"})
_FOLDED: dict[str, Optional[str]] = {}  # the usual keys, folded once (bounded)


def fold(key: str) -> Optional[str]:
    """KEY as Go's encoding/json compares it to an (ASCII) struct field name: ASCII letters
    without case, 'ſ' as s and the Kelvin sign as k; None if it can match no field."""
    folded = _FOLDED.get(key, "")
    if folded != "":
        return folded
    if key.isascii():
        folded = key.lower()
    else:
        key2 = key.translate(_FOLD)
        folded = key2.lower() if key2.isascii() else None
    if len(_FOLDED) < 4096 and len(key) < 64:
        _FOLDED[key] = folded
    return folded


class Struct:
    """A Go struct: fields by their JSON name; only the fields the policy reads are listed,
    every other key is ignored (as Go ignores unknown keys)."""

    def __init__(self, fields: Mapping[str, Any]):
        self.fields = dict(fields)
        self.folded = {name.lower(): name for name in self.fields}


class MapOf:
    """A Go map: keys are kept exactly as sent; a repeated key's last value wins."""

    def __init__(self, value):
        self.value = value


class ListOf:
    def __init__(self, item):
        self.item = item


LEAF = None  # any value, kept as it is (objects become plain dicts, last key wins)


def _scalar(value) -> bool:
    return isinstance(value, (str, int, float))  # bool is an int


def _plain(value):
    if isinstance(value, _Pairs):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def decode(value, schema):
    """VALUE (from load_json) as dockerd's struct would hold it, keeping only SCHEMA's fields.
    Raises Refusal('body-invalid') where Go would fail or where its result is ambiguous."""
    if schema is LEAF:
        return _plain(value)
    if value is None:
        return None
    if isinstance(schema, Struct):
        if not isinstance(value, _Pairs):
            raise Refusal("body-invalid", "expected an object")
        seen: dict[str, list] = {}
        fields, folded_names = schema.fields, schema.folded
        for key, item in value:
            if key in fields:  # Go tries the exact name first
                name = key
            else:
                folded = fold(key)
                name = folded_names.get(folded) if folded is not None else None
            if name is not None:
                seen.setdefault(name, []).append(item)
        out = {}
        for name, items in seen.items():
            if len(items) > 1 and not all(_scalar(i) for i in items):
                raise Refusal("body-invalid", f"{name} repeated")
            out[name] = decode(items[-1], schema.fields[name])
        return out
    if isinstance(schema, MapOf):
        if not isinstance(value, _Pairs):
            raise Refusal("body-invalid", "expected an object")
        return {k: decode(v, schema.value) for k, v in value}
    if isinstance(schema, ListOf):
        if not isinstance(value, list) or isinstance(value, _Pairs):
            raise Refusal("body-invalid", "expected an array")
        return [decode(v, schema.item) for v in value]
    raise TypeError(f"unknown schema {schema!r}")


def _str(value) -> str:
    """A Go string field: absent/null is ''; anything but a string is a type error."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refusal("body-invalid", "expected a string")
    return value


def _set(value) -> bool:
    """Whether a list, map or flag field asks for something (Go's zero values do not)."""
    return value not in (None, False, [], {})


_MAP = MapOf(LEAF)
_MOUNT = Struct({
    "Type": LEAF, "Source": LEAF, "Target": LEAF, "BindOptions": LEAF, "TmpfsOptions": LEAF,
    "VolumeOptions": Struct({"NoCopy": LEAF, "Labels": _MAP,
                             "DriverConfig": Struct({"Name": LEAF, "Options": _MAP})}),
})
# fields that name the node's devices: dockerd opens or stats their paths on the node
_DEVICE_FIELDS = ("Devices", "DeviceCgroupRules", "DeviceRequests", "BlkioWeightDevice",
                  "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps")
_RESOURCES = {"CgroupParent": LEAF, **{name: LEAF for name in _DEVICE_FIELDS}}
_HOST_CONFIG_FIELDS = {
    "Binds": ListOf(LEAF), "Mounts": ListOf(_MOUNT), "VolumeDriver": LEAF,
    "LogConfig": Struct({"Type": LEAF, "Config": _MAP}), "NetworkMode": LEAF,
    "Privileged": LEAF, "CapAdd": LEAF, "SecurityOpt": ListOf(LEAF), "MaskedPaths": LEAF,
    "ReadonlyPaths": LEAF, "PidMode": LEAF, "IpcMode": LEAF, "UTSMode": LEAF, "UsernsMode": LEAF,
    "CgroupnsMode": LEAF, "Cgroup": LEAF, "Runtime": LEAF, "Sysctls": _MAP, **_RESOURCES,
}
_ENDPOINT = Struct({"NetworkID": LEAF, "DriverOpts": _MAP})
CONTAINER_CREATE = Struct({
    "HostConfig": Struct(_HOST_CONFIG_FIELDS),
    "NetworkingConfig": Struct({"EndpointsConfig": MapOf(_ENDPOINT)}),
    **_HOST_CONFIG_FIELDS,  # ContainerConfigWrapper embeds a deprecated *HostConfig
})
CONTAINER_UPDATE = Struct(_RESOURCES)
EXEC_CREATE = Struct({"Privileged": LEAF})
VOLUME_CREATE = Struct({"Name": LEAF, "Driver": LEAF, "DriverOpts": _MAP})
NETWORK_CREATE = Struct({
    "Driver": LEAF, "Options": _MAP, "ConfigOnly": LEAF, "ConfigFrom": Struct({"Network": LEAF}),
    "IPAM": Struct({"Driver": LEAF, "Options": _MAP}),
})
NETWORK_CONNECT = Struct({"EndpointConfig": _ENDPOINT})
_ATTACHMENT = Struct({"Target": LEAF, "DriverOpts": _MAP})
_LOG_DRIVER = Struct({"Name": LEAF, "Options": _MAP})
SERVICE_SPEC = Struct({
    "Mode": Struct({"Replicated": Struct({"Replicas": LEAF}),
                    "ReplicatedJob": Struct({"MaxConcurrent": LEAF, "TotalCompletions": LEAF})}),
    "TaskTemplate": Struct({
        "ContainerSpec": Struct({
            "Mounts": ListOf(_MOUNT), "CapabilityAdd": LEAF, "Sysctls": _MAP,
            "Privileges": Struct({"CredentialSpec": LEAF, "SELinuxContext": LEAF}),
        }),
        "PluginSpec": LEAF, "NetworkAttachmentSpec": LEAF, "Runtime": LEAF,
        "Networks": ListOf(_ATTACHMENT), "LogDriver": _LOG_DRIVER,
    }),
    "Networks": ListOf(_ATTACHMENT),  # deprecated, used when TaskTemplate.Networks is empty
})
SWARM_SPEC = Struct({
    "CAConfig": Struct({"ExternalCAs": LEAF}),
    "TaskDefaults": Struct({"LogDriver": _LOG_DRIVER}),
    "Raft": Struct({"SnapshotInterval": LEAF, "KeepOldSnapshots": LEAF, "LogEntriesForSlowFollowers": LEAF}),
    "Orchestration": Struct({"TaskHistoryRetentionLimit": LEAF}),
})
SWARM_INIT = Struct({"Spec": SWARM_SPEC})
SECRET_SPEC = Struct({"Driver": LEAF, "Templating": LEAF})


# --------------------------------------------------------------------------------------
# judging

_VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*", re.ASCII)
_NETWORK_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*", re.ASCII)
_PREDEFINED = ("", "default", "bridge", "none")  # names that can never be the host network


class Context:
    """One request being judged."""

    def __init__(self, request: Mapping, method: str, path: str, query: str, match: re.Match,
                 booting: bool):
        self.request = request
        self.method = method
        self.path = path
        self.query = query
        self.match = match
        self.booting = booting
        self.networks: list[str] = []

    def raw_body(self) -> bytes:
        """The request's body as sent (b'' when dockerd sent none)."""
        raw = self.request.get("RequestBody")
        if raw is None or raw == "":
            return b""
        if not isinstance(raw, str):
            raise Refusal("bad-request", "RequestBody is not base64 text")
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise Refusal("bad-request", "RequestBody is not base64") from None

    def body_size(self) -> int:
        """The body's length: what dockerd forwarded, or what its Content-Length says (dockerd
        forwards no body of 1 MiB or more, but still runs the request)."""
        size = len(self.raw_body())
        for name, value in (self.request.get("RequestHeaders") or {}).items():
            if isinstance(name, str) and name.lower() == "content-length":
                try:
                    size = max(size, int(str(value).strip()))
                except ValueError:
                    raise Refusal("bad-request", "Content-Length") from None
        return size

    def body(self, schema: Struct) -> dict:
        """The request's JSON body decoded with SCHEMA; refuses a missing or unreadable one."""
        data = self.raw_body()
        if not data.strip():
            raise Refusal("body-missing")
        if len(data) >= MAX_BODY:
            raise Refusal("body-missing", "body too large")
        try:
            value = load_json(data)
        except (ValueError, RecursionError):
            raise Refusal("body-invalid", "not JSON") from None
        if not isinstance(value, _Pairs):
            raise Refusal("body-invalid", "not a JSON object")
        return decode(value, schema)

    def network(self, ref: Any) -> None:
        """Look REF up once the static checks pass (deny if it is, or may be, the host network)."""
        if not isinstance(ref, str) or not _NETWORK_REF.fullmatch(ref):
            raise Refusal("network-unknown", repr(ref))
        if ref.lower() == "host":  # in any case: see _host_mode
            raise Refusal("host-network")
        if ref not in self.networks:
            self.networks.append(ref)


def _judge_bind(bind: Any) -> None:
    spec = _str(bind)
    parts = spec.split(":")
    if len(parts) == 1:
        return  # a container path only: an anonymous volume
    source = parts[0]
    if source.startswith("/"):
        raise Refusal("bind-mount", source)
    if not _VOLUME_NAME.fullmatch(source):
        raise Refusal("volume-name", source)


def _judge_mount(mount: Any) -> None:
    if mount is None:
        return
    kind = _str(mount.get("Type"))
    # containers compare the type exactly; services upper-case it and take "" as bind
    if not kind.isascii() or kind.lower() not in ("volume", "tmpfs"):
        raise Refusal("bind-mount", f"type {kind!r}")
    if mount.get("BindOptions") is not None:
        raise Refusal("bind-mount", "BindOptions")
    source = _str(mount.get("Source"))
    if kind.lower() == "tmpfs":
        if source:
            raise Refusal("bind-mount", "tmpfs with a source")
        return
    if source and not _VOLUME_NAME.fullmatch(source):
        raise Refusal("volume-name", source)
    driver = (mount.get("VolumeOptions") or {}).get("DriverConfig")
    if driver is not None:
        if _str(driver.get("Name")) not in ("", "local") or _set(driver.get("Options")):
            raise Refusal("volume-driver")


def _judge_security_opts(opts) -> None:
    for opt in opts or ():
        text = _str(opt)
        if text == "no-new-privileges":
            continue
        m = re.fullmatch(r"no-new-privileges[=:](.*)", text, re.S)
        if m and m.group(1) in TRUE_WORDS:
            continue
        raise Refusal("security-opt", text)


def _host_mode(value) -> bool:
    # dockerd's IsHost() is exact, but its network lookup is not: on a manager "Host" and
    # "HOST" find the swarm's host network (dockerd then refuses to attach it; we refuse first)
    return _str(value).split(":")[0].lower() == "host"


def _judge_host_config(hc: dict, ctx: Context) -> None:
    if _set(hc.get("Privileged")):
        raise Refusal("privileged")
    if _set(hc.get("CapAdd")):
        raise Refusal("cap-add")
    if any(_set(hc.get(k)) for k in _DEVICE_FIELDS):
        raise Refusal("devices")
    for bind in hc.get("Binds") or ():
        _judge_bind(bind)
    for mount in hc.get("Mounts") or ():
        _judge_mount(mount)
    if _str(hc.get("VolumeDriver")) not in ("", "local"):
        raise Refusal("volume-driver")
    _judge_security_opts(hc.get("SecurityOpt"))
    if hc.get("MaskedPaths") is not None or hc.get("ReadonlyPaths") is not None:
        raise Refusal("system-paths")
    if any(_host_mode(hc.get(k)) for k in ("PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode")):
        raise Refusal("host-namespace")
    cgroup = _str(hc.get("Cgroup"))
    if cgroup and not cgroup.startswith("container:"):
        raise Refusal("host-namespace", "Cgroup")
    if _str(hc.get("CgroupParent")):
        raise Refusal("cgroup-parent")
    if _str(hc.get("Runtime")):  # the daemon's default only: a hardened node's is labapp-runc
        raise Refusal("runtime")
    if _set(hc.get("Sysctls")):
        raise Refusal("sysctls")
    if _str((hc.get("LogConfig") or {}).get("Type")) not in LOG_DRIVERS:
        raise Refusal("log-driver")
    mode = _str(hc.get("NetworkMode"))
    if not (mode in _PREDEFINED or mode.startswith("container:")):
        ctx.network(mode)


def _judge_endpoint(endpoint: Optional[dict], ctx: Context) -> None:
    if not endpoint:
        return
    if _set(endpoint.get("DriverOpts")):
        raise Refusal("network-options", "DriverOpts")
    network_id = _str(endpoint.get("NetworkID"))
    if network_id:  # dockerd prefers it to the map key or URL (daemon getNetworkID)
        ctx.network(network_id)


def judge_container_create(ctx: Context) -> None:
    body = ctx.body(CONTAINER_CREATE)
    top = {k: v for k, v in body.items() if k in _HOST_CONFIG_FIELDS}
    # dockerd uses HostConfig when present (and copies VolumeDriver, Memory... from the top
    # level into it), else the top-level fields: judge both, always.
    for hc in (body.get("HostConfig"), top):
        if hc:
            _judge_host_config(hc, ctx)
    endpoints = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    for name, endpoint in endpoints.items():
        if name not in _PREDEFINED:
            ctx.network(name)
        _judge_endpoint(endpoint, ctx)


def judge_container_update(ctx: Context) -> None:
    body = ctx.body(CONTAINER_UPDATE)
    if any(_set(body.get(k)) for k in _DEVICE_FIELDS):
        raise Refusal("devices")
    if _str(body.get("CgroupParent")):
        raise Refusal("cgroup-parent")


def judge_exec_create(ctx: Context) -> None:
    if _set(ctx.body(EXEC_CREATE).get("Privileged")):
        raise Refusal("exec-privileged")


def judge_volume_create(ctx: Context) -> None:
    body = ctx.body(VOLUME_CREATE)
    if _str(body.get("Driver")) not in ("", "local") or _set(body.get("DriverOpts")):
        raise Refusal("volume-driver")


def judge_network_create(ctx: Context) -> None:
    body = ctx.body(NETWORK_CREATE)
    if _str(body.get("Driver")) not in NETWORK_DRIVERS:
        raise Refusal("network-driver", _str(body.get("Driver")))
    ipam = body.get("IPAM") or {}
    if _str(ipam.get("Driver")) not in ("", "default") or _set(ipam.get("Options")):
        raise Refusal("ipam-driver")
    if any(key not in NETWORK_OPTIONS for key in body.get("Options") or {}):
        raise Refusal("network-options")
    if _set(body.get("ConfigOnly")) or _str((body.get("ConfigFrom") or {}).get("Network")):
        raise Refusal("network-options", "config-only networks")


def judge_network_connect(ctx: Context) -> None:
    body = ctx.body(NETWORK_CONNECT)
    ctx.network(ctx.match.group("id"))
    _judge_endpoint(body.get("EndpointConfig"), ctx)


def _within(value: Any, most: int, least: int = 0) -> bool:
    """VALUE is absent (None: the engine's default) or a whole JSON number in [LEAST, MOST]."""
    if value is None:
        return True
    return (not isinstance(value, bool) and isinstance(value, (int, float)) and value == int(value)
            and least <= value <= most)


def stores(judge: Callable[[Context], None]) -> Callable[[Context], None]:
    """JUDGE for a request that writes the swarm's store: its body is at most RAFT_BODY bytes."""
    def _judge(ctx: Context) -> None:
        if ctx.body_size() > RAFT_BODY:
            raise Refusal("too-large", str(ctx.body_size()))
        if judge is not ALLOW:
            judge(ctx)
    _judge.stores = judge
    return _judge


def judge_service(ctx: Context) -> None:
    spec = ctx.body(SERVICE_SPEC)
    mode = spec.get("Mode") or {}
    job = mode.get("ReplicatedJob") or {}
    counts = ((mode.get("Replicated") or {}).get("Replicas"), job.get("MaxConcurrent"), job.get("TotalCompletions"))
    if not all(_within(count, MAX_REPLICAS) for count in counts):
        raise Refusal("replicas", repr(counts))
    task = spec.get("TaskTemplate") or {}
    if (_str(task.get("Runtime")) not in ("", "container") or task.get("PluginSpec") is not None
            or task.get("NetworkAttachmentSpec") is not None):
        raise Refusal("service-runtime")
    container = task.get("ContainerSpec") or {}
    privileges = container.get("Privileges") or {}
    if any(v is not None for v in privileges.values()):
        raise Refusal("service-privileges")
    if _set(container.get("CapabilityAdd")):
        raise Refusal("cap-add")
    if _set(container.get("Sysctls")):
        raise Refusal("sysctls")
    for mount in container.get("Mounts") or ():
        _judge_mount(mount)
    if _str((task.get("LogDriver") or {}).get("Name")) not in LOG_DRIVERS:
        raise Refusal("log-driver")
    for attachment in (task.get("Networks") or []) + (spec.get("Networks") or []):
        if attachment is None:
            continue
        if _set(attachment.get("DriverOpts")):
            raise Refusal("network-options", "DriverOpts")
        ctx.network(_str(attachment.get("Target")))  # names and ids; the swarm has a "host" too


def _judge_swarm_spec(spec: Optional[dict]) -> None:
    spec = spec or {}
    if _set((spec.get("CAConfig") or {}).get("ExternalCAs")):
        raise Refusal("swarm-external-ca")
    driver = ((spec.get("TaskDefaults") or {}).get("LogDriver") or {}).get("Name")
    if _str(driver) not in LOG_DRIVERS:
        raise Refusal("log-driver")
    raft = spec.get("Raft") or {}
    interval = raft.get("SnapshotInterval")
    if not (((interval == 0 and not isinstance(interval, bool)) or _within(interval, SNAPSHOT_INTERVALS[1], SNAPSHOT_INTERVALS[0]))  # 0: the default
            and _within(raft.get("KeepOldSnapshots"), 0)
            and _within(raft.get("LogEntriesForSlowFollowers"), MAX_SLOW_FOLLOWER_ENTRIES)
            and _within((spec.get("Orchestration") or {}).get("TaskHistoryRetentionLimit"), TASK_HISTORY)):
        raise Refusal("swarm-raft")


def judge_swarm_init(ctx: Context) -> None:
    _judge_swarm_spec(ctx.body(SWARM_INIT).get("Spec"))


def judge_swarm_update(ctx: Context) -> None:
    _judge_swarm_spec(ctx.body(SWARM_SPEC))


def judge_secret(ctx: Context) -> None:
    body = ctx.body(SECRET_SPEC)
    if body.get("Driver") is not None or body.get("Templating") is not None:
        raise Refusal("secret-driver")


def judge_images_create(ctx: Context) -> None:
    if any(key == "fromSrc" for key, _ in parse_qsl(ctx.query, keep_blank_values=True)):
        raise Refusal("image-transfer")  # docker import
    raise Refusal("no-registry")        # docker pull


def judge_images_load(ctx: Context) -> None:
    if not ctx.booting:  # the node entrypoint loads the lesson images before it is ready
        raise Refusal("image-transfer")


ALLOW = "allow"


def refuse(refusal_id: str):
    def _refuse(ctx: Context) -> None:
        raise Refusal(refusal_id)
    _refuse.refusal_id = refusal_id
    return _refuse


# (method, path, action): {id} is one path segment; {name} may hold '/' (image and plugin
# references). Listed in dockerd's own order where patterns could overlap; first match wins.
ENDPOINTS: list[tuple[str, str, Any]] = [
    # system
    ("GET", "/_ping", ALLOW), ("HEAD", "/_ping", ALLOW), ("GET", "/version", ALLOW),
    ("GET", "/info", ALLOW), ("GET", "/events", ALLOW), ("GET", "/system/df", ALLOW),
    ("POST", "/auth", refuse("no-registry")),
    # containers
    ("GET", "/containers/json", ALLOW),
    ("POST", "/containers/create", judge_container_create),
    ("POST", "/containers/prune", ALLOW),
    ("GET", "/containers/{id}/(?:json|top|logs|stats|changes)", ALLOW),
    ("GET", "/containers/{id}/export", refuse("copy")),
    ("GET", "/containers/{id}/archive", refuse("copy")),
    ("HEAD", "/containers/{id}/archive", refuse("copy")),
    ("PUT", "/containers/{id}/archive", refuse("copy")),
    ("POST", "/containers/{id}/copy", refuse("copy")),
    ("POST", "/containers/{id}/(?:kill|pause|unpause|restart|start|stop|wait|resize|attach|rename)", ALLOW),
    ("POST", "/containers/{id}/update", judge_container_update),
    ("POST", "/containers/{id}/exec", judge_exec_create),
    ("DELETE", "/containers/{id}", ALLOW),
    ("POST", "/exec/{id}/(?:start|resize)", ALLOW),
    ("GET", "/exec/{id}/json", ALLOW),
    ("POST", "/commit", refuse("commit")),
    # images
    ("GET", "/images/json", ALLOW),
    ("GET", "/images/search", refuse("no-registry")),
    ("GET", "/images/get", refuse("image-transfer")),
    ("GET", "/images/{name}/get", refuse("image-transfer")),
    ("GET", "/images/{name}/(?:history|json)", ALLOW),
    ("POST", "/images/load", judge_images_load),
    ("POST", "/images/create", judge_images_create),
    ("POST", "/images/prune", ALLOW),
    ("POST", "/images/{name}/push", refuse("no-registry")),
    ("POST", "/images/{name}/tag", ALLOW),
    ("DELETE", "/images/{name}", ALLOW),
    ("GET", "/distribution/{name}/json", refuse("no-registry")),
    # build, sessions
    ("POST", "/build", refuse("build")),
    ("POST", "/build/prune", ALLOW),
    ("POST", "/build/cancel", refuse("build")),
    ("POST", "/session", refuse("session")),
    ("POST", "/grpc", refuse("session")),
    # networks
    ("GET", "/networks/?", ALLOW),
    ("GET", "/networks/{id}", ALLOW),
    ("POST", "/networks/create", stores(judge_network_create)),
    ("POST", "/networks/prune", ALLOW),
    ("POST", "/networks/{id}/connect", judge_network_connect),
    ("POST", "/networks/{id}/disconnect", ALLOW),
    ("DELETE", "/networks/{id}", ALLOW),
    # volumes
    ("GET", "/volumes", ALLOW),
    ("POST", "/volumes/create", judge_volume_create),
    ("POST", "/volumes/prune", ALLOW),
    ("GET", "/volumes/{id}", ALLOW),
    ("DELETE", "/volumes/{id}", ALLOW),
    # swarm
    ("GET", "/swarm", ALLOW), ("GET", "/swarm/unlockkey", ALLOW),
    ("POST", "/swarm/init", stores(judge_swarm_init)),
    ("POST", "/swarm/(?:join|leave|unlock)", ALLOW),
    ("POST", "/swarm/update", stores(judge_swarm_update)),
    ("GET", "/services", ALLOW),
    ("POST", "/services/create", stores(judge_service)),
    ("GET", "/services/{id}", ALLOW), ("GET", "/services/{id}/logs", ALLOW),
    ("POST", "/services/{id}/update", stores(judge_service)),
    ("DELETE", "/services/{id}", ALLOW),
    ("GET", "/nodes", ALLOW), ("GET", "/nodes/{id}", ALLOW),
    ("POST", "/nodes/{id}/update", stores(ALLOW)), ("DELETE", "/nodes/{id}", ALLOW),
    ("GET", "/tasks", ALLOW), ("GET", "/tasks/{id}", ALLOW), ("GET", "/tasks/{id}/logs", ALLOW),
    ("GET", "/(?:secrets|configs)", ALLOW),
    ("POST", "/(?:secrets|configs)/create", stores(judge_secret)),
    ("GET", "/(?:secrets|configs)/{id}", ALLOW),
    ("POST", "/(?:secrets|configs)/{id}/update", stores(judge_secret)),
    ("DELETE", "/(?:secrets|configs)/{id}", ALLOW),
    # plugins: reading only
    ("GET", "/plugins", ALLOW),
    ("GET", "/plugins/privileges", refuse("plugins")),
    ("GET", "/plugins/{name}/json", ALLOW),
    ("POST", "/plugins/(?:pull|create)", refuse("plugins")),
    ("POST", "/plugins/{name}/(?:enable|disable|push|upgrade|set)", refuse("plugins")),
    ("DELETE", "/plugins/{name}", refuse("plugins")),
]


def _compile(pattern: str) -> re.Pattern:
    pattern = pattern.replace("{id}", "(?P<id>[^/]+)").replace("{name}", "(?P<name>[^/]+(?:/[^/]+)*)")
    return re.compile(pattern)


_TABLE = [(method, _compile(path), action) for method, path, action in ENDPOINTS]


def request_uri(request: Mapping) -> Any:
    """The request URI of an AuthZReq: dockerd sends it as "RequestUri" (pkg/authorization/api.go:
    `RequestURI string json:"RequestUri"`); "RequestURI" is accepted alone, never when it differs."""
    uri = request.get("RequestUri")
    other = request.get("RequestURI")
    if uri is None:
        return other
    if other is not None and other != uri:
        raise Refusal("bad-request", "RequestUri and RequestURI differ")
    return uri


class Policy:
    """Judges AuthZReq bodies. RESOLVE_NETWORK(ref) returns the engine's JSON for a network
    (GET /networks/{ref}) or None when there is none; BOOTING() is true until the node is
    ready (only then may images be loaded)."""

    def __init__(self, resolve_network: Optional[Callable[[str], Optional[Mapping]]] = None,
                 booting: Callable[[], bool] = lambda: False):
        self.resolve_network = resolve_network
        self.booting = booting

    def judge(self, request: Any) -> Decision:
        """Allow or refuse one AuthZReq; never raises."""
        try:
            return self._judge(request)
        except Refusal as refusal:
            return Decision(False, refusal.id, refusal.detail)
        except Exception as exc:  # noqa: BLE001 - fail closed, whatever happened
            return Decision(False, "internal-error", f"{type(exc).__name__}: {exc}")

    def _judge(self, request: Any) -> Decision:
        if not isinstance(request, Mapping):
            raise Refusal("bad-request")
        method = request.get("RequestMethod")
        if not isinstance(method, str):
            raise Refusal("bad-request")
        _version, path, query = split_uri(request_uri(request))
        for want, pattern, action in _TABLE:
            if want != method:
                continue
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if action is ALLOW:
                return ALLOWED
            booting = action is judge_images_load and bool(self.booting())
            ctx = Context(request, method, path, query, match, booting)
            action(ctx)
            for ref in ctx.networks:
                self._check_network(ref)
            return ALLOWED
        raise Refusal("endpoint")

    def _check_network(self, ref: str) -> None:
        if self.resolve_network is None:
            raise Refusal("network-unknown", "no resolver")
        try:
            network = self.resolve_network(ref)
        except Exception as exc:  # noqa: BLE001 - a failed lookup denies
            raise Refusal("network-unknown", str(exc)) from None
        if network is None:
            # Not on this node (404): it cannot be this node's host network, which every
            # engine has. A worker finds an attachable swarm overlay through its manager
            # only when a container first joins it (the article's secure-b on worker1).
            return
        if not isinstance(network, Mapping):
            raise Refusal("network-unknown", ref)
        if network.get("Driver") == "host" or _str(network.get("Name")).lower() == "host":
            raise Refusal("host-network", ref)


def judge(request: Any, **kwargs) -> Decision:
    """Policy(**KWARGS).judge(REQUEST)."""
    return Policy(**kwargs).judge(request)


def endpoint_table() -> list[tuple[str, str, str]]:
    """(method, path pattern, 'allowed' | 'judged' | 'refused: ID') for every listed endpoint."""
    rows = []
    for method, path, action in ENDPOINTS:
        if action is ALLOW:
            kind = "allowed"
        elif hasattr(action, "refusal_id"):
            kind = f"refused: {action.refusal_id}"
        elif action is judge_images_load:
            kind = "boot only (else refused: image-transfer)"
        elif action is judge_images_create:
            kind = "refused: no-registry / image-transfer"
        else:
            kind = "judged"
        rows.append((method, path, kind))
    return rows
