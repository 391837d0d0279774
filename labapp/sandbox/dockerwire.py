"""The wire under docker-py: a hijacked exec stream and a streamed GET. Every reach past a
library's public API in labapp is in this module, and shape_problems() says when one of
them no longer has the shape it had (tests/unit/test_dockerwire.py fails naming it).

Why not docker-py's public calls (measured with docker 7.2.0, requests 2.34.2, urllib3 2.8.0,
the versions pinned in pyproject.toml, on the host engine, 2026-11-27):

* ``APIClient.exec_start(exec_id, socket=True)`` returns the raw socket under http.client's
  buffered reader, after that reader has read the response's headers. Output that came in
  the same read as the headers waits in the reader's buffer, and reading the socket skips
  it: with the client 0.3 s late to read the headers (a busy process), 17 of 20 and 75 of
  100 quick commands (`printf hello`) lost their whole output that way; without the delay,
  0 of 200 in one run and 1 of 100 in another on a loaded host. start_hijacked() lost none
  in any run. It is a race, and lost output is a wrong verdict for a learner.
* That socket keeps the client's timeout (60 s by default), and exec_start takes none: a
  command quiet for longer ends in TimeoutError (a client with a 2 s timeout and a command
  quiet for 4 s: TimeoutError; start_hijacked: the output).
* ``APIClient.get_image`` saves one image (/images/{name}/get). The lesson bundle is one
  save of several (/images/get?names=..., a shared layer stored once); docker-py has no
  call for it, so stream_get() makes the request with public parts.

Public parts used: APIClient is a requests.Session (its post() and get()), and its base_url,
api_version and timeout; docker.errors.create_api_error_from_http_exception (what docker-py
itself raises with); urllib3's HTTPResponse.connection, and that connection's socket
(http.client's HTTPConnection.sock) for writing the exec's stdin. The node tunnel
(nodeclient.py) uses urllib3's and requests' documented extension points: a pool's
ConnectionCls and conn_kw, HTTPConnection.is_connected, and an HTTPAdapter's
get_connection_with_tls_context and request_url.

The one private hook, and why: the buffered reader the headers were read through,
``response.raw._fp.fp`` (urllib3 keeps http.client's response as ``_fp``; http.client keeps
its buffered reader on the socket as ``fp``). The engine answers an exec start with
"101 UPGRADED"; to http.client a 101 has no body (length 0), so nothing public reads past
the headers, and the stream's first bytes may already be in that reader.
"""
from __future__ import annotations

import http.client
import inspect
import io

import docker
import docker.errors
import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.response

PINNED = {"docker": "7.2.0", "requests": "2.34.2", "urllib3": "2.8.0"}  # as in pyproject.toml


def api_url(api: docker.APIClient, path: str) -> str:
    """The URL of engine API PATH ('/exec/ID/start') at the client's API version."""
    return f"{api.base_url}/v{api.api_version}{path}"


def raise_for_status(response: requests.Response) -> None:
    """Raise docker-py's error for a failed RESPONSE (NotFound for a 404, else APIError),
    with the engine's message, as docker-py's own calls do."""
    try:
        response.raise_for_status()
    except requests.HTTPError as exc:
        raise docker.errors.create_api_error_from_http_exception(exc) from exc


def start_hijacked(api: docker.APIClient, path: str, body: dict):
    """POST BODY to PATH asking for the connection (as `docker exec` does: Upgrade: tcp);
    return (response, reader, sock).

    READER is the buffered reader the headers were read through (read1() for what has
    come, b'' at the end), so bytes that arrived with the headers are not lost. SOCK writes
    to the stream (stdin); it reads without a timeout: a command may run for minutes, and
    the caller's own deadline decides when it ends, not the client's socket timeout."""
    response = api.post(api_url(api, path), json=body, headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                        stream=True, timeout=None)
    try:
        raise_for_status(response)
        reader = response.raw._fp.fp  # the private hook: see the module's docstring
        sock = response.raw.connection.sock
        sock.settimeout(None)
    except BaseException:
        response.close()
        raise
    return response, reader, sock


def stream_get(api: docker.APIClient, path: str, params: dict | None = None) -> requests.Response:
    """GET engine API PATH with PARAMS, its body streamed (iter_content), with the client's
    timeout between reads; docker-py's errors for a failed answer."""
    response = api.get(api_url(api, path), params=params, stream=True, timeout=api.timeout)
    try:
        raise_for_status(response)
    except BaseException:
        response.close()
        raise
    return response


