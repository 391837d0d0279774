#!/usr/bin/env bash
# What the tests need beside Python: the e2e tests drive Debian's Chromium (Playwright's own
# browser download cannot work offline), Korean text needs a CJK font, and the console
# filters' tests compare labapp's jq, grep and coreutils against the real programs.
# Install them where this machine can (root, apt).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
command -v jq >/dev/null 2>&1 || missing+=(jq)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "labapp: installing ${missing[*]} for the tests" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "labapp: the tests need ${missing[*]}; install them (sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
