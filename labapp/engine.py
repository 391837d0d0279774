"""The host Docker engine: connect to it, or say clearly why not."""
from __future__ import annotations

import os

import docker
import docker.errors
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


def connect(timeout: float | None = 60) -> docker.DockerClient:
    """A client for the host engine that has answered a ping, or EngineUnavailable.

    timeout=None gives a client whose reads never time out (for long exec streams).
    """
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, *CONNECTION_ERRORS) as exc:
        raise EngineUnavailable(
            f"no Docker engine answers at {engine_address()} ({_short(exc)})"
        ) from None
    return client


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
