# Shared helpers of the .ci scripts: set-up of a fresh Debian machine (as root) and the
# services the tests need. Sourced, not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${CQCFAB_CI_WORK:-$ROOT/.ci/work}
PG_PORT=${CQCFAB_PG_PORT:-55432}
mkdir -p "$WORK"

log() { printf '\033[1m[ci] %s\033[0m\n' "$*" >&2; }

# Debian packages the build and the tests need. Installed only when missing, so a second
# run costs nothing.
PACKAGES=(pkgconf build-essential ca-certificates postgresql-15 python3 poppler-utils qpdf)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      log "cargo not found: install Rust >= 1.94 (rustup) first"
      exit 1
    fi
  fi
}

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# The cluster lives under /tmp, not in the checkout: initdb runs as the postgres user, which
# cannot enter a checkout under /root.
PG_DIR=${CQCFAB_PG_DIR:-/tmp/cqcfab-pg-$PG_PORT}

# Starts a private PostgreSQL 15 cluster on 127.0.0.1:$PG_PORT (initdb refuses root, so it
# runs as the postgres user) and exports CQCFAB_TEST_PG_URL for the store tests.
start_postgres() {
  local dir=$PG_DIR
  export CQCFAB_TEST_PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  if [ -f "$dir/data/postmaster.pid" ] && su postgres -c "$PG_BIN/pg_ctl -D $dir/data status" >/dev/null 2>&1; then
    log "PostgreSQL already running on port $PG_PORT"
    return
  fi
  log "starting PostgreSQL 15 on port $PG_PORT"
  mkdir -p "$dir"
  chown postgres:postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    su postgres -c "$PG_BIN/initdb -D $dir/data -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync" >"$dir/initdb.log" 2>&1
  fi
  su postgres -c "$PG_BIN/pg_ctl -D $dir/data -l $dir/server.log -w -o '-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300' start" >/dev/null
}

stop_postgres() {
  local dir=$PG_DIR
  [ -f "$dir/data/postmaster.pid" ] && su postgres -c "$PG_BIN/pg_ctl -D $dir/data -m fast -w stop" >/dev/null 2>&1 || true
}
