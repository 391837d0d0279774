#!/usr/bin/env bash
# The HTTPS tests put Debian's nginx in front of `labapp serve` (docs/deploy.md) with a
# certificate they make with openssl. Install both where missing (scripts/apt-install.sh).
# The tests start nginx themselves, on their own ports and configuration.
set -euo pipefail
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
exec "$(dirname "$0")/apt-install.sh" "the HTTPS tests" "${missing[@]}"
