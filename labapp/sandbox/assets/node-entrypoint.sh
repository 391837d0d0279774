#!/bin/sh
# labapp node entrypoint: runs as PID 1 of a node container.
# 1. make the cgroup hierarchy writable (cgroup v1 and v2), so that dockerd can run tasks;
# 2. start dockerd on its unix socket only (never on TCP);
# 3. load the lesson images shipped in /opt/labapp/images/*.tar;
# 4. mark the node ready (/run/labapp/ready) or failed (/run/labapp/failed, with the reason).
set -u
mkdir -p /run/labapp

# A node has no way out (its network is internal), so no name outside the sandbox can be
# resolved. Make every such lookup fail at once instead of after a DNS timeout: otherwise
# each swarm task waits ~15 s trying to reach a registry before it uses the local image.
printf '# labapp: a node resolves no outside names\nnameserver 127.0.0.1\n' > /etc/resolv.conf
fail() {
    echo "$*" > /run/labapp/failed
    echo "labapp-node: $*" >&2
    exit 1
}

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
