"""The values of allowed flags judged as the 20.10 CLI reads them (-v, --mount, --network,
namespaces, --security-opt, logging, -e, drivers) and the registry host an image names."""
from __future__ import annotations

import re
from typing import Callable

from ..i18n import N_, msg
from .dockercli import FALSE, TRUE, Flag
from .grammar import show


_VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]+\Z")  # the local volume driver's names
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000"
_LOG_DRIVERS = ("json-file", "local", "none")
_LOG_OPTS = ("max-size", "max-file", "compress", "mode", "max-buffer-size", "labels", "labels-regex", "env",
             "env-regex", "tag")
_NETWORK_DRIVERS = ("bridge", "overlay", "macvlan", "ipvlan")
_NAMED_MOUNT = "--mount type=volume,source=NAME,target=/path"


def _go_lower(text: str) -> str:
    """Go's strings.ToLower (simple case mapping: İ becomes i, not i + a dot)."""
    return text.replace("\u0130", "i").lower()


def _go_trim(text: str) -> str:
    return text.strip(_GO_SPACE)


def go_csv_record(value: str) -> list[str]:
    """The first record of VALUE as Go's encoding/csv Reader.Read reads it (the CLI's csv options)."""
    if value == "":
        raise ValueError("the value is empty")
    fields, i, n = [], 0, len(value)
    while True:
        if i < n and value[i] == '"':
            i += 1
            piece = []
            while True:
                end = value.find('"', i)
                if end < 0:
                    raise ValueError('extraneous or missing " in quoted-field')
                piece.append(value[i:end])
                i = end + 1
                if value.startswith('"', i):
                    piece.append('"')
                    i += 1
                elif value.startswith(",", i):
                    fields.append("".join(piece))
                    i += 1
                    break
                elif i == n:
                    fields.append("".join(piece))
                    return fields
                else:
                    raise ValueError('extraneous or missing " in quoted-field')
        else:
            end = value.find(",", i)
            piece = value[i:] if end < 0 else value[i:end]
            if '"' in piece:
                raise ValueError('bare " in non-quoted-field')
            fields.append(piece)
            if end < 0:
                return fields
            i = end + 1


def _is_path(source: str) -> bool:
    return "/" in source or "\\" in source or source.startswith((".", "~")) or source == ""


_NOT_A_VOLUME = N_("{option} {value} cannot be read: {name} is not a volume name")
_UNREADABLE = N_("{option} {value} cannot be read: {why}")
_HOST_NAMESPACE = N_("{option} host shares the node's own namespace with a container; it is not allowed in the lab")
_NOT_BUILT_IN = N_("{option} {value} is not a built-in driver; allowed: {drivers}")


def _judge_volume(flag: Flag) -> str | None:
    value = flag.value
    parts = value.split(":")
    if len(parts) == 1:
        return None  # an anonymous volume at that path of the container
    if len(parts) > 3 or _is_path(parts[0]):
        return msg("{option} {value} mounts a path of the node into a container; "
                   "use a named volume instead: -v NAME:/path", option=flag.typed, value=show(value))
    if not _VOLUME_NAME.match(parts[0]):
        return msg(_NOT_A_VOLUME, option=flag.typed, value=show(value), name=show(parts[0], 40))
    return None


def mount_fields(value: str) -> dict:
    """A --mount value read like the 20.10 CLI's MountOpt.Set: {'type', 'source', 'target', 'keys'}."""
    fields = go_csv_record(value)
    mount = {"type": "volume", "source": "", "target": "", "keys": []}
    for item in fields:
        key, eq, val = item.partition("=")
        key = _go_lower(key)
        mount["keys"].append(key)
        if not eq:
            if key in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
                continue
            raise ValueError(f"invalid field '{item}' must be a key=value pair")
        if key == "type":
            mount["type"] = _go_lower(val)
        elif key in ("source", "src"):
            mount["source"] = val
        elif key in ("target", "dst", "destination"):
            mount["target"] = val
        elif key not in ("readonly", "ro", "consistency", "bind-propagation", "bind-nonrecursive",
                         "volume-nocopy", "volume-label", "volume-driver", "volume-opt", "tmpfs-size",
                         "tmpfs-mode"):
            raise ValueError(f"unexpected key '{key}' in '{item}'")
    return mount


