"""The `labapp` command: doctor, images, sandbox, lessons, reap, pool, serve.

The argparse declarations are here; the commands are in engine.py (doctor, images, sandbox),
lessons.py (lessons list, check, run) and server.py (reap, pool status, serve)."""
from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import LabappError
from ..lesson.model import LANGUAGES
from .engine import (cmd_doctor, cmd_images_build, cmd_images_ls, cmd_sandbox_down, cmd_sandbox_exec,
                     cmd_sandbox_ls, cmd_sandbox_up)
from .lessons import cmd_lessons_check, cmd_lessons_list, cmd_lessons_run
from .server import cmd_pool_status, cmd_reap, cmd_serve


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

    p = sub.add_parser("serve", help="run the web app (Gunicorn; --dev for Werkzeug's development server)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--allow-weak-nodes", action="store_true",
                   help="serve even where nodes cannot be hardened (also LABAPP_ALLOW_WEAK_NODES=1)")
    p.add_argument("--dev", action="store_true",
                   help="Werkzeug's development server instead of Gunicorn (no connection limits: a laptop only)")
    p.add_argument("--threads", type=int, default=256,
                   help="request threads of the one worker process (default 256); each open WebSocket holds one")
    p.add_argument("--proxy-from", default="127.0.0.1,::1", metavar="ADDRESSES",
                   help="with LABAPP_TRUSTED_PROXIES: the proxy's addresses or networks, comma-separated "
                        "(default 127.0.0.1,::1); X-Forwarded-* from any other peer are dropped unread")
    p.set_defaults(func=cmd_serve)
    return parser
