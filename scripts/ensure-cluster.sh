#!/usr/bin/env bash
# The tests of several instances sharing one database and one message queue run Debian's
# PostgreSQL and Redis (tests/servers.py). Install both where this machine can (root, apt).
# The tests start their own servers, as an unprivileged user, on their own ports and in
# their own temporary directories: the packages' services are never started here (a
# policy-rc.d denies it while apt installs, unless the machine already has one).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "labapp: installing ${missing[*]} for the cluster tests" >&2
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq -o DPkg::Lock::Timeout=300
    DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
        "${missing[@]}" >/dev/null
else
    echo "labapp: the cluster tests need ${missing[*]}; install them (sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
