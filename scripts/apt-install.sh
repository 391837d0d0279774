#!/usr/bin/env bash
# scripts/apt-install.sh FOR PACKAGE...: install Debian's PACKAGEs for FOR (the tests that
# need them), where this machine can (root, apt). No package's own service is started here
# (a policy-rc.d denies it while apt installs, unless the machine already has one): the
# tests start their own servers. Used by the ensure-*.sh scripts of `make test`.
set -euo pipefail
purpose=$1
shift
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "labapp: installing $* for $purpose" >&2
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq -o DPkg::Lock::Timeout=300
    DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
        "$@" >/dev/null
else
    echo "labapp: $purpose need $*; install them (sudo apt-get install $*)" >&2
    exit 1
fi
