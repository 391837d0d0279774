"""What the host can do, found by trying it: node security mode and kernel networking."""
from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass

import docker
import docker.errors

from ..config import Settings
from ..engine import CONNECTION_ERRORS, engine_address
from ..errors import LabappError, SandboxError
from .base import LABEL

NODE_USER = "100000:100000"  # the image's user: root of the node's own user namespace


SWARM_STATE = "/var/lib/docker/swarm"  # on a volume of its own (see node_tmpfs)


def node_tmpfs(disk: str) -> dict:
    """The node's writable places (its root filesystem is read-only): the node's runtime
    state, /tmp, and the engine's data, all tmpfs. The engine's data is what a learner can
    fill (images, containers' layers, volumes); its size is the node's disk limit and its
    pages count against the node's memory limit. Only the swarm's raft state lives on a
    volume (SWARM_STATE): the raft log preallocates 64 MiB segments, which in a tmpfs took
    124 MiB of a manager's memory (measured)."""
    owner = "uid=100000,gid=100000"
    return {"/run": f"rw,exec,nosuid,nodev,mode=755,{owner},size=64m",
            "/tmp": "rw,nosuid,nodev,mode=1777,size=64m",
            "/var/lib/docker": f"rw,exec,nosuid,nodev,mode=700,{owner},size={disk}"}


@dataclass(frozen=True)
class NodeRecipe:
    """How a node container is started: its host options, its user, and the protections
    it lacks (empty for the hardened recipe; `labapp doctor` prints them)."""

    name: str
    host: dict  # create_host_config keywords; capitalised keys go to the API as they are
    user: str
    missing: tuple[str, ...] = ()

    @property
    def weak(self) -> bool:
        return bool(self.missing)


