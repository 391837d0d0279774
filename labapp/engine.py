"""The host Docker engine: connect to it, or say clearly why not."""
from __future__ import annotations

import os

import docker
import docker.errors
import docker.tls
import requests.exceptions

from .errors import EngineUnavailable

# Errors that mean the engine went away or never answered (not that it refused a request).
CONNECTION_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionError,
    FileNotFoundError,
)


def engine_address() -> str:
    """Where labapp looks for the engine: DOCKER_HOST or the default socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: float | None = 60, base_url: str | None = None, tls_dir: str = "") -> docker.DockerClient:
    """A client for the host engine (or the one at BASE_URL: unix://, tcp:// with TLS from
    TLS_DIR, ssh://) that has answered a ping, or EngineUnavailable.

    timeout=None gives a client whose reads never time out (for long exec streams).
    """
    try:
        if base_url is None:
            client = docker.from_env(timeout=timeout)
        else:
            client = docker.DockerClient(base_url=base_url, timeout=timeout, tls=_tls(base_url, tls_dir),
                                         use_ssh_client=base_url.startswith("ssh://"))
        client.ping()
    except (docker.errors.DockerException, *CONNECTION_ERRORS) as exc:
        raise EngineUnavailable(
            f"no Docker engine answers at {base_url or engine_address()} ({_short(exc)})"
        ) from None
    return client


def engine_addresses(engines: str) -> list[str]:
    """LABAPP_ENGINES as a list of addresses (empty: the one engine of DOCKER_HOST)."""
    addresses = [a.strip() for a in engines.split(",") if a.strip()]
    for address in addresses:
        if not address.startswith(("unix://", "tcp://", "ssh://")):
            from .config import ConfigError

            raise ConfigError(f"LABAPP_ENGINES: '{address}' is not an engine address; write unix:///path, "
                              "tcp://host:2376 or ssh://user@host")
    if len(set(addresses)) != len(addresses):
        from .config import ConfigError

        raise ConfigError("LABAPP_ENGINES names an engine twice")
    return addresses


def _tls(base_url: str, tls_dir: str):
    """TLS for a tcp:// engine: TLS_DIR/<host>/ (per engine) or TLS_DIR itself holds ca.pem,
    cert.pem and key.pem, as Docker's DOCKER_CERT_PATH does; False for other addresses."""
    if not base_url.startswith("tcp://") or not tls_dir:
        return False
    host = base_url[len("tcp://"):].split(":")[0].split("/")[0]
    folder = os.path.join(tls_dir, host) if os.path.isdir(os.path.join(tls_dir, host)) else tls_dir
    return docker.tls.TLSConfig(client_cert=(os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")),
                                ca_cert=os.path.join(folder, "ca.pem"), verify=True)


def _short(exc: Exception) -> str:
    """The first line of an exception's message, without urllib3's long repr."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Connection refused" in text:
        return "connection refused"
    if "No such file or directory" in text or "FileNotFoundError" in text:
        return "no socket there"
    if "Permission denied" in text:
        return "permission denied on the socket; run as root or join the docker group"
    return text[:200]
