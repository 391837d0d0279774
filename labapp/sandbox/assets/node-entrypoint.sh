#!/bin/sh
# labapp node entrypoint: runs as PID 1 of a node container.
# 1. make the cgroup hierarchy writable (cgroup v1 and v2), so that dockerd can run tasks;
# 2. start dockerd on its unix socket only (never on TCP);
# 3. load the lesson images shipped in /opt/labapp/images/*.tar;
# 4. mark the node ready (/run/labapp/ready) or failed (/run/labapp/failed, with the reason).
set -u
mkdir -p /run/labapp

# A node has no way out (its network is internal), so no name outside the sandbox can be
# resolved. Answer every such lookup at once with "no such name" from a resolver on the
# node's own address, instead of letting it wait for a DNS timeout: without it each swarm
# task waited ~15 s on a registry lookup before using the local image, and a container's
# `ping my-nginx` took 10 s to say "bad address". dockerd hands this server on to the
# containers it runs, behind their embedded DNS (which still answers sandbox names).
self_ip=$(ip -4 -o addr show dev eth0 2>/dev/null | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n 1)
if [ -n "$self_ip" ] && dnsmasq --no-resolv --no-hosts --address=/#/ --listen-address="$self_ip" \
        --bind-interfaces --user=root --pid-file=/run/labapp/dnsmasq.pid 2>/run/labapp/dnsmasq.log; then
    printf '# labapp: a node resolves no outside names\nnameserver %s\n' "$self_ip" > /etc/resolv.conf
else
    printf '# labapp: a node resolves no outside names\nnameserver 127.0.0.1\n' > /etc/resolv.conf
fi

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    # cgroup v2: with a private cgroup namespace the container sees its own subtree.
    # Move every process into a leaf so the root may delegate controllers to dockerd.
    mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
    mkdir -p /sys/fs/cgroup/labapp-init
    while read -r pid; do
        echo "$pid" > /sys/fs/cgroup/labapp-init/cgroup.procs 2>/dev/null || true
    done < /sys/fs/cgroup/cgroup.procs
    sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers \
        > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
else
    # cgroup v1: each hierarchy is mounted read-only unless the node is privileged;
    # mount each one again read-write with the same options.
    grep ' cgroup ' /proc/self/mounts | while read -r _ dir _ opts _; do
        case ",$opts," in
            *,ro,*)
                rw_opts=$(echo "$opts" | sed -e 's/^ro,/rw,/' -e 's/,ro,/,rw,/' -e 's/,ro$/,rw/')
                umount "$dir" && mount -t cgroup -o "$rw_opts" cgroup "$dir" \
                    || fail "cannot mount cgroup $dir read-write"
                ;;
        esac
    done || exit 1
fi

dockerd --host=unix:///var/run/docker.sock ${LABAPP_DOCKERD_ARGS:-} > /var/log/dockerd.log 2>&1 &
dockerd_pid=$!
trap 'kill -TERM "$dockerd_pid" 2>/dev/null' TERM INT

until docker version > /dev/null 2>&1; do
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
        fail "dockerd exited: $(tail -n 3 /var/log/dockerd.log | tr '\n' ' ')"
    fi
    sleep 0.05
done

for image in /opt/labapp/images/*.tar; do
    [ -e "$image" ] || continue
    docker load -q -i "$image" > /dev/null 2>> /var/log/labapp-load.log \
        || fail "cannot load $(basename "$image"): $(tail -n 1 /var/log/labapp-load.log)"
done
touch /run/labapp/ready

wait "$dockerd_pid"
