#!/usr/bin/env bash
# Private, throw-away PostgreSQL server for development and tests, listening on
# 127.0.0.1 only. It is its own cluster (initdb'd into a directory of its own),
# independent of the distribution's clusters and of systemd.
#
# Usage: deploy/local/postgres.sh {start|stop|restart|status|url|createdb NAME|dropdb NAME|psql [ARGS...]|logs [-f]}
#
# Environment:
#   REINTEGRA_PG_PORT    TCP port on 127.0.0.1 (default 54329)
#   REINTEGRA_PG_DIR     cluster directory: data/ (PGDATA) and postgres.log
#                        (default <repo>/.local/postgres; when running as root and
#                        the postgres OS user cannot reach that path, the default
#                        becomes /var/tmp/reintegra-pg/<hash of the repo path>)
#   REINTEGRA_PG_BINDIR  PostgreSQL server bin dir (default: newest /usr/lib/postgresql/*/bin)
#
# Credentials: superuser role "reintegra", password "reintegra". Loopback
# connections are trusted, so the password is not actually checked.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd)
LOG_TAG=postgres
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

HOST=127.0.0.1
PORT="${REINTEGRA_PG_PORT:-54329}"
PG_USER=reintegra
PG_PASSWORD=reintegra
START_TIMEOUT=60
STOP_TIMEOUT=30

usage() {
    cat >&2 <<EOF
usage: $(basename -- "$0") {start|stop|restart|status|url|createdb NAME|dropdb NAME|psql [ARGS...]|logs [-f]}
  start          initialise (first time) and start the server; waits until it accepts connections
  stop           stop the server (idempotent)
  status         "running (pid N) on $HOST:PORT" (exit 0) or "stopped" (exit 3)
  url            print the SQLAlchemy URL (no database part)
  createdb NAME  create database NAME (no-op if it exists)
  dropdb NAME    drop database NAME, terminating its connections (no-op if missing)
  psql [ARGS]    run psql as the reintegra superuser (database "reintegra" unless -d is given)
  logs [-f]      show the last 100 lines of the server log (-f: follow)
EOF
}

if ! is_port "$PORT"; then
    die 2 "REINTEGRA_PG_PORT must be a port number, got '$PORT'"
fi

IS_ROOT=false
if [[ "$(id -u)" -eq 0 ]]; then
    IS_ROOT=true
fi

# ---------------------------------------------------------------- binaries

find_bindir() {
    if [[ -n "${REINTEGRA_PG_BINDIR:-}" ]]; then
        printf '%s\n' "$REINTEGRA_PG_BINDIR"
        return 0
    fi
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/postgres" && -x "$d/initdb" && -x "$d/pg_ctl" ]] || continue
        # Glob order is lexical; pick the highest major version numerically.
        if [[ -z "$best" ]] || (($(basename "$(dirname "$d")") > $(basename "$(dirname "$best")"))); then
            best=$d
        fi
    done
    [[ -n "$best" ]] || return 1
    printf '%s\n' "$best"
}

ensure_binaries() {
    if BINDIR=$(find_bindir); then
        :
    elif $IS_ROOT; then
        log "no PostgreSQL server binaries found; installing the Debian 'postgresql' package ..."
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
        BINDIR=$(find_bindir) || die 2 "installed 'postgresql' but still found no server binaries under /usr/lib/postgresql/*/bin"
    else
        die 2 "no PostgreSQL server binaries found (looked for /usr/lib/postgresql/*/bin/postgres); install them with: sudo apt-get install -y postgresql (or set REINTEGRA_PG_BINDIR)"
    fi
    local b
    for b in postgres initdb pg_ctl pg_isready psql; do
        [[ -x "$BINDIR/$b" ]] || die 2 "$BINDIR/$b is missing; install the 'postgresql' package (server and client)"
    done
    if $IS_ROOT && ! getent passwd postgres >/dev/null; then
        die 2 "running as root, but there is no 'postgres' OS user to run the server as (the server refuses to run as root); install the 'postgresql' package or run this script as a normal user"
    fi
}

# ---------------------------------------------------------------- location