def _judge_mount(flag: Flag) -> str | None:
    shown = {"option": flag.typed, "value": show(flag.value)}
    try:
        mount = mount_fields(flag.value)
    except ValueError as exc:
        return msg(_UNREADABLE, why=str(exc), **shown)
    keys, source = mount["keys"], mount["source"]
    if mount["type"] == "bind" or any(k.startswith("bind-") for k in keys) \
            or (mount["type"] == "volume" and source and _is_path(source)):
        return msg("{option} {value} mounts a path of the node into a container; use {mount}", mount=_NAMED_MOUNT,
                   **shown)
    if "volume-driver" in keys or "volume-opt" in keys:
        return msg("{option} {value} sets a volume driver or its options, which can mount paths of the node; "
                   "use {mount}", mount=_NAMED_MOUNT, **shown)
    if mount["type"] not in ("volume", "tmpfs"):
        return msg("{option} {value} has type {type}; the console mounts only type=volume and type=tmpfs",
                   type=show(mount["type"], 20), **shown)
    if mount["type"] == "volume" and source and not _VOLUME_NAME.match(source):
        return msg(_NOT_A_VOLUME, name=show(source, 40), **shown)
    if mount["type"] == "tmpfs" and source:
        return msg("{option} {value} cannot be read: a tmpfs mount has no source", **shown)
    return None


_LONG_NETWORK = re.compile(r"\w+=\w+(,\w+=\w+)*", re.ASCII)


def network_target(value: str) -> str:
    """The network a --network value names, read like the 20.10 CLI's NetworkOpt.Set."""
    if not _LONG_NETWORK.search(value):
        return value
    target = ""
    for item in go_csv_record(value):
        key, eq, val = item.partition("=")
        if not eq:
            raise ValueError(f"invalid field {item}")
        key, val = _go_trim(_go_lower(key)), _go_trim(_go_lower(val))
        if key == "name":
            target = val
        elif key not in ("alias", "driver-opt"):
            raise ValueError(f"invalid field key {key}")
    if not target:
        raise ValueError("network name/id is not specified")
    return target


def _judge_network(flag: Flag) -> str | None:
    try:
        target = network_target(flag.value)
    except ValueError as exc:
        return msg(_UNREADABLE, option=flag.typed, value=show(flag.value), why=str(exc))
    if _go_lower(target) == "host":
        return msg(_HOST_NAMESPACE, option=flag.typed)
    return None


def _judge_namespace(flag: Flag) -> str | None:
    if _go_lower(flag.value) == "host":
        return msg(_HOST_NAMESPACE, option=flag.typed)
    return None


def _judge_security_opt(flag: Flag) -> str | None:
    name, _, value = flag.value.replace(":", "=", 1).partition("=")
    if name == "no-new-privileges" and (not value or value in TRUE | FALSE) and "=" not in value:
        return None
    return msg("{option} {value} switches off the node's protections; only --security-opt no-new-privileges is "
               "allowed", option=flag.typed, value=show(flag.value))


def _judge_log_driver(flag: Flag) -> str | None:
    if flag.value in _LOG_DRIVERS:
        return None
    return msg("{option} {value} sends logs out of the sandbox; use json-file, local or none", option=flag.typed,
               value=show(flag.value))


def _judge_log_opt(flag: Flag) -> str | None:
    if flag.value.split("=", 1)[0] in _LOG_OPTS:
        return None
    return msg("{option} {value} is not an option of the json-file or local log driver; allowed: {options}",
               option=flag.typed, value=show(flag.value), options=", ".join(_LOG_OPTS))


