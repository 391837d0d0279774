#!/bin/sh
# labapp node init: PID 1 of a node container. See docs/sandbox.md, "The node's walls".
#
# Hardened (the default): the container runs as uid 100000 with no capability but
# NET_ADMIN (only for the boot-time helper that moves eth0). PID 1 makes a user namespace
# that maps root to uid 100000 (and nothing else), with its own mount, network, IPC, UTS and
# cgroup namespaces, moves eth0 into it, and runs the node (dockerd and all) as root THERE:
# root of the node is uid 100000 to the host kernel, with no capability over anything
# outside its namespaces. Every later `docker exec` into the node joins PID 1's namespaces.
#
# Wide (the fallback on hosts that cannot do this, reported by `labapp doctor`): the
# container runs as root with most capabilities; PID 1 runs the node directly.
set -u
say_failed() { mkdir -p /run/labapp; echo "$*" > /run/labapp/failed; echo "labapp node: $*" >&2; }

if [ "$(id -u)" = 0 ]; then
    exec /usr/local/bin/labapp-node-inner wide
fi

boot=/run/labapp/boot
mkdir -p "$boot" || { say_failed "cannot write /run (is it a tmpfs owned by uid $(id -u)?)"; sleep 3600; exit 1; }
if [ "${LABAPP_NODE_SELFTEST:-}" != 1 ]; then
    ip -4 -o addr show dev eth0 | awk '{print $4; exit}' > "$boot/address"
    ip -4 route show dev eth0 | grep -v '^[0-9./]* proto kernel' > "$boot/routes" || true
    # The one thing that needs a capability outside the node's namespaces: hand eth0 over.
    (
        i=0
        until [ -e "$boot/unshared" ]; do
            i=$((i + 1)); [ "$i" -gt 1000 ] && exit 1
            sleep 0.01
        done
        if /usr/local/libexec/labapp/ip link set eth0 netns 1 2> "$boot/netmove.err"; then
            touch "$boot/moved"
        else
            touch "$boot/move-failed"
        fi
    ) &
fi
exec unshare --user --map-root-user --net --mount --ipc --uts --cgroup --propagation private \
    /usr/local/bin/labapp-node-inner hardened