# Run a command as the OS user that owns the cluster (postgres when we are root).
as_owner() {
    if ! $IS_ROOT; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        (cd / && runuser -u postgres -- "$@")
    else
        local cmd
        cmd=$(printf '%q ' "$@")
        (cd / && su -s /bin/sh postgres -c "$cmd")
    fi
}

# True if the postgres OS user can reach (search) directory $1.
owner_can_reach() {
    $IS_ROOT || return 0
    getent passwd postgres >/dev/null || return 0 # decided after installation
    as_owner test -x "$1" 2>/dev/null
}

resolve_pg_dir() {
    if [[ -n "${REINTEGRA_PG_DIR:-}" ]]; then
        PG_DIR=$REINTEGRA_PG_DIR
        return 0
    fi
    PG_DIR="$REPO_ROOT/.local/postgres"
    # The server runs as 'postgres' when we are root; it needs search access
    # to every ancestor of its data directory. /root-style private checkouts
    # do not provide that, so fall back to a stable per-repo dir in /var/tmp.
    if $IS_ROOT && ! owner_can_reach "$REPO_ROOT"; then
        local h
        h=$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-10)
        PG_DIR="/var/tmp/reintegra-pg/$h"
    fi
}

resolve_pg_dir
PGDATA_DIR="$PG_DIR/data"
LOG_FILE="$PG_DIR/postgres.log"

# ---------------------------------------------------------------- helpers

