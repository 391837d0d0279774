#!/bin/sh
# labapp node, inside its walls (see node-init.sh): set the node up, start the engine's
# authorization plugin, dnsmasq and dockerd, load the lesson images, then mark the node
# ready (/run/labapp/ready) or failed (/run/labapp/failed, with the reason).
# $1 is the mode: hardened (root of a user namespace, uid 100000 to the host) or wide.
set -u
mode=${1:-hardened}
state=/run/labapp
boot=$state/boot
fail() {
    echo "$*" > "$state/failed"
    echo "labapp node: $*" >&2
    [ "${LABAPP_NODE_SELFTEST:-}" = 1 ] && exit 1
    # Stay up, so that the reason can be read; the app removes a failed node.
    exec sleep 3600
}
mkdir -p "$state" "$boot"
APP_GID=100000  # the group of the app's and the learner's commands (root of the node in hardened mode)
# Capabilities no part of a node uses even inside its own namespaces (most are checked
# against the host's namespace anyway): out of the bounding set of everything the node
# starts, its engine and the containers it runs included (docs/sandbox.md).
NEVER_CAPS=-sys_module,-sys_rawio,-sys_boot,-sys_time,-syslog,-mac_admin,-mac_override,-wake_alarm,\
-block_suspend,-audit_control,-audit_read,-sys_pacct,-dac_read_search,-linux_immutable,-sys_tty_config,\
-ipc_owner,-lease,-sys_ptrace,-perfmon,-bpf,-checkpoint_restore

if [ "$mode" = hardened ] && [ "${LABAPP_NODE_STAGE:-}" != bounded ]; then
    LABAPP_NODE_STAGE=bounded exec setpriv --bounding-set="$NEVER_CAPS" -- "$0" "$@"
fi

if [ "$mode" = hardened ]; then
    touch "$boot/unshared"
    # The cgroup hierarchies as the container was given them (read before /sys is remounted).
    cgroups=$(awk '$9 == "cgroup" || $9 == "cgroup2" {print $9, $5, $NF}' /proc/self/mountinfo)
    if [ "${LABAPP_NODE_SELFTEST:-}" != 1 ]; then
        i=0
        until [ -e "$boot/moved" ]; do
            [ -e "$boot/move-failed" ] && fail "cannot take eth0 into the node's namespace: $(cat "$boot/netmove.err")"
            i=$((i + 1)); [ "$i" -gt 1000 ] && fail "eth0 never arrived in the node's network namespace"
            sleep 0.01
        done
        ip link set lo up
        ip addr add "$(cat "$boot/address")" dev eth0 || fail "cannot give eth0 its address"
        ip link set eth0 up
        while read -r route; do [ -n "$route" ] && ip route add $route dev eth0; done < "$boot/routes"
    else
        ip link set lo up
    fi
    hostname "$(cat /etc/hostname)"

    # /proc: hide what leaks the host (kernel memory and addresses, keys, timers, other
    # tasks' scheduling) behind a file nobody may open, and make the kernel's settings
    # read-only; /proc/sys/net (this node's own network namespace) stays writable for dockerd.
    masked=/usr/local/share/labapp/masked
    for f in kcore kallsyms keys key-users timer_list timer_stats sched_debug latency_stats \
             kpagecount kpageflags kpagecgroup sysrq-trigger config.gz vmcore; do
        [ -e "/proc/$f" ] && { mount --bind "$masked" "/proc/$f" || fail "cannot mask /proc/$f"; }
    done
    for d in acpi scsi asound; do
        [ -d "/proc/$d" ] && { mount -t tmpfs -o ro,nosuid,nodev,noexec,size=0 tmpfs "/proc/$d" || fail "cannot mask /proc/$d"; }
    done
    for d in sys bus fs irq; do
        [ -d "/proc/$d" ] || continue
        mount --bind "/proc/$d" "/proc/$d" && mount -o remount,bind,ro,nosuid,nodev,noexec "/proc/$d" \
            || fail "cannot make /proc/$d read-only"
    done
    mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw,nosuid,nodev,noexec /proc/sys/net \
        || fail "cannot leave /proc/sys/net writable"

    # /sys for this network namespace (read-only), and the cgroup hierarchies again under it
    # (they stay the host's files: the node's root may read them, not write them).
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys || fail "cannot mount /sys"
    if echo "$cgroups" | grep -q '^cgroup2 '; then
        mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"
    else
        mount -t tmpfs -o nosuid,nodev,noexec,mode=755,size=64k tmpfs /sys/fs/cgroup || fail "cannot mount /sys/fs/cgroup"
        echo "$cgroups" | while read -r _ dir opts; do
            [ -n "$dir" ] || continue
            keep=$(echo "$opts" | tr ',' '\n' | grep -Ev '^(ro|rw)$' | paste -sd, -)
            mkdir -p "$dir" && mount -t cgroup -o "nosuid,nodev,noexec,$keep" cgroup "$dir" \
                || echo "labapp node: cgroup $dir not mounted" >&2
        done
    fi
    # dockerd writes its key and reads its settings here; the root filesystem is read-only.
    mount -t tmpfs -o nosuid,nodev,noexec,mode=755,size=1m tmpfs /etc/docker || fail "cannot mount /etc/docker"
    socket_group=root
    runtime='"runtimes": {"labapp-runc": {"path": "/usr/local/bin/labapp-runc"}}, "default-runtime": "labapp-runc",'
