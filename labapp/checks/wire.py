"""Checks on the wire: a packet capture (tcpdump) on a node while a container sends (from its
network namespace, with the node's own busybox: CheckContext.in_container_netns)."""
from __future__ import annotations

import re
import shlex
import threading
import time

from ..errors import LabappError
from ..i18n import msg, nmsg
from .base import _BOOL, _DICT, _STR, Param, check, pattern_hits, towards
from .state import _container_exists


_PACKET_START = re.compile(r"^\d\d:\d\d:\d\d\.\d+ ")
CAPTURE_SECONDS = 12  # the longest a capture may run (its traffic ends it much sooner)
MAX_PACKETS = 2000  # packets of a capture that are read (two pings make a handful)


def _packets(stdout: str) -> list[str]:
    """tcpdump's packets, each its first line and the lines that follow it (a VXLAN packet's
    inner packet is printed on the next line)."""
    packets: list[str] = []
    for line in stdout.splitlines():
        if _PACKET_START.match(line) or not packets:
            packets.append(line)
        else:
            packets[-1] += "\n" + line
    return [p for p in packets if _PACKET_START.match(p)]


def _traffic_line(during: dict) -> tuple[str, str]:
    """(line for in_container_netns, words for the reason) that make the capture's traffic
    from the container's network namespace: two pings, or one TCP connection to a port."""
    if during.get("port"):
        return (towards(during["target"], "nc", f'-w 2 "$addr" {int(during["port"])} </dev/null'),
                f"{during['container']} -> {during['target']}:{during['port']}")
    return (towards(during["target"], "ping", '-c 2 -W 1 "$addr"'),
            f"{during['container']} -> {during['target']}")


@check("capture", "state", "node", alone=True, node=Param(_STR, True), filter=Param(_STR, True), during=Param(_DICT, True),
       match=Param(_STR), interface=Param(_STR), expect=Param(_BOOL))
def _capture(ctx, args):
    """tcpdump on NODE's INTERFACE with FILTER while DURING's container sends to its target:
    some packet matches MATCH (expect: false: none does)."""
    node, during = args["node"], args["during"]
    interface = args.get("interface", "eth0")
    source = during.get("node") or ctx.default_node()
    missing = _container_exists(ctx, source, during["container"])
    if missing:
        return False, missing
    line = (f"timeout {CAPTURE_SECONDS} tcpdump -l -n -i {shlex.quote(interface)} "
            f"{shlex.quote(args['filter'])}")
    execution = ctx.sandbox.exec_stream(node, line, timeout=CAPTURE_SECONDS + 10)
    stdout: list[str] = []
    stderr: list[str] = []
    listening = threading.Event()

    def read():
        try:
            for chunk in execution:
                (stdout if chunk.stream == "stdout" else stderr).append(chunk.text)
                if "listening on" in "".join(stderr):
                    listening.set()
        finally:
            listening.set()

    reader = threading.Thread(target=read, daemon=True, name="labapp-capture")
    reader.start()
    listening.wait(8)
    started = "listening on" in "".join(stderr)
    problem = None
    if started:
        traffic, what = _traffic_line(during)
        try:
            ctx.in_container_netns(source, during["container"], traffic, timeout=15)
        except LabappError as exc:  # the container stopped meanwhile: said once tcpdump is stopped
            problem = exc
        time.sleep(0.5)  # the last reply's way back
    else:
        what = ""
    # tcpdump prints each packet as it sees it (-l), so what it saw is read by now. Killing it
    # takes the node seconds (its packet socket goes away with it): the kill runs on in the
    # background while the check reads what came, so that a capture costs no more than its
    # traffic. (A tcpdump the kill misses still ends at its timeout.)
    if reader.is_alive():
        threading.Thread(target=execution.cancel, daemon=True, name="labapp-capture-stop").start()
        reader.join(0.5)
    if problem is not None:
        raise problem
    where = msg("tcpdump on {node} {interface} ({filter})", node=node, interface=interface, filter=args["filter"])
    if not started:
        said = "".join(stderr).strip().splitlines()
        return False, msg("{where} did not start: {said}", where=where, said=said[-1] if said else msg("no output"))
    # A flood on the filter is not read whole: the first MAX_PACKETS, each cut at 2 KiB
    # (tcpdump's line for one packet and the next for a VXLAN packet's inner one fit).
    packets = [p[:2048] for p in _packets("".join(list(stdout)))[:MAX_PACKETS]]
    found = pattern_hits(args.get("match", "."), re.S, packets)
    if found is None:
        return None, msg("the lab could not match the output just now")
    hits = [packets[i] for i in found]
    shown = args.get("match", ".")
    seen, total = _n_packets(len(hits)), _n_packets(len(packets))
    if args.get("expect", True):
        if hits:
            return True, msg("{where} saw {packets} matching /{pattern}/ while {traffic}; the first: {packet}",
                             where=where, packets=seen, pattern=shown, traffic=what,
                             packet=" | ".join(hits[0].splitlines()))
        return False, msg("{where} saw no packet matching /{pattern}/ while {traffic} ({packets} on the filter)",
                          where=where, pattern=shown, traffic=what, packets=total)
    if hits:
        return False, msg("{where} saw {packets} matching /{pattern}/ while {traffic}; there should be none. "
                          "The first: {packet}", where=where, packets=seen, pattern=shown, traffic=what,
                          packet=" | ".join(hits[0].splitlines()))
    return True, msg("{where} saw nothing matching /{pattern}/ while {traffic} ({packets} on the filter)",
                     where=where, pattern=shown, traffic=what, packets=total)


def _n_packets(n: int):
    return nmsg("{n} packet", "{n} packets", n)
