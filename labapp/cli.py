"""The `labapp` command: doctor, images, sandbox, serve."""
from __future__ import annotations

import argparse
import json
import sys
import time

from . import __version__
from .config import Settings
from .errors import LabappError


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

    p = sub.add_parser("serve", help="run the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
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
        for problem in report["problems"]:
            print(f"problem: {problem}")
    return 0 if report["engine"]["reachable"] and report["images"]["present"] else 1


_MODES = {"privileged": "run --privileged",
          "capabilities": "run with added capabilities (this engine refuses --privileged)"}


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


def cmd_serve(args) -> int:
    from . import create_app

    app = create_app()
    print(f"labapp: serving on http://{args.host}:{args.port}/", flush=True)
    app.run(host=args.host, port=args.port, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