else
    # Wide mode: each read-only cgroup v1 hierarchy is mounted again read-write; on v2
    # processes move to a leaf and the controllers are delegated.
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
        mkdir -p /sys/fs/cgroup/labapp-init
        while read -r pid; do
            echo "$pid" > /sys/fs/cgroup/labapp-init/cgroup.procs 2>/dev/null || true
        done < /sys/fs/cgroup/cgroup.procs
        sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers \
            > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    else
        grep ' cgroup ' /proc/self/mounts | while read -r _ dir _ opts _; do
            case ",$opts," in
                *,ro,*)
                    rw_opts=$(echo "$opts" | sed -e 's/^ro,/rw,/' -e 's/,ro,/,rw,/' -e 's/,ro$/,rw/')
                    umount "$dir" && mount -t cgroup -o "$rw_opts" cgroup "$dir" || exit 1
                    ;;
            esac
        done || fail "cannot mount a cgroup hierarchy read-write"
    fi
    mkdir -p /etc/docker
    socket_group=$APP_GID
    runtime=""
fi
mkdir -p "$state/exec" "$state/cli" /run/docker/plugins
chgrp "$APP_GID" "$state/exec" 2>/dev/null || chgrp 0 "$state/exec"
# setgid (files keep the group) and sticky: the learner's commands record their pids here
# too, and must not replace the file of an app command (the app's cancel kills what it names)
chmod 3770 "$state/exec"
chmod 0755 "$state/cli"
chmod 0700 /run/docker/plugins

# A node has no way out (its network is internal), so no name outside the sandbox can be
# resolved. Answer every such lookup at once with "no such name" from a resolver on the
# node's own address, instead of letting it wait for a DNS timeout: without it each swarm
# task waited ~15 s on a registry lookup before using the local image, and a container's
# `ping my-nginx` took 10 s to say "bad address". dockerd hands this server on to the
# containers it runs, behind their embedded DNS (which still answers sandbox names).
self_ip=$(ip -4 -o addr show dev eth0 2>/dev/null | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n 1)
if [ -n "$self_ip" ] && dnsmasq --no-resolv --no-hosts --address=/#/ --listen-address="$self_ip" \
        --bind-interfaces --user=root --pid-file="$state/dnsmasq.pid" 2>"$state/dnsmasq.log"; then
    resolver=$self_ip
else
    resolver=127.0.0.1
fi
printf '# labapp: a node resolves no outside names\nnameserver %s\n' "$resolver" > "$state/resolv.conf"
if [ "$mode" = hardened ]; then
    mount --bind "$state/resolv.conf" /etc/resolv.conf || fail "cannot set the node's resolver"
