#!/usr/bin/env bash
# Make sure a Docker engine answers at DOCKER_HOST or the default socket.
# Where none does and this machine can run one (root, apt), install Debian's docker.io
# (with iptables, and debootstrap for the offline image build) and start dockerd.
# Usage: scripts/ensure-engine.sh PYTHON   (a Python that has the docker SDK)
set -euo pipefail

PY=${1:-python3}
LOG_DIR=${LABAPP_LOG_DIR:-/var/log/labapp}
LOG=$LOG_DIR/dockerd.log

engine_answers() {
    "$PY" - <<'PYEOF' 2>/dev/null
import docker, sys
try:
    docker.from_env(timeout=5).ping()
except Exception:
    sys.exit(1)
PYEOF
}

say() { echo "labapp: $*" >&2; }

need_tools() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v iptables >/dev/null 2>&1 || missing+=(iptables)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    echo "${missing[@]:-}"
}

if engine_answers; then
    # The engine is up; the offline image build still wants debootstrap.
    if ! command -v debootstrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing debootstrap (needed to build the node image offline)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    exit 0
fi

if [ -n "${DOCKER_HOST:-}" ] && [[ "$DOCKER_HOST" != unix://* ]]; then
    say "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST; start that engine or unset DOCKER_HOST to use a local one"
    exit 1
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "no Docker engine answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}."
    say "Install and start Docker Engine (on Debian/Ubuntu: sudo apt-get install docker.io iptables debootstrap && sudo systemctl start docker),"
    say "or run 'make' as root on a Debian/Ubuntu machine so that it can install and start one itself."
    exit 1
fi

missing=$(need_tools)
if [ -n "$missing" ]; then
    say "installing $missing from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

mkdir -p "$LOG_DIR"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    say "starting docker with systemctl"
    systemctl start docker || true
fi
if ! engine_answers; then
    say "starting dockerd; its log is $LOG"
    # A dockerd from an earlier run may have left its pid file behind.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    # In a session of its own: the engine outlives the make, test run or shell that started
    # it (a job killed with its process group took dockerd along, mid-test, with every sandbox).
    setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
fi
for _ in $(seq 1 120); do
    if engine_answers; then
        say "Docker engine is up (log: $LOG)"
        exit 0
    fi
    sleep 0.5
done
say "dockerd did not answer within 60 s; the last lines of $LOG:"
tail -n 20 "$LOG" >&2 || true
exit 1
