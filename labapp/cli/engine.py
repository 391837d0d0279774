"""labapp doctor, images and sandbox: the engine, the images and sandboxes by hand."""
from __future__ import annotations

import json
import sys
import time

from ..config import Settings
from ..errors import LabappError


def engine_client(timeout: float | None = 60):
    from ..engine import connect

    return connect(timeout=timeout)


def cmd_doctor(args) -> int:
    from ..sandbox.probe import doctor

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
    from ..sandbox.images import build_images

    client = engine_client(timeout=600)
    build_images(client, Settings.from_env(), say=lambda m: print(f"labapp: {m}", flush=True), force=args.force)
    return 0


def cmd_images_ls(args) -> int:
    from ..sandbox.images import all_image_refs, missing_images

    settings = Settings.from_env()
    missing = set(missing_images(engine_client(), settings))
    for ref in all_image_refs(settings):
        print(f"{'missing' if ref in missing else 'built  '}  {ref}")
    return 1 if missing else 0


def cmd_sandbox_up(args) -> int:
    from ..sandbox import SwarmSandbox

    started = time.monotonic()
    progress = None if args.json else (lambda stage: print(f"labapp: {stage}", file=sys.stderr, flush=True))
    sandbox = SwarmSandbox.create(engine_client(), Settings.from_env(), nodes=args.nodes,
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
    from ..sandbox import SwarmSandbox

    sandboxes = SwarmSandbox.list(engine_client())
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
    from ..sandbox import SwarmSandbox

    cmd = list(args.cmd)
    if not cmd:
        raise LabappError("no command given; write it after --, e.g. labapp sandbox exec ID manager1 -- docker node ls")
    sandbox = SwarmSandbox.attach(engine_client(), args.id)
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
    from ..sandbox import SwarmSandbox

    if args.all == bool(args.id):
        raise LabappError("give one sandbox id or --all")
    client = engine_client()
    if args.all:
        removed = SwarmSandbox.destroy_all(client)
        print(f"removed {len(removed)} sandbox{'es' if len(removed) != 1 else ''}"
              + (f": {', '.join(removed)}" if removed else ""))
    else:
        SwarmSandbox.attach(client, args.id).destroy()
        print(f"removed sandbox {args.id}")
    return 0
