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
PACKAGES=(pkgconf build-essential ca-certificates postgresql-15 python3 poppler-utils qpdf
  pcscd libpcsclite-dev vsmartcard-vpcd pcsc-tools opensc softhsm2 zbar-tools chromium
  chromium-driver glabels zint sqlite3)

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

# pcscd in the foreground with a private reader configuration: one vpcd block, whose two
# readers ("Virtual PCD 00 00" and "00 01") wait for virtual cards on TCP 35963 and 35964
# (hardware-lab.md: never two vpcd blocks in one pcscd). Exports CQCFAB_TEST_PCSC=1 for the
# end-to-end chip tests.
HW_DIR=${CQCFAB_HW_DIR:-/tmp/cqcfab-hw}

# Shared by both pcscd: the reader configuration of one vpcd block (CHANNELID N → readers on
# TCP N and N+1), the "is it running" test, the wait until it answers, and the stop.
vpcd_config() { # DIR CHANNELID
  mkdir -p "$1/readers.d"
  cat >"$1/readers.d/vpcd" <<CONF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:$2
LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so
CHANNELID    $2
CONF
}

pcscd_running() { # DIR
  [ -f "$1/pcscd.pid" ] && kill -0 "$(cat "$1/pcscd.pid")" 2>/dev/null
}

wait_for_pcscd() { # DIR SOCKET
  local i=0
  until PCSCLITE_CSOCK_NAME=$2 pcsc_scan -r >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 200 ]; then log "pcscd of $1 did not come up"; cat "$1/pcscd.log" >&2; exit 1; fi
    sleep 0.05
  done
}

stop_pcscd_in() { # DIR
  if [ -f "$1/pcscd.pid" ]; then
    local pid
    pid=$(cat "$1/pcscd.pid")
    kill "$pid" 2>/dev/null || true
    # pcscd takes ~2 s to exit; the next start must not race it.
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$1/pcscd.pid"
  fi
}

start_pcscd() {
  vpcd_config "$HW_DIR" 0x8C7B
  if pcscd_running "$HW_DIR"; then
    log "pcscd already running"
  else
    log "starting pcscd with vpcd readers"
    pcscd --foreground --config "$HW_DIR/readers.d" >"$HW_DIR/pcscd.log" 2>&1 &
    echo $! >"$HW_DIR/pcscd.pid"
    wait_for_pcscd "$HW_DIR" /run/pcscd/pcscd.comm
  fi
  export CQCFAB_TEST_PCSC=1
}

stop_pcscd() { stop_pcscd_in "$HW_DIR"; }

# A second pcscd for stations 3 and 4 (hardware-lab.md: one vpcd block per pcscd). Its socket
# path is compiled into pcscd, so it runs in a private mount namespace where its own folder is
# bind-mounted on /run/pcscd; its readers wait for virtual cards on TCP 35965 and 35966
# (CHANNELID 0x8C7D). Clients choose it with PCSCLITE_CSOCK_NAME (exported as
# CQCFAB_TEST_PCSCD2 for the tests). Needs root (unshare, mount); the first pcscd runs first.
PCSCD2_DIR=$HW_DIR/pcscd2

start_pcscd_second() {
  vpcd_config "$PCSCD2_DIR" 0x8C7D
  mkdir -p "$PCSCD2_DIR/run" /run/pcscd
  local sock=$PCSCD2_DIR/run/pcscd.comm
  if pcscd_running "$PCSCD2_DIR"; then
    log "second pcscd already running"
  else
    log "starting a second pcscd (own mount namespace, vpcd ports 35965/35966)"
    rm -f "$sock"
    # unshare execs sh, sh execs pcscd: $! is pcscd's pid.
    unshare --mount --propagation private \
      sh -c "mount --bind '$PCSCD2_DIR/run' /run/pcscd && exec pcscd --foreground --config '$PCSCD2_DIR/readers.d'" \
      >"$PCSCD2_DIR/pcscd.log" 2>&1 &
    echo $! >"$PCSCD2_DIR/pcscd.pid"
    wait_for_pcscd "$PCSCD2_DIR" "$sock"
  fi
  export CQCFAB_TEST_PCSCD2=$sock
}

stop_pcscd_second() { stop_pcscd_in "$PCSCD2_DIR"; }

# A fresh SoftHSM2 token "cqc-ci" for the PKCS#11 document signer (hardware-lab.md). The
# token directory is recreated on every run so keys from an earlier run never linger.
start_softhsm() {
  local dir=$HW_DIR/softhsm
  rm -rf "$dir"
  mkdir -p "$dir/tokens"
  cat >"$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
CONF
  export SOFTHSM2_CONF=$dir/softhsm2.conf
  softhsm2-util --init-token --free --label cqc-ci --so-pin 12345678 --pin 123456 >/dev/null
  export CQCFAB_TEST_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
  export CQCFAB_TEST_PKCS11_TOKEN=cqc-ci
  export CQCFAB_PKCS11_PIN=123456
  log "SoftHSM2 token cqc-ci ready"
}
