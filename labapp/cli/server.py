"""labapp reap, pool status and serve: this app instance, with or without its web server."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback

from ..config import Settings
from ..errors import LabappError
from .engine import engine_client


def _services():
    """This app instance as the CLI sees it: its store and its sandboxes (no web app, no
    secret or trainer token written)."""
    from ..services import build_services

    return build_services(Settings.from_env(), capacity=True)


def cmd_reap(args) -> int:
    """Orphans (this instance's sandboxes no learner holds and the pool does not own, or
    with a node down) and sandboxes past LABAPP_MAX_MINUTES go; other instances' stay."""
    from ..lab import orphan_or_not

    lab = _services()
    held = lab.store.holdings()
    max_age = lab.settings.max_minutes * 60
    now = time.time()
    plan = []
    for entry in lab.backend.existing():
        age = now - (entry["created"] or now)
        verdict = orphan_or_not(entry, held)
        if verdict == "pooled":
            if args.pool:
                plan.append((entry, "pooled"))
        elif verdict == "orphan":
            plan.append((entry, "orphan: no learner holds it" if entry["id"] not in held
                         else "a node is not running"))
        elif max_age and age > max_age:
            plan.append((entry, f"older than LABAPP_MAX_MINUTES ({age / 60:.0f} min)"))
    for entry, why in plan:
        if not args.dry_run:
            lab.backend.destroy(entry["id"])
            if entry["id"] in held:
                lab.store.let_go(held[entry["id"]]["learner"], entry["id"])
    if args.json:
        print(json.dumps({"removed" if not args.dry_run else "would_remove":
                          [{"id": e["id"], "why": why} for e, why in plan]}))
    else:
        verb = "would remove" if args.dry_run else "removed"
        for entry, why in plan:
            print(f"{verb} {entry['id']}: {why}")
        print(f"labapp reap: {verb} {len(plan)} sandboxes of this instance ({lab.backend.owner})")
    return 0


def cmd_pool_status(args) -> int:
    lab = _services()
    pooled = [e for e in lab.backend.existing() if e["pooled"]]
    now = time.time()
    data = {"instance": lab.backend.owner, "standing_size": lab.settings.pool_size,
            "capacity": lab.admission.max_sandboxes,
            "pooled": [{"id": e["id"], "shape": e["shape"], "age_seconds": int(now - (e["created"] or now)),
                        "nodes_running": sum(1 for n in e["nodes"] if n["status"] == "running"),
                        "nodes": len(e["nodes"])} for e in pooled]}
    if args.json:
        print(json.dumps(data))
        return 0
    print(f"warm pool of instance {data['instance']}: standing size {data['standing_size']} per shape "
          f"(LABAPP_POOL_SIZE); host capacity {data['capacity'] or 'no limit'}; workshops reserve more "
          "from 15 min before they start")
    if not pooled:
        print("no pooled sandboxes on the engine (the app fills the pool while it runs)")
    for e in data["pooled"]:
        print(f"  {e['id']}  shape {e['shape']}  {e['age_seconds'] // 60} min old  "
              f"{e['nodes_running']}/{e['nodes']} nodes running")
    return 0


WEAK_NODES_RISK = ("on this host a node's root is the host's root, so anyone who gets past the console "
                   "can take this machine, the other learners' sandboxes and the trainer token")


def _check_walls(settings: Settings) -> None:
    """Refuse to serve where nodes cannot be hardened, unless the operator says so."""
    from ..sandbox.images import node_image_ref, require_images
    from ..sandbox.probe import node_security

    from ..engine import connect, engine_addresses

    for address in engine_addresses(settings.engines) or [None]:  # each engine of several (LABAPP_ENGINES)
        _check_engine_walls(settings, address, require_images, node_security, node_image_ref, connect)


def _check_engine_walls(settings, address, require_images, node_security, node_image_ref, connect) -> None:
    allowed = settings.allow_weak_nodes
    where = "here" if address is None else f"on the engine {address}"
    try:
        client = engine_client() if address is None else connect(base_url=address, tls_dir=settings.engine_tls_dir)
        try:
            require_images(client, settings)
            recipe = node_security(client, node_image_ref(settings), settings)
        finally:
            client.close()
    except LabappError as exc:  # no engine or images yet: each sandbox's creation checks again
        print(f"labapp: cannot tell yet whether nodes can be hardened {where} ({exc})", flush=True)
        return
    if not recipe.weak:
        return
    if not allowed:
        raise LabappError(f"nodes run with the {recipe.name} recipe {where}: {WEAK_NODES_RISK}",
                          hint="'labapp doctor' says what is missing; to serve anyway, set "
                               "LABAPP_ALLOW_WEAK_NODES=1 or pass --allow-weak-nodes")
    print(f"labapp: WARNING: nodes run with the {recipe.name} recipe{'' if address is None else ' ' + where}: "
          f"{WEAK_NODES_RISK} "
          "(allowed by LABAPP_ALLOW_WEAK_NODES / --allow-weak-nodes)", flush=True)


