#!/usr/bin/env bash
# The tests of several instances sharing one database and one message queue run Debian's
# PostgreSQL and Redis (tests/servers.py). Install both where missing (scripts/apt-install.sh).
# The tests start their own servers, as an unprivileged user, on their own ports and in
# their own temporary directories.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
exec "$(dirname "$0")/apt-install.sh" "the cluster tests" "${missing[@]}"