def _judge_env(flag: Flag) -> str | None:
    if "=" in flag.value:
        return None
    return msg("{option} {name} copies a variable from the node's environment; give its value: {option} {name}=VALUE",
               option=flag.typed, name=show(flag.value, 40))


def _judge_content_trust(flag: Flag) -> str | None:
    if flag.value in TRUE:
        return None
    return msg("{option}={value} turns on content trust, which writes trust data to the node's files; "
               "leave the option out", option=flag.typed, value=flag.value)


def _judge_volume_driver(flag: Flag) -> str | None:
    if flag.value == "local":
        return None
    return msg(_NOT_BUILT_IN, option=flag.typed, value=show(flag.value, 40), drivers="local")


def _judge_volume_opt(flag: Flag) -> str | None:
    # The node engines refuse every driver option of a volume (labapp/sandbox/authz): say so here.
    return msg("{option} {value}: a volume's options can make it a bind mount of a path of the node, so volumes "
               "here take none: docker volume create NAME", option=flag.typed, value=show(flag.value))


def _judge_network_driver(flag: Flag) -> str | None:
    if flag.value in _NETWORK_DRIVERS:
        return None
    return msg(_NOT_BUILT_IN, option=flag.typed, value=show(flag.value, 40), drivers=", ".join(_NETWORK_DRIVERS))


def _judge_ipam_driver(flag: Flag) -> str | None:
    if flag.value == "default":
        return None
    return msg(_NOT_BUILT_IN, option=flag.typed, value=show(flag.value, 40), drivers="default")


_CONTAINER_JUDGES: dict[str, Callable[[Flag], str | None]] = {
    "--volume": _judge_volume, "--mount": _judge_mount, "--network": _judge_network, "--net": _judge_network,
    "--pid": _judge_namespace, "--ipc": _judge_namespace, "--uts": _judge_namespace,
    "--userns": _judge_namespace, "--cgroupns": _judge_namespace, "--security-opt": _judge_security_opt,
    "--log-driver": _judge_log_driver, "--log-opt": _judge_log_opt, "--env": _judge_env,
    "--disable-content-trust": _judge_content_trust,
}
_SERVICE_CREATE_JUDGES: dict[str, Callable[[Flag], str | None]] = {
    "--mount": _judge_mount, "--network": _judge_network, "--log-driver": _judge_log_driver,
    "--log-opt": _judge_log_opt, "--env": _judge_env,
}
_SERVICE_UPDATE_JUDGES: dict[str, Callable[[Flag], str | None]] = {
    "--mount-add": _judge_mount, "--network-add": _judge_network, "--log-driver": _judge_log_driver,
    "--log-opt": _judge_log_opt, "--env-add": _judge_env,
}
JUDGES: dict[str, dict[str, Callable[[Flag], str | None]]] = {
    **{p: _CONTAINER_JUDGES for p in ("run", "create", "container run", "container create")},
    **{p: {"--env": _judge_env} for p in ("exec", "container exec")},
    "service create": _SERVICE_CREATE_JUDGES,
    "service update": _SERVICE_UPDATE_JUDGES,
    "volume create": {"--driver": _judge_volume_driver, "--opt": _judge_volume_opt},
    "network create": {"--driver": _judge_network_driver, "--ipam-driver": _judge_ipam_driver},
}


def registry_host(image: str) -> str | None:
    """The registry host an image reference names, as docker's reference parser splits it
    (splitDockerDomain): a first path component with '.', ':' or capitals, or 'localhost'."""
    first, slash, _ = image.partition("/")
    if slash and (any(c in first for c in ".:") or first == "localhost" or first.lower() != first):
        return first
    return None


def judge_image(image: str) -> str | None:
    host = registry_host(image)
    if host is None:
        return None
    return msg("the image {image} names the registry host {host}, and the lab has no registry; use an image the "
               "node has (docker images)", image=show(image, 60), host=show(host, 40))