def _announce(services, settings) -> None:
    """What `labapp serve` says once its services run: sandboxes taken back, capacity, token."""
    from ..web.trainer import trainer_token_note

    found = services.start()
    if found.get("error"):
        print(f"labapp: could not look for this instance's sandboxes: {found['error']}", flush=True)
    elif any(found.values()):
        print(f"labapp: took back {len(found['adopted'])} learners' sandboxes and {len(found['pooled'])} "
              f"pooled ones; removed {len(found['reaped'])} orphans", flush=True)
    if services.capacity:
        print(f"labapp: {services.capacity.explain()}", flush=True)
    if services.cluster is not None:
        print(f"labapp: instance {services.cluster.instance} of the cluster '{services.cluster.name}' "
              f"(LABAPP_MESSAGE_QUEUE); alive now: {', '.join(sorted(services.cluster.alive()))}", flush=True)
    print(f"labapp: trainer token: {trainer_token_note(settings)}", flush=True)


def _shut(services) -> None:
    """Destroy every sandbox this instance holds; say how long it took."""
    started = time.monotonic()
    held = services.seats.live() + services.pool.count()
    print(f"labapp: stopping: removing {held} sandboxes", flush=True)
    services.shutdown()
    print(f"labapp: stopped ({time.monotonic() - started:.1f} s)", flush=True)


def cmd_serve(args) -> int:
    """Serve the app: Gunicorn (labapp/cli/production.py) by default, Werkzeug's development
    server with --dev. Either way SIGTERM and Ctrl-C stop it within seconds, every sandbox
    it made removed."""
    from .production import Production, ServeOptions, forwarded_only_from, proxy_networks

    settings = Settings.from_env(**({"allow_weak_nodes": True} if args.allow_weak_nodes else {}))
    proxies = proxy_networks(args.proxy_from)
    if args.threads < 4:
        raise LabappError(f"--threads {args.threads}: at least 4")
    kernel = _simulated(settings)
    if kernel is None:
        _check_walls(settings)
    if args.dev:
        return _serve_dev(args, settings, proxies, kernel)
    options = ServeOptions(host=args.host, port=args.port, threads=args.threads)

    def make_app():
        from .. import create_app
        from ..services import build_services

        services = build_services(settings, kernel=kernel)
        app = create_app(services=services)
        if settings.trusted_proxies > 0:
            app.wsgi_app = forwarded_only_from(app.wsgi_app, proxies)
        _announce(services, settings)
        print(f"labapp: serving on http://{_url_host(args.host)}:{args.port}/ (Gunicorn, one worker process, "
              f"{options.threads} threads, at most {options.websockets} WebSockets)", flush=True)
        return app, services

    Production(make_app, options, close=_shut).run()
    return 0


def _simulated(settings) -> dict | None:
    """LABAPP_BACKEND=loadtest: say loudly that sandboxes are simulated; the kernel probe's
    answer to use instead of probing (no engine is checked or asked). None otherwise."""
    if settings.backend != "loadtest":
        return None
    from ..sandbox.loadtest import KERNEL, WARNING

    print(WARNING, flush=True)
    return KERNEL


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _serve_dev(args, settings, proxies, kernel=None) -> int:
    """Werkzeug's development server (a thread per connection, no limits): for a laptop only."""
    from .. import create_app
    from ..services import build_services
    from ..web.events import socketio
    from .production import forwarded_only_from

    services = build_services(settings, kernel=kernel)
    app = create_app(services=services)
    if settings.trusted_proxies > 0:
        app.wsgi_app = forwarded_only_from(app.wsgi_app, proxies)

    def stop(*_):
        raise KeyboardInterrupt  # ends serve_forever in the main thread, then the finally below

    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        _announce(services, settings)
        print(f"labapp: serving on http://{_url_host(args.host)}:{args.port}/ (Werkzeug's development server, "
              "--dev: not for a room)", flush=True)
        socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True)
    except KeyboardInterrupt:
        code = 0
    except BaseException:  # an address in use, say: said, and a failing exit
        traceback.print_exc()
        code = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        try:
            _shut(services)  # no sandbox outlives the app
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            # Werkzeug's and Socket.IO's threads still serving connections would hold the exit.
            os._exit(code)
