#!/usr/bin/env bash
# What the tests need beside Python: the e2e tests drive Debian's Chromium (Playwright's own
# browser download cannot work offline), Korean text needs a CJK font, and the console
# filters' tests compare labapp's jq, grep and coreutils against the real programs.
# Install them where missing (scripts/apt-install.sh).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
command -v jq >/dev/null 2>&1 || missing+=(jq)
[ ${#missing[@]} -eq 0 ] && exit 0
exec "$(dirname "$0")/apt-install.sh" "the tests" "${missing[@]}"
