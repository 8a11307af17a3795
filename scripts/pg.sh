#!/usr/bin/env bash
# pg.sh: a throw-away PostgreSQL 15 cluster (Debian's server binaries) for development and tests.
#
# Usage: scripts/pg.sh start|stop|restart|status|url|psql [psql args...]|destroy
#   start    initdb once, then start the server (already running: fine) and print DATABASE_URL
#            on the last line as DATABASE_URL=postgresql://...
#   stop     fast shutdown (pg_ctl -m fast), waits for it
#   status   exit 0 when running, 3 when stopped
#   url      print the DATABASE_URL (does not check that the server runs)
#   psql     run psql against the database, extra arguments passed on (e.g. -c 'select 1')
#   destroy  stop and delete the cluster's folder
#
# Environment (all optional):
#   STATE_DIR   state folder, default <repo>/.state; the cluster lives in $STATE_DIR/pg
#               (data/, a unix socket in run/, the server log in log/postgres.log)
#   PG_PORT     TCP port on 127.0.0.1, default 5432 (or the port of the last start in this
#               STATE_DIR); the unix socket carries the same number
#   PG_USER     superuser created by initdb, default chat
#   PG_DB       database created on first start, default chat
#   PG_BIN      server binaries, default /usr/lib/postgresql/15/bin
#   PG_OS_USER  system user that owns and runs the cluster when this script runs as root
#               (initdb refuses root), default postgres
#
# Auth is trust for local and 127.0.0.1 connections; fsync is off: never keep data here.
# Tests: STATE_DIR=/tmp/x PG_PORT=15432 scripts/pg.sh start, then read the last line;
#        STATE_DIR=/tmp/x scripts/pg.sh destroy when done.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${STATE_DIR:-$REPO/.state}"
PGDIR="$STATE_DIR/pg"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_USER="${PG_USER:-chat}"
PG_DB="${PG_DB:-chat}"
PG_OS_USER="${PG_OS_USER:-postgres}"
if [[ -z "${PG_PORT:-}" ]]; then
    PG_PORT=5432
    [[ -s "$PGDIR/port" ]] && PG_PORT="$(cat "$PGDIR/port")"
fi
DATA="$PGDIR/data"
SOCK="$PGDIR/run"
LOG="$PGDIR/log/postgres.log"

say() { printf 'pg: %s\n' "$*"; }
die() { printf 'pg: error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
elapsed() { local ms=$(( $(now_ms) - $1 )); printf '%d.%01ds' $((ms / 1000)) $(((ms % 1000) / 100)); }

url() { echo "postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB"; }

# Runs a server binary as the cluster's owner: root hands it to $PG_OS_USER, anyone else runs it.
# cd /: the owner may not be allowed into the caller's working folder.
as_owner() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        "$@"
    fi
}

is_running() { [[ -f "$DATA/PG_VERSION" ]] && as_owner "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

check_install() {
    [[ -x "$PG_BIN/initdb" ]] || die "$PG_BIN/initdb not found (run scripts/deps.sh)"
    if [[ $EUID -eq 0 ]]; then
        id -u "$PG_OS_USER" >/dev/null 2>&1 || die "system user $PG_OS_USER missing (run scripts/deps.sh)"
    fi
}

init_cluster() {
    local t0
    t0=$(now_ms)
    mkdir -p "$PGDIR"
    rm -rf "$DATA"
    install -d -m 0700 "$DATA"
    install -d -m 0755 "$SOCK" "$(dirname "$LOG")"
    if [[ $EUID -eq 0 ]]; then
        chown -R "$PG_OS_USER:" "$PGDIR"
        # The owner must be able to walk down to the cluster's folder.
        runuser -u "$PG_OS_USER" -- test -x "$PGDIR" -a -w "$PGDIR" ||
            die "$PG_OS_USER cannot reach $PGDIR (a parent folder is closed to it); use another STATE_DIR"
    fi
    if ! as_owner "$PG_BIN/initdb" -D "$DATA" -U "$PG_USER" -A trust -E UTF8 --locale=C \
            --no-sync --no-instructions >"$PGDIR/log/initdb.log" 2>&1; then
        cat "$PGDIR/log/initdb.log" >&2
        die "initdb failed"
    fi
    # Throw-away settings: durability off for speed; port and socket come from local.conf,
    # which every start rewrites.
    cat >>"$DATA/postgresql.conf" <<'EOF'

# scripts/pg.sh: throw-away cluster
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
max_connections = 200
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
include_if_exists = 'local.conf'
EOF
    say "initialised cluster in $PGDIR (superuser $PG_USER, trust auth) in $(elapsed "$t0")"
}

cmd_start() {
    local t0
    check_install
    if is_running; then
        say "already running (port $(cat "$PGDIR/port" 2>/dev/null || echo "$PG_PORT"))"
        PG_PORT="$(cat "$PGDIR/port" 2>/dev/null || echo "$PG_PORT")"
        echo "DATABASE_URL=$(url)"
        return 0
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; then
        die "port $PG_PORT on 127.0.0.1 is already in use (set PG_PORT; Debian's own cluster: pg_ctlcluster 15 main stop)"
    fi
    [[ -f "$DATA/PG_VERSION" ]] || init_cluster
    t0=$(now_ms)
    cat >"$PGDIR/local.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$SOCK'
EOF
    install -m 0644 "$PGDIR/local.conf" "$DATA/local.conf"
    echo "$PG_PORT" >"$PGDIR/port"
    [[ $EUID -eq 0 ]] && chown "$PG_OS_USER:" "$DATA/local.conf" "$PGDIR/port"
    if ! as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null; then
        tail -n 20 "$LOG" >&2 || true
        die "server did not start (log $LOG)"
    fi
    # The database is made once; \gexec runs the CREATE only when it is missing.
    "$PG_BIN/psql" -X -q -h "$SOCK" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 <<EOF >/dev/null
SELECT format('CREATE DATABASE %I OWNER %I', '$PG_DB', '$PG_USER')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_DB') \gexec
EOF
    say "started on 127.0.0.1:$PG_PORT (socket $SOCK) in $(elapsed "$t0"); log $LOG"
    echo "DATABASE_URL=$(url)"
}

cmd_stop() {
    if ! is_running; then
        say "not running"
        return 0
    fi
    local t0
    t0=$(now_ms)
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    say "stopped in $(elapsed "$t0")"
}

cmd_status() {
    if is_running; then
        say "running on 127.0.0.1:$PG_PORT ($(url))"
        return 0
    fi
    say "stopped (state $PGDIR)"
    return 3
}

cmd_psql() {
    is_running || die "server not running (scripts/pg.sh start)"
    exec "$PG_BIN/psql" -X -h "$SOCK" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" "$@"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    url) echo "DATABASE_URL=$(url)" ;;
    psql) shift; cmd_psql "$@" ;;
    destroy) cmd_stop; rm -rf "$PGDIR"; say "removed $PGDIR" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
