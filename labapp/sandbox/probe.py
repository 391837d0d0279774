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

# The ways a node container may be given what dockerd needs, most direct first.
# Each is tried on the engine; the first under which a container starts is used.
SECURITY_CANDIDATES = (
    ("privileged", {"privileged": True}),
    ("capabilities", {
        "cap_add": ["ALL"],
        "cap_drop": ["SYS_RESOURCE"],
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        # the CLI's --security-opt systempaths=unconfined: /proc and /sys not masked
        "MaskedPaths": [],
        "ReadonlyPaths": [],
    }),
)


def host_config(api, security: dict, **kwargs) -> dict:
    """A HostConfig with a security mode's options; the API-only keys docker-py's
    create_host_config does not know (capitalised) are set on the result directly."""
    known = {k: v for k, v in security.items() if not k[:1].isupper()}
    config = api.create_host_config(**known, **kwargs)
    config.update({k: v for k, v in security.items() if k[:1].isupper()})
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
        labels={LABEL: name},
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
_security_cache: dict[str, tuple[str, dict]] = {}


def node_security(client: docker.DockerClient, image: str, settings: Settings) -> tuple[str, dict]:
    """The first security mode under which a node container starts on this engine.

    Tried once per engine (identified by its ID, kernel and version) and remembered in
    the cache directory, since trying costs a container start or two.
    """
    info = client.info()
    key = f"{info.get('ID', '')}-{info.get('KernelVersion', '')}-{info.get('ServerVersion', '')}"
    with _security_lock:
        if key in _security_cache:
            return _security_cache[key]
        path = os.path.join(settings.cache_dir, "node-security.json")
        cached = _read_json(path)
        mode = cached.get(key)
        known = dict(SECURITY_CANDIDATES)
        if mode not in known:
            mode, reasons = None, []
            for candidate, opts in SECURITY_CANDIDATES:
                error = _try_start(client, image, opts)
                if error is None:
                    mode = candidate
                    break
                reasons.append(f"{candidate}: {error}")
            if mode is None:
                raise SandboxError(
                    "this engine starts no node container in any mode (" + "; ".join(reasons) + ")",
                    hint="labapp needs an engine that allows privileged containers or added capabilities",
                )
            cached[key] = mode
            _write_json(path, cached)
        _security_cache[key] = (mode, known[mode])
        return _security_cache[key]


def _try_start(client, image: str, opts: dict) -> str | None:
    """None if a container with OPTS starts and exits 0, else the engine's reason."""
    name = f"labapp-try-{secrets.token_hex(4)}"
    try:
        container = client.api.create_container(
            image, entrypoint=["true"], name=name, labels={LABEL: name},
            host_config=host_config(client.api, opts, network_mode="none"),
        )
    except docker.errors.APIError as exc:
        return exc.explanation or str(exc)
    try:
        client.api.start(container["Id"])
        code = client.api.wait(container["Id"], timeout=30).get("StatusCode")
        return None if code == 0 else f"exit code {code}"
    except docker.errors.APIError as exc:
        text = exc.explanation or str(exc)
        return text.split("unable to start container process: ")[-1][:160]
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


def doctor(settings: Settings) -> dict:
    """The report of `labapp doctor`: engine, images, kernel. Never raises for a down engine."""
    from ..engine import connect
    from .images import all_image_refs, missing_images, node_image_ref

    report: dict = {
        "engine": {"reachable": False, "address": engine_address()},
        "images": {"present": False, "names": all_image_refs(settings), "missing": None},
        "kernel": {"ipvs": None, "esp": None, "vxlan": None},
        "kernel_detail": {},
        "problems": [],
    }
    try:
        client = connect(timeout=30)
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
                mode, _ = node_security(client, node_ref, settings)
                report["engine"]["node_mode"] = mode
            except SandboxError as exc:
                report["problems"].append(str(exc))
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