else
    cat "$state/resolv.conf" > /etc/resolv.conf
fi

# The engine's authorization plugin judges every API request (docs/security.md); dockerd
# refuses every request while it does not answer.
python3 -I /usr/local/lib/labapp/authz/plugin.py --socket /run/docker/plugins/labapp-authz.sock \
    --docker /run/docker.sock --ready "$state/ready" > "$state/authz.log" 2>&1 &
authz_pid=$!
i=0
until [ -S /run/docker/plugins/labapp-authz.sock ]; do
    kill -0 "$authz_pid" 2>/dev/null || fail "the authorization plugin exited: $(tail -n 3 "$state/authz.log" | tr '\n' ' ')"
    i=$((i + 1)); [ "$i" -gt 400 ] && fail "the authorization plugin did not start"
    sleep 0.01
done

# containerd is started here rather than by dockerd, for one setting dockerd does not pass
# on: its garbage collector's pause_threshold. At the default (0.02) the collector looks again
# fifty times as long after each run as that run took, a few milliseconds on an idle node, so
# every idle node woke some 450 times a second and containerd took 60 % of its CPU (measured,
# docs/sandbox.md "What an idle node costs"). At 0 it looks once a second and collects only
# after something was deleted or changed, which is all a lesson's few containers need.
ctr_sock=/run/docker/containerd/containerd.sock
mkdir -p /run/docker/containerd
cat > "$state/containerd.toml" <<EOF
version = 2
root = "/var/lib/docker/containerd/daemon"
state = "/run/docker/containerd/daemon"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$ctr_sock"
[debug]
  level = "warn"
[plugins."io.containerd.gc.v1.scheduler"]
  pause_threshold = 0.0
EOF
containerd --config "$state/containerd.toml" > "$state/containerd.log" 2>&1 &
containerd_pid=$!
i=0
until [ -S "$ctr_sock" ]; do
    kill -0 "$containerd_pid" 2>/dev/null || fail "containerd exited: $(tail -n 3 "$state/containerd.log" | tr '\n' ' ')"
    i=$((i + 1)); [ "$i" -gt 1000 ] && fail "containerd did not start"
    sleep 0.01
done

cat > /etc/docker/daemon.json <<EOF
{
  $runtime
  "hosts": ["unix:///run/docker.sock"],
  "containerd": "$ctr_sock",
  "group": "$socket_group",
  "authorization-plugins": ["labapp-authz"],
  "log-level": "warn",
  "log-driver": "json-file",
  "log-opts": {"max-size": "1m", "max-file": "2"},
  "userland-proxy": false
}
EOF
dockerd ${LABAPP_DOCKERD_ARGS:-} > "$state/dockerd.log" 2>&1 &
dockerd_pid=$!
trap 'kill -TERM "$dockerd_pid" "$authz_pid" 2>/dev/null; wait "$dockerd_pid"; kill -TERM "$containerd_pid" 2>/dev/null' TERM INT

until docker version > /dev/null 2>&1; do
    kill -0 "$dockerd_pid" 2>/dev/null || fail "dockerd exited: $(tail -n 3 "$state/dockerd.log" | tr '\n' ' ')"
    sleep 0.05
done
chmod 0660 /run/docker.sock

for image in /opt/labapp/images/*.tar; do
    [ -e "$image" ] || continue
    docker load -q -i "$image" > /dev/null 2>> "$state/load.log" \
        || fail "cannot load $(basename "$image"): $(tail -n 1 "$state/load.log")"
done
touch "$state/ready"

if [ "${LABAPP_NODE_SELFTEST:-}" = 1 ]; then
    # The probe: a container must start in here, then the node goes.
    if out=$(docker run --rm --network none alpine true 2>&1); then
        echo "selftest: ok"
        exit 0
    fi
    echo "selftest: a container does not start in the node: $out" >&2
    exit 1
fi
wait "$dockerd_pid"
