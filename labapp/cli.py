"""The `labapp` command: doctor, images, sandbox, lessons, reap, pool, serve."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from . import __version__
from .config import Settings
from .errors import LabappError
from .lesson.model import LANGUAGES


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after the first "--" is the command of `sandbox exec`, options and all.
    tail = None
    if "--" in argv:
        cut = argv.index("--")
        argv, tail = argv[:cut], argv[cut + 1:]
    args = parser.parse_args(argv)
    if tail is not None:
        if getattr(args, "func", None) is not cmd_sandbox_exec:
            parser.error("'--' is only for 'labapp sandbox exec ID NODE -- CMD...'")
        args.cmd = tail
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except LabappError as exc:
        print(f"labapp: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labapp: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labapp", description="Docker swarm networking labs.")
    parser.add_argument("--version", action="version", version=f"labapp {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("doctor", help="report the engine, the images and what the kernel can do")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_doctor)

    images = sub.add_parser("images", help="the node and lesson images").add_subparsers(dest="images_command")
    p = images.add_parser("build", help="build the images that are missing (offline, from Debian packages)")
    p.add_argument("--force", action="store_true", help="rebuild even the images that are up to date")
    p.set_defaults(func=cmd_images_build)
    p = images.add_parser("ls", help="list the images labapp needs and whether each is built")
    p.set_defaults(func=cmd_images_ls)

    sandbox = sub.add_parser("sandbox", help="make, list, use and remove sandboxes").add_subparsers(dest="sandbox_command")
    p = sandbox.add_parser("up", help="make a sandbox: a ready swarm of real Docker engines")
    p.add_argument("--nodes", type=int, default=3, help="how many nodes (default 3)")
    p.add_argument("--managers", type=int, default=1, help="how many of them are managers (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_sandbox_up)
    p = sandbox.add_parser("ls", help="list the sandboxes on the engine")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_sandbox_ls)
    p = sandbox.add_parser("exec", help="run a command on a node, streaming its output",
                           usage="labapp sandbox exec [--timeout S] ID NODE -- CMD...")
    p.add_argument("--timeout", type=float, default=None, help="seconds before the command is killed")
    p.add_argument("id")
    p.add_argument("node")
    p.add_argument("cmd", nargs="*",
                   help="the command, after --; one argument is run as a shell line (pipes allowed)")
    p.set_defaults(func=cmd_sandbox_exec)
    p = sandbox.add_parser("down", help="remove a sandbox (or every sandbox with --all)")
    p.add_argument("id", nargs="?")
    p.add_argument("--all", action="store_true", help="remove every labapp sandbox on the engine")
    p.set_defaults(func=cmd_sandbox_down)

    lessons = sub.add_parser("lessons", help="list, lint and run lessons").add_subparsers(dest="lessons_command")
    p = lessons.add_parser("list", help="list the lessons")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_lessons_list)
    p = lessons.add_parser("check", help="lint lesson files: every problem as file:line: message")
    p.add_argument("paths", nargs="*", help="files or directories (default: the lessons directory)")
    p.set_defaults(func=cmd_lessons_check)
    p = lessons.add_parser("run", help="run a lesson on a fresh sandbox")
    p.add_argument("slug")
    p.add_argument("--solve", action="store_true", help="run every step's solution and its checks")
    p.add_argument("--lang", choices=LANGUAGES, default=None, help="the language version (default en)")
    p.add_argument("--both-ways", action="store_true",
                   help="also run each step's state checks before its solution; they must fail there")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(func=cmd_lessons_run)

    p = sub.add_parser("reap", help="remove this app's orphaned and expired sandboxes (learners' progress is kept)")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.add_argument("--pool", action="store_true", help="also remove the warm pool's sandboxes")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_reap)

    pool = sub.add_parser("pool", help="the warm pool").add_subparsers(dest="pool_command")
    p = pool.add_parser("status", help="the warm pool's sandboxes on the engine and its configured size")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_pool_status)

    p = sub.add_parser("serve", help="run the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--allow-weak-nodes", action="store_true",
                   help="serve even where nodes cannot be hardened (also LABAPP_ALLOW_WEAK_NODES=1)")
    p.set_defaults(func=cmd_serve)
    return parser


def _client(timeout: float | None = 60):
    from .engine import connect

    return connect(timeout=timeout)


def cmd_doctor(args) -> int:
    from .sandbox.probe import doctor

    report = doctor(Settings.from_env())
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        engine = report["engine"]
        if engine["reachable"]:
            print(f"engine:  Docker {engine['version']} (API {engine['api_version']}) at {engine['address']}, "
                  f"cgroup v{engine['cgroup_version']}, "
                  f"nodes {_MODES.get(engine.get('node_mode'), 'cannot start (see below)')}")
        else:
            print(f"engine:  not reachable at {engine['address']}")
        images = report["images"]
        print(f"images:  {'all built' if images['present'] else 'missing: ' + ', '.join(images['missing'] or images['names'])}")
        kernel, detail = report["kernel"], report["kernel_detail"]
        for key, what in (("vxlan", "overlay networks"), ("ipvs", "service VIPs and the ingress mesh"),
                          ("esp", "encrypted overlays")):
            value = kernel[key]
            mark = "yes" if value else ("no " if value is False else "?  ")
            reason = "" if value or key not in detail else f" ({detail[key]})"
            print(f"kernel:  {key:<5} {mark} {what}{reason}")
        missing = report["walls"]["missing"]
        if missing is not None:
            print("walls:   " + ("all in place (see docs/security.md)" if not missing else
                                 f"{len(missing)} missing: nodes here are NOT safe to hand to strangers"))
            for what in missing:
                print(f"walls:   missing: {what}")
        for problem in report["problems"]:
            print(f"problem: {problem}")
    return 0 if report["engine"]["reachable"] and report["images"]["present"] else 1


_MODES = {"hardened": "hardened (each node's root is an unprivileged user of the host)",
          "wide": "WIDE: this engine cannot run hardened nodes; a node's root is the host's root",
          "privileged": "PRIVILEGED: this engine cannot run hardened nodes; a node's root is the host's root"}


def cmd_images_build(args) -> int:
    from .sandbox.images import build_images

    client = _client(timeout=600)
    build_images(client, Settings.from_env(), say=lambda m: print(f"labapp: {m}", flush=True), force=args.force)
    return 0


def cmd_images_ls(args) -> int:
    from .sandbox.images import all_image_refs, missing_images

    settings = Settings.from_env()
    missing = set(missing_images(_client(), settings))
    for ref in all_image_refs(settings):
        print(f"{'missing' if ref in missing else 'built  '}  {ref}")
    return 1 if missing else 0


def cmd_sandbox_up(args) -> int:
    from .sandbox import SwarmSandbox

    started = time.monotonic()
    progress = None if args.json else (lambda stage: print(f"labapp: {stage}", file=sys.stderr, flush=True))
    sandbox = SwarmSandbox.create(_client(), Settings.from_env(), nodes=args.nodes,
                                  managers=args.managers, progress=progress)
    seconds = round(time.monotonic() - started, 2)
    nodes = [{"name": n.name, "role": n.role, "address": n.address} for n in sandbox.nodes]
    if args.json:
        print(json.dumps({"id": sandbox.id, "nodes": nodes, "seconds": seconds}))
    else:
        print(f"sandbox {sandbox.id} ready in {seconds:.1f} s")
        for n in nodes:
            print(f"  {n['name']:<10} {n['role']:<8} {n['address']}")
    return 0


def cmd_sandbox_ls(args) -> int:
    from .sandbox import SwarmSandbox

    sandboxes = SwarmSandbox.list(_client())
    if args.json:
        print(json.dumps({"sandboxes": sandboxes}))
        return 0
    if not sandboxes:
        print("no sandboxes")
    for sb in sandboxes:
        age = time.time() - (sb["created"] or time.time())
        nodes = ", ".join(f"{n['name']} ({n['status']})" for n in sb["nodes"])
        print(f"{sb['id']}  {age / 60:5.1f} min  {nodes}")
    return 0


def cmd_sandbox_exec(args) -> int:
    from .sandbox import SwarmSandbox

    cmd = list(args.cmd)
    if not cmd:
        raise LabappError("no command given; write it after --, e.g. labapp sandbox exec ID manager1 -- docker node ls")
    sandbox = SwarmSandbox.attach(_client(), args.id)
    execution = sandbox.exec_stream(args.node, cmd[0] if len(cmd) == 1 else cmd, timeout=args.timeout)
    for chunk in execution:
        stream = sys.stdout if chunk.stream == "stdout" else sys.stderr
        stream.write(chunk.text)
        stream.flush()
    result = execution.result()
    if result.timed_out:
        print(f"labapp: the command was killed after {args.timeout:g} s", file=sys.stderr)
        return 124
    return result.exit_code if result.exit_code is not None else 1


def cmd_sandbox_down(args) -> int:
    from .sandbox import SwarmSandbox

    if args.all == bool(args.id):
        raise LabappError("give one sandbox id or --all")
    client = _client()
    if args.all:
        removed = SwarmSandbox.destroy_all(client)
        print(f"removed {len(removed)} sandbox{'es' if len(removed) != 1 else ''}"
              + (f": {', '.join(removed)}" if removed else ""))
    else:
        SwarmSandbox.attach(client, args.id).destroy()
        print(f"removed sandbox {args.id}")
    return 0


def cmd_lessons_list(args) -> int:
    from .lesson.catalog import load_catalog

    catalog = load_catalog()
    rows = []
    for slug, versions in sorted(catalog.lessons.items()):
        first = catalog.version(slug)
        rows.append({"slug": slug, "languages": sorted(versions), "kind": first.kind,
                     "level": first.level, "minutes": first.minutes, "steps": len(first.steps),
                     "nodes": first.nodes, "titles": {lang: l.title for lang, l in versions.items()}})
    if args.json:
        print(json.dumps({"lessons": rows, "problems": [str(p) for p in catalog.problems]}, ensure_ascii=False))
    else:
        for row in rows:
            print(f"{row['slug']:<24} {'/'.join(row['languages']):<6} {row['kind']:<9} {row['level']:<12} "
                  f"{row['minutes']:>3} min  {row['steps']:>2} steps  {row['titles'].get('en') or row['titles'].get('ko')}")
        for problem in catalog.problems:
            print(f"problem: {problem}", file=sys.stderr)
    return 1 if catalog.problems else 0


def cmd_lessons_check(args) -> int:
    from .lesson.catalog import lesson_files, lessons_dir, load_catalog

    paths = args.paths or [lessons_dir()]
    catalog = load_catalog(paths)
    for problem in catalog.problems:
        print(problem)
    files = len(lesson_files(paths))
    print(f"{files} lesson file{'s' if files != 1 else ''} checked, "
          f"{len(catalog.problems)} problem{'s' if len(catalog.problems) != 1 else ''}", file=sys.stderr)
    return 1 if catalog.problems else 0


def cmd_lessons_run(args) -> int:
    from .lesson.catalog import load_catalog
    from .runner import Runner
    from .sandbox import SwarmSandbox
    from .sandbox.images import node_image_ref
    from .sandbox.probe import probe_kernel

    if not args.solve:
        raise LabappError("say --solve: 'lessons run' runs every step's solution (the web app is for doing it yourself)")
    catalog = load_catalog()
    lesson = catalog.get(args.slug, args.lang)
    bad = [p for p in catalog.problems if p.path == lesson.path]
    if bad:
        raise LabappError(f"{lesson.path} has problems; run 'labapp lessons check': {bad[0]}")
    settings = Settings.from_env()
    client = _client()
    kernel = probe_kernel(client, node_image_ref(settings)).as_dict()
    out = sys.stderr if args.json else sys.stdout

    def show(event):
        if event["type"] == "command":
            print(f"\n[{event['node']}] $ {event['command']}", file=out, flush=True)
        elif event["type"] == "output":
            out.write(event["text"])
            out.flush()

    started = time.monotonic()
    print(f"labapp: lesson {lesson.slug} ({lesson.language}), {len(lesson.steps)} steps; host: "
          + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in kernel.items()), file=out, flush=True)
    sandbox = SwarmSandbox.create(client, settings, nodes=lesson.nodes, managers=lesson.managers)
    results = []
    try:
        runner = Runner(sandbox, lesson, kernel, on_event=show)
        for step in lesson.steps:
            print(f"\n== step {step.id}: {step.title}", file=out, flush=True)
            for note in runner.notes(step):
                print(f"note: {note.text.splitlines()[0]}", file=out)
            result = runner.solve_step(step, both_ways=args.both_ways)
            results.append(result)
            for check in result.before:
                print(f"  before {'PASS (broken check)' if check.passed else 'fail (good)'}: {check.name}: {check.reason}", file=out)
            for check in result.checks:
                print(f"  {'PASS' if check.passed else 'FAIL'} {check.name}: {check.reason}", file=out)
            if result.error:
                print(f"  error: {result.error}", file=out)
            if not result.passed:
                break
    finally:
        sandbox.destroy()
    ok = len(results) == len(lesson.steps) and all(r.passed for r in results)
    seconds = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps({"lesson": lesson.slug, "language": lesson.language, "passed": ok, "kernel": kernel,
                          "seconds": seconds, "steps": [r.as_dict() for r in results]}, ensure_ascii=False))
    else:
        print(f"\nlesson {lesson.slug} ({lesson.language}): {'passed' if ok else 'FAILED'} in {seconds} s, "
              f"{sum(r.passed for r in results)} of {len(lesson.steps)} steps")
    return 0 if ok else 1


def _services():
    """This app instance as the CLI sees it: its store and its sandboxes (no web app, no
    secret or trainer token written)."""
    from .services import build_services

    return build_services(Settings.from_env(), capacity=True)


def cmd_reap(args) -> int:
    """Orphans (this instance's sandboxes no learner holds and the pool does not own, or
    with a node down) and sandboxes past LABAPP_MAX_MINUTES go; other instances' stay."""
    from .lab import orphan_or_not

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
    from .sandbox.images import node_image_ref, require_images
    from .sandbox.probe import node_security

    allowed = settings.allow_weak_nodes
    try:
        client = _client()
        try:
            require_images(client, settings)
            recipe = node_security(client, node_image_ref(settings), settings)
        finally:
            client.close()
    except LabappError as exc:  # no engine or images yet: each sandbox's creation checks again
        print(f"labapp: cannot tell yet whether nodes can be hardened here ({exc})", flush=True)
        return
    if not recipe.weak:
        return
    if not allowed:
        raise LabappError(f"nodes run with the {recipe.name} recipe here: {WEAK_NODES_RISK}",
                          hint="'labapp doctor' says what is missing; to serve anyway, set "
                               "LABAPP_ALLOW_WEAK_NODES=1 or pass --allow-weak-nodes")
    print(f"labapp: WARNING: nodes run with the {recipe.name} recipe: {WEAK_NODES_RISK} "
          "(allowed by LABAPP_ALLOW_WEAK_NODES / --allow-weak-nodes)", flush=True)


def cmd_serve(args) -> int:
    from . import create_app
    from .services import build_services
    from .web.events import socketio
    from .web.trainer import trainer_token_note

    settings = Settings.from_env(**({"allow_weak_nodes": True} if args.allow_weak_nodes else {}))
    _check_walls(settings)
    services = build_services(settings)
    app = create_app(services=services)
    # SIGTERM ends the server like Ctrl-C does, so the sandboxes it made are destroyed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    found = services.start()
    if found.get("error"):
        print(f"labapp: could not look for this instance's sandboxes: {found['error']}", flush=True)
    elif any(found.values()):
        print(f"labapp: took back {len(found['adopted'])} learners' sandboxes and {len(found['pooled'])} "
              f"pooled ones; removed {len(found['reaped'])} orphans", flush=True)
    if services.capacity:
        print(f"labapp: {services.capacity.explain()}", flush=True)
    print(f"labapp: trainer token: {trainer_token_note(settings)}", flush=True)
    print(f"labapp: serving on http://{args.host}:{args.port}/", flush=True)
    try:
        socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True)
    finally:
        services.shutdown()  # no sandbox outlives the app
    return 0


if __name__ == "__main__":
    sys.exit(main())
