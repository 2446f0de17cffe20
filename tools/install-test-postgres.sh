#!/usr/bin/env bash
# Install PostgreSQL for the history store's tests (tests/history_db.py starts a throw-away
# cluster with initdb as the unprivileged `postgres` user on a free loopback port, and removes
# it afterwards; bench/bench_history.py --postgres-temp does the same).
#
# The server comes from Debian's `postgresql` package, installed with apt-get as CI does; the
# tests find initdb on PATH or under /usr/lib/postgresql/N/bin. No cluster is created or started
# here, and the package's own service is not needed. Idempotent: an installed server is left alone.
# Exits non-zero if it is missing and cannot be installed (not root, no apt-get).
set -euo pipefail

log() { printf 'install-test-postgres: %s\n' "$*" >&2; }

initdb_bin() { command -v initdb || ls -1 /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true; }

if [ -n "$(initdb_bin)" ]; then
    log "$("$(initdb_bin)" --version) already installed ($(initdb_bin))"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL is missing: install the Debian package (apt-get install postgresql) to run the PostgreSQL store tests"
    exit 1
fi
log "installing postgresql (Debian package)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
[ -n "$(initdb_bin)" ] || { log "postgresql installed but initdb not found"; exit 1; }
id postgres >/dev/null 2>&1 || { log "postgresql installed but there is no postgres user to run the test server as"; exit 1; }
log "installed $("$(initdb_bin)" --version)"