# --- the shape of what this module and nodeclient.py rely on ---------------------------

def _versions_problems() -> list[str]:
    import importlib.metadata

    problems = []
    for name, pinned in PINNED.items():
        installed = importlib.metadata.version(name)
        if installed != pinned:
            problems.append(f"{name} is {installed}, not {pinned} as pinned: measure start_hijacked against "
                            "exec_start(socket=True) again (see labapp/sandbox/dockerwire.py) and re-pin")
    return problems


def _params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


def shape_problems() -> list[str]:
    """What no longer has the shape this module and nodeclient.py rely on, one sentence each
    naming the library, the name and what changed; [] when all is as it was."""
    problems = _versions_problems()

    def need(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    # docker-py: a requests.Session with these attributes, and its error factory.
    need(issubclass(docker.APIClient, requests.Session), "docker: APIClient is no longer a requests.Session")
    api = docker.APIClient(base_url="unix:///labapp-shape-check.sock", version="1.41", timeout=7)
    try:
        need(getattr(api, "base_url", None) == "http+docker://localhost",
             f"docker: APIClient.base_url is {getattr(api, 'base_url', 'missing')!r}, not 'http+docker://localhost'")
        need(getattr(api, "api_version", None) == "1.41", "docker: APIClient.api_version is not the version given")
        need(getattr(api, "timeout", None) == 7, "docker: APIClient.timeout is not the timeout given")
    finally:
        api.close()
    factory = getattr(docker.errors, "create_api_error_from_http_exception", None)
    need(callable(factory) and _params(factory)[:1] == ["e"],
         "docker: docker.errors.create_api_error_from_http_exception(e) is gone or takes other arguments")

    # urllib3's response keeps http.client's response as _fp; http.client keeps its reader as fp.
    class _Sock:
        def makefile(self, mode, *args, **kwargs):
            return io.BufferedReader(io.BytesIO(b""))

    inner = http.client.HTTPResponse(_Sock())
    need(isinstance(getattr(inner, "fp", None), io.BufferedReader),
         "http.client: HTTPResponse.fp (the buffered reader on the socket) is gone")
    connection = object()
    try:
        outer = urllib3.response.HTTPResponse(body=inner, preload_content=False, connection=connection)
    except TypeError as exc:
        problems.append(f"urllib3: HTTPResponse(body=, preload_content=, connection=) fails: {exc}")
    else:
        need(getattr(outer, "_fp", None) is inner,
             "urllib3: HTTPResponse._fp no longer holds http.client's response (the private hook)")
        try:
            held = outer.connection
        except Exception:  # noqa: BLE001 - any failure here is the change being reported
            held = None
        need(held is connection, "urllib3: HTTPResponse.connection no longer gives the response's connection")
    need(hasattr(http.client.HTTPConnection("localhost"), "sock"), "http.client: HTTPConnection.sock is gone")

    # urllib3's extension points (nodeclient.py): ConnectionCls built with conn_kw; is_connected.
    pool_init = inspect.signature(urllib3.connectionpool.HTTPConnectionPool.__init__).parameters
    need(any(p.kind is p.VAR_KEYWORD for p in pool_init.values()),
         "urllib3: HTTPConnectionPool(**conn_kw) no longer takes the new connections' arguments")
    need(isinstance(getattr(urllib3.connectionpool.HTTPConnectionPool, "ConnectionCls", None), type),
         "urllib3: HTTPConnectionPool.ConnectionCls is gone")
    need(isinstance(getattr(urllib3.connection.HTTPConnection, "is_connected", None), property),
         "urllib3: HTTPConnection.is_connected is no longer a property")
    need(_params(urllib3.connection.HTTPConnection.connect) == ["self"],
         "urllib3: HTTPConnection.connect() takes arguments now")

    # requests' adapter: the two methods nodeclient.py overrides, with these arguments.
    adapter = requests.adapters.HTTPAdapter
    for name, wanted in (("get_connection_with_tls_context", ["self", "request", "verify", "proxies", "cert"]),
                         ("request_url", ["self", "request", "proxies"])):
        method = getattr(adapter, name, None)
        need(method is not None and _params(method) == wanted,
             f"requests: HTTPAdapter.{name}{tuple(wanted[1:])} is gone or takes other arguments")
    return problems
