#!/usr/bin/env bash
# The HTTPS tests put Debian's nginx in front of `labapp serve` (docs/deploy.md) with a
# certificate they make with openssl. Install both where this machine can (root, apt). The
# tests start nginx themselves, on their own ports and configuration: the package's own
# service is never started here (a policy-rc.d denies it while apt installs, unless the
# machine already has one).
set -euo pipefail
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "labapp: installing ${missing[*]} for the HTTPS tests" >&2
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "labapp: the HTTPS tests need ${missing[*]}; install them (sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
