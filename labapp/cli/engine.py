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
    from ..engine import engine_addresses
    from ..sandbox.probe import doctor

    settings = Settings.from_env()
    addresses = engine_addresses(settings.engines)
    if not addresses:
        report = doctor(settings)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            _print_doctor(report)
        return 0 if report["engine"]["reachable"] and report["images"]["present"] else 1
    # Several engines (LABAPP_ENGINES, docs/scale.md): each engine's report, then the lab's.
    reports = [_engine_report(settings, address) for address in addresses]
    total = sum(r["capacity"] or 0 for r in reports if r["engine"]["reachable"])
    lab = {"engines": reports, "capacity": total, "bridge_wall": _bridge_wall(addresses)}
    if args.json:
        print(json.dumps(lab, indent=2))
    else:
        for number, report in enumerate(reports, start=1):
            engine = report["engine"]
            state = "up" if engine["reachable"] else "DOWN"
            held = report["sandboxes"]
            print(f"== engine {number}: {engine['address']} ({state})" + (
                f", holds {held['all']} sandboxes ({held['mine']} of this instance), room for "
                f"{report['capacity']}" if engine["reachable"] else ""))
            _print_doctor(report)
        wall = lab["bridge_wall"]
        print(f"lab:     {len(addresses)} engines, room for {total} sandboxes at once (the engines that answer)")
        if wall is not None:
            print(f"walls:   missing: labapp's bridge rules (sandbox/hostwall.py): {wall}; the lab refuses to "
                  "serve several engines on this machine without them")
    good = all(r["engine"]["reachable"] and r["images"]["present"] for r in reports) and lab["bridge_wall"] is None
    return 0 if good else 1


def _engine_report(settings, address: str) -> dict:
    """doctor() for one engine of several, with its capacity and the sandboxes on it."""
    from ..engine import connect
    from ..sandbox import SwarmSandbox
    from ..sandbox.base import LABEL_OWNER
    from ..sandbox.multi import engine_capacity
    from ..sandbox.probe import doctor
    from ..services import instance_id

    report = doctor(settings, base_url=address)
    report["capacity"], report["sandboxes"] = None, {"all": 0, "mine": 0}
    if report["engine"]["reachable"]:
        try:
            client = connect(timeout=30, base_url=address, tls_dir=settings.engine_tls_dir)
            report["capacity"] = engine_capacity(client, settings).sandboxes
            found = SwarmSandbox.list(client)
            me = instance_id(settings.data_dir)
            report["sandboxes"] = {"all": len(found), "mine": sum(
                1 for sb in found if (sb.get("labels") or {}).get(LABEL_OWNER) == me)}
            client.close()
        except LabappError as exc:
            report["problems"].append(str(exc))
    if report["images"]["missing"]:
        report["problems"].append(f"this engine lacks {', '.join(report['images']['missing'])}: 'labapp images "
                                  "build' copies them from an engine that has them (docker save | docker load)")
    return report


def _bridge_wall(addresses) -> str | None:
    if not any(a.startswith("unix://") for a in addresses):
        return None
    from ..sandbox.hostwall import bridge_wall_status

    return bridge_wall_status()


def _print_doctor(report: dict) -> None:
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


_MODES = {"hardened": "hardened (each node's root is an unprivileged user of the host)",
          "wide": "WIDE: this engine cannot run hardened nodes; a node's root is the host's root",
          "privileged": "PRIVILEGED: this engine cannot run hardened nodes; a node's root is the host's root"}


def cmd_images_build(args) -> int:
    from ..engine import connect, engine_addresses
    from ..sandbox.images import build_images, missing_images
    from ..sandbox.multi import copy_images

    settings = Settings.from_env()
    say = lambda m: print(f"labapp: {m}", flush=True)  # noqa: E731
    addresses = engine_addresses(settings.engines)
    if not addresses:
        build_images(engine_client(timeout=600), settings, say=say, force=args.force)
        return 0
    # Several engines: build on the first, then copy (docker save | docker load, seconds)
    # to each engine that lacks an image; with --force, build on every engine.
    clients = [connect(timeout=600, base_url=a, tls_dir=settings.engine_tls_dir) for a in addresses]
    say(f"engine {addresses[0]}")
    build_images(clients[0], settings, say=say, force=args.force)
    for address, client in zip(addresses[1:], clients[1:]):
        if args.force:
            say(f"engine {address}")
            build_images(client, settings, say=say, force=True)
            continue
        missing = missing_images(client, settings)
        if missing:
            say(f"engine {address} lacks {len(missing)} images: copying them from {addresses[0]}")
            copy_images(clients[0], client, missing, say=say)
    return 0


def cmd_images_ls(args) -> int:
    from ..engine import connect, engine_addresses
    from ..sandbox.images import all_image_refs, missing_images

    settings = Settings.from_env()
    addresses = engine_addresses(settings.engines) or [None]
    lacking = False
    for address in addresses:
        client = engine_client() if address is None else connect(base_url=address, tls_dir=settings.engine_tls_dir)
        missing = set(missing_images(client, settings))
        lacking = lacking or bool(missing)
        for ref in all_image_refs(settings):
            print(f"{'missing' if ref in missing else 'built  '}  {ref}" + (f"  ({address})" if address else ""))
    return 1 if lacking else 0


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