server_pid() {
    [[ -f "$PGDATA_DIR/postmaster.pid" ]] || return 1
    local pid
    pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

is_ready() { "$BINDIR/pg_isready" -q -h "$HOST" -p "$PORT" -U "$PG_USER" -d postgres -t 3; }

run_psql() {
    PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=10 PGOPTIONS="-c client_min_messages=warning" "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$HOST" -p "$PORT" -U "$PG_USER" "$@"
}

valid_db_name() {
    [[ -n "$1" && ${#1} -le 63 ]] || die 2 "database name must be 1-63 characters, got '$1'"
}

# ---------------------------------------------------------------- commands

prepare_dir() {
    mkdir -p "$PG_DIR"
    if $IS_ROOT; then
        chown postgres:postgres "$PG_DIR"
        chmod 0750 "$PG_DIR"
        if ! as_owner test -w "$PG_DIR"; then
            die 2 "the postgres OS user cannot write to $PG_DIR (a parent directory is probably not searchable by it); set REINTEGRA_PG_DIR to a directory under /var/tmp"
        fi
    fi
}

init_cluster() {
    if [[ -f "$PGDATA_DIR/PG_VERSION" ]]; then
        return 0
    fi
    log "initialising a new cluster in $PGDATA_DIR ($("$BINDIR/postgres" --version))"
    local pwfile="$PG_DIR/.pwfile"
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    if $IS_ROOT; then chown postgres:postgres "$pwfile"; fi
    chmod 0600 "$pwfile"
    # The bootstrap superuser is "reintegra"; loopback TCP and the unix socket
    # are trusted (this cluster is for local tests only).
    if ! as_owner "$BINDIR/initdb" -D "$PGDATA_DIR" -U "$PG_USER" --pwfile="$pwfile" \
        -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=trust --no-sync >"$PG_DIR/initdb.log.tmp" 2>&1; then
        rm -f "$pwfile"
        cat "$PG_DIR/initdb.log.tmp" >&2 || true
        die 1 "initdb failed"
    fi
    rm -f "$pwfile" "$PG_DIR/initdb.log.tmp"
    printf "\n# Managed settings (port, durability, ...) written by deploy/local/postgres.sh on every start.\ninclude_if_exists = 'reintegra.conf'\n" |
        as_owner tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
    touch "$PG_DIR/.needs-bootstrap"
}

write_config() {
    local sockdir="$PGDATA_DIR"
    # Unix socket paths are limited to ~107 bytes; fall back to TCP only.
    if ((${#PGDATA_DIR} + 20 > 100)); then
        sockdir=""
    fi
    as_owner tee "$PGDATA_DIR/reintegra.conf" >/dev/null <<EOF
# Generated by deploy/local/postgres.sh on every start -- edits are overwritten.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$sockdir'
max_connections = 200
shared_buffers = 128MB
# Test cluster only: trade crash safety for speed. A crash (or kill -9) of
# this server may corrupt the cluster; just delete the directory and restart.
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
log_min_messages = warning
log_connections = off
log_disconnections = off
EOF
}

do_start() {
    ensure_binaries
    local pid
    if pid=$(server_pid); then
        if is_ready; then
            log "already running (pid $pid) on $HOST:$PORT"
            return 0
        fi
        log "server process $pid exists but is not accepting connections on $HOST:$PORT yet; waiting"
    else
        require_free_ports "$HOST" REINTEGRA_PG_PORT "$PORT"
        prepare_dir
        init_cluster
        write_config
        if $IS_ROOT; then
            touch "$LOG_FILE"
            chown postgres:postgres "$LOG_FILE"
        fi
        log "starting PostgreSQL on $HOST:$PORT (data $PGDATA_DIR, log $LOG_FILE)"
        if ! as_owner "$BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$LOG_FILE" -w -t "$START_TIMEOUT" -s >/dev/null; then
            log_tail "$LOG_FILE" 30
            die 1 "the server did not start; see $LOG_FILE"
        fi
    fi
    local deadline=$((SECONDS + START_TIMEOUT))
    until is_ready; do
        if ((SECONDS >= deadline)); then
            log_tail "$LOG_FILE" 30
            die 1 "the server is not accepting connections on $HOST:$PORT after ${START_TIMEOUT}s; see $LOG_FILE"
        fi
        sleep 0.5
    done
    if [[ -f "$PG_DIR/.needs-bootstrap" ]]; then
        # Default database of the reintegra role, so the bare URL (no database) works.
        run_psql -d postgres -c "CREATE DATABASE reintegra"
        rm -f "$PG_DIR/.needs-bootstrap"
    fi
    pid=$(server_pid) || pid="?"
    log "running (pid $pid) on $HOST:$PORT"
}

do_stop() {
    ensure_binaries
    if ! server_pid >/dev/null; then
        log "not running"
        return 0
    fi
    log "stopping PostgreSQL (pid $(server_pid || echo '?'))"
    if ! as_owner "$BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t "$STOP_TIMEOUT" -s; then
        log "fast shutdown did not finish within ${STOP_TIMEOUT}s; using immediate shutdown"
        as_owner "$BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m immediate -w -t "$STOP_TIMEOUT" -s
    fi
    log "stopped"
}

do_status() {
    local pid
    if pid=$(server_pid); then
        echo "running (pid $pid) on $HOST:$PORT"
        return 0
    fi
    echo "stopped"
    return 3
}

require_running() {
    ensure_binaries
    is_ready || die 1 "the server is not running on $HOST:$PORT; start it with: $0 start"
}

do_createdb() {
    local name=${1:-}
    valid_db_name "$name"
    require_running
    local exists
    exists=$(printf '%s\n' "SELECT 1 FROM pg_database WHERE datname = :'name';" |
        run_psql -d postgres -At -v name="$name")
    if [[ "$exists" == 1 ]]; then
        log "database \"$name\" already exists"
        return 0
    fi
    printf 'CREATE DATABASE :"name";\n' | run_psql -d postgres -v name="$name"
    log "created database \"$name\""
}

do_dropdb() {
    local name=${1:-}
    valid_db_name "$name"
    require_running
    printf 'DROP DATABASE IF EXISTS :"name" WITH (FORCE);\n' | run_psql -d postgres -v name="$name"
    log "dropped database \"$name\" (if it existed)"
}

do_psql() {
    require_running
    # PGDATABASE only sets the default; an explicit -d/--dbname still wins.
    exec env PGPASSWORD="$PG_PASSWORD" PGDATABASE="${PGDATABASE:-$PG_USER}" \
        "$BINDIR/psql" -h "$HOST" -p "$PORT" -U "$PG_USER" "$@"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    start) do_start ;;
    stop) do_stop ;;
    restart) do_stop && do_start ;;
    status) do_status ;;
    url) echo "postgresql+asyncpg://$PG_USER:$PG_PASSWORD@$HOST:$PORT" ;;
    createdb) do_createdb "${1:-}" ;;
    dropdb) do_dropdb "${1:-}" ;;
    psql) do_psql "$@" ;;
    logs) show_log "$LOG_FILE" "$@" ;;
    -h | --help | help) usage ;;
    *)
        usage
        exit 2
        ;;
esac