_UNMASKED = {"MaskedPaths": [], "ReadonlyPaths": []}  # the node masks /proc itself (node-inner.sh)
_WIDE_MISSING = (
    "the node runs as the host's root (no user namespace): a root process on a node is root on the host",
    "the node holds every capability but SYS_RESOURCE (SYS_ADMIN, SYS_MODULE, DAC_READ_SEARCH, ...)",
    "no seccomp filter on the node (module loading, open_by_handle_at, bpf, kexec are open)",
    "/proc and /proc/sys of the node are not masked (core_pattern, sysrq-trigger, kcore)",
)
# The ways a node container may be given what dockerd needs, safest first. Each is tried
# on the engine (a node boots and runs a container); the first that works is used.
RECIPES = (
    NodeRecipe("hardened", {"cap_drop": ["ALL"], "cap_add": ["NET_ADMIN"],
                            "security_opt": ["apparmor=unconfined"], "read_only": True, **_UNMASKED},
               NODE_USER),
    NodeRecipe("wide", {"cap_add": ["ALL"], "cap_drop": ["SYS_RESOURCE"], "read_only": True,
                        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"], **_UNMASKED},
               "0", _WIDE_MISSING),
    NodeRecipe("privileged", {"privileged": True, "read_only": True}, "0",
               _WIDE_MISSING[:1] + ("the node is privileged: every capability and device of the host",)),
)


def host_config(api, recipe: NodeRecipe, **kwargs) -> dict:
    """A HostConfig for a node of RECIPE. The hardened recipe's seccomp profile is added
    here (the API takes the profile itself); the API-only keys docker-py's
    create_host_config does not know (capitalised) are set on the result directly."""
    opts = dict(recipe.host)
    if recipe.name == "hardened":
        from .seccomp import profile_json

        opts["security_opt"] = [*opts["security_opt"], f"seccomp={profile_json()}"]
    known = {k: v for k, v in opts.items() if not k[:1].isupper()}
    config = api.create_host_config(**known, **kwargs)
    config.update({k: v for k, v in opts.items() if k[:1].isupper()})
    return config

_PROBE_SCRIPT = r"""
vxlan=false; esp=false; ipvs=false
if ip link add labapp-vx0 type vxlan id 4242 dstport 4789 2>/tmp/vxlan.err; then vxlan=true; fi
if ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4242 reqid 4242 mode transport \
    aead 'rfc4106(gcm(aes))' 0x000102030405060708090a0b0c0d0e0f10111213 128 2>/tmp/esp.err; then esp=true; fi
if ipvsadm -Ln >/dev/null 2>/tmp/ipvs.err; then ipvs=true; fi
printf 'vxlan=%s\nesp=%s\nipvs=%s\n' "$vxlan" "$esp" "$ipvs"
for f in vxlan esp ipvs; do printf '%s_error=%s\n' "$f" "$(head -n 1 /tmp/$f.err)"; done
"""


@dataclass(frozen=True)
class KernelReport:
    """What the host kernel does for swarm networking, with the reason for each false."""

    ipvs: bool
    esp: bool
    vxlan: bool
    detail: dict

    def as_dict(self) -> dict:
        return {"ipvs": self.ipvs, "esp": self.esp, "vxlan": self.vxlan}


def probe_kernel(client: docker.DockerClient, image: str) -> KernelReport:
    """Try VXLAN, ESP (the xfrm state swarm's encrypted overlays install) and IPVS in a
    throwaway container on the host engine; nothing is read from a config file."""
    name = f"labapp-probe-{secrets.token_hex(4)}"
    container = client.api.create_container(
        image, entrypoint=["sh", "-c"], command=[_PROBE_SCRIPT], name=name,
        labels={LABEL: name}, user="0",
        host_config=client.api.create_host_config(cap_add=["NET_ADMIN"], network_mode="none"),
    )
    try:
        client.api.start(container["Id"])
        client.api.wait(container["Id"], timeout=60)
        out = client.api.logs(container["Id"], stdout=True, stderr=True).decode("utf-8", "replace")
    finally:
        client.api.remove_container(container["Id"], force=True)
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    found = {key: values.get(key) == "true" for key in ("ipvs", "esp", "vxlan")}
    detail = {}
    for key, ok in found.items():
        if ok:
            detail[key] = "works"
        else:
            detail[key] = values.get(f"{key}_error") or "the probe printed nothing"
    return KernelReport(detail=detail, **found)


_security_lock = threading.Lock()
_security_cache: dict[str, NodeRecipe] = {}


def node_security(client: docker.DockerClient, image: str, settings: Settings) -> NodeRecipe:
    """The safest node recipe that works on this engine.

    Tried once per engine (its ID, kernel and version) and node image, and remembered in
    the cache directory: trying boots a node (a few seconds)."""
    info = client.info()
    key = f"{info.get('ID', '')}-{info.get('KernelVersion', '')}-{info.get('ServerVersion', '')}-{image}"
    with _security_lock:
        if key in _security_cache:
            return _security_cache[key]
        path = os.path.join(settings.cache_dir, "node-security.json")
        cached = _read_json(path)
        known = {r.name: r for r in RECIPES}
        name = cached.get(key)
        if name not in known:
            name, reasons = None, []
            for recipe in RECIPES:
                error = _try_node(client, image, recipe, settings)
                if error is None:
                    name = recipe.name
                    break
                reasons.append(f"{recipe.name}: {error}")
            if name is None:
                raise SandboxError(
                    "this engine starts no node in any recipe (" + "; ".join(reasons) + ")",
                    hint="labapp needs an engine whose containers may make user namespaces, or add capabilities",
                )
            # Forget this engine's older answers for this image (another kernel or version);
            # keep other engines' (a lab of several engines shares this file) and other images'.
            engine_id = f"{info.get('ID', '')}-"
            cached = {k: v for k, v in cached.items() if not (k.startswith(engine_id) and k.endswith(image)) or k == key}
            cached[key] = name
            _write_json(path, cached)
        _security_cache[key] = known[name]
        return known[name]


def _try_node(client, image: str, recipe: NodeRecipe, settings: Settings) -> str | None:
    """None if a node of RECIPE boots and runs a container of its own, else the reason."""
    name = f"labapp-try-{secrets.token_hex(4)}"
    try:
        container = client.api.create_container(
            image, name=name, labels={LABEL: name}, user=recipe.user,
            environment={"LABAPP_NODE_SELFTEST": "1"},
            host_config=host_config(client.api, recipe, network_mode="none", cgroupns="private",
                                    tmpfs=node_tmpfs(settings.node_disk), pids_limit=2048),
        )
    except docker.errors.APIError as exc:
        return exc.explanation or str(exc)
    try:
        client.api.start(container["Id"])
        code = client.api.wait(container["Id"], timeout=120).get("StatusCode")
        if code == 0:
            return None
        logs = client.api.logs(container["Id"], stdout=True, stderr=True).decode("utf-8", "replace")
        return (logs.strip().splitlines() or [f"exit code {code}"])[-1][:200]
    except docker.errors.APIError as exc:
        text = exc.explanation or str(exc)
        return text.split("unable to start container process: ")[-1][:200]
    except CONNECTION_ERRORS:
        return "the node did not finish its self-test within 120 s"
    finally:
        client.api.remove_container(container["Id"], force=True)


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_json(path: str, data: dict) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except OSError:
        pass  # the cache only saves time; without it the mode is found again next time


def doctor(settings: Settings, base_url: str | None = None) -> dict:
    """The report of `labapp doctor`: engine, images, kernel. Never raises for a down engine.
    BASE_URL: one engine of several (LABAPP_ENGINES); default: DOCKER_HOST's."""
    from ..engine import connect
    from .images import all_image_refs, missing_images, node_image_ref

    report: dict = {
        "engine": {"reachable": False, "address": base_url or engine_address()},
        "images": {"present": False, "names": all_image_refs(settings), "missing": None},
        "kernel": {"ipvs": None, "esp": None, "vxlan": None},
        "kernel_detail": {},
        "walls": {"missing": None},
        "problems": [],
    }
    try:
        client = connect(timeout=30, base_url=base_url, tls_dir=settings.engine_tls_dir)
    except LabappError as exc:
        report["problems"].append(str(exc))
        return report
    try:
        version = client.version()
        info = client.info()
        report["engine"].update({
            "reachable": True,
            "version": version.get("Version"),
            "api_version": version.get("ApiVersion"),
            "cgroup_version": str(info.get("CgroupVersion") or "1"),
            "kernel_version": info.get("KernelVersion"),
            "memory_bytes": info.get("MemTotal"),
            "cpus": info.get("NCPU"),
        })
        missing = missing_images(client, settings)
        report["images"].update({"present": not missing, "missing": missing})
        if missing:
            report["problems"].append(
                "images not built: " + ", ".join(missing) + "; run 'labapp images build'")
        node_ref = node_image_ref(settings)
        if node_ref not in missing:
            try:
                recipe = node_security(client, node_ref, settings)
                report["engine"]["node_mode"] = recipe.name
                report["walls"]["missing"] = list(recipe.missing)
            except SandboxError as exc:
                report["problems"].append(str(exc))
            from .hostwall import host_wall_status

            wall = host_wall_status() if base_url is None or base_url.startswith("unix://") else (
                f"the engine is not on this machine ({base_url}): install the rule on the engine's host")
            report["walls"]["host_input"] = wall is None
            if wall is not None:
                report["walls"]["missing"] = [*(report["walls"]["missing"] or []),
                                              f"the host does not drop what sandboxes send to its own "
                                              f"addresses (any port it listens on): {wall}"]
            kernel = probe_kernel(client, node_ref)
            report["kernel"] = kernel.as_dict()
            report["kernel_detail"] = kernel.detail
        else:
            report["problems"].append("the kernel probe needs the node image; run 'labapp images build'")
    except (docker.errors.APIError, *CONNECTION_ERRORS) as exc:
        report["problems"].append(f"the engine failed during the probe: {str(exc).splitlines()[0][:200]}")
    finally:
        client.close()
    return report
