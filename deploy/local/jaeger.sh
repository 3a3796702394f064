#!/usr/bin/env bash
# Local Jaeger v2 (in-memory storage) for development and tests: OTLP/HTTP and OTLP/gRPC in, the Jaeger
# UI and its query API (/api/v3/traces/<trace id>, OTLP JSON) out. No Docker: the binary is built once
# from the Go module proxy (`go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@VERSION` in a
# scratch module, then `go build`; ~1.3 GB of modules, deleted after the build) into a cache folder.
# See docs/adr/0020-tracing-backend.md.
#
# Usage: deploy/local/jaeger.sh {start|stop|restart|status|logs [-f]|url|otlp-endpoint|build}
#
# Environment:
#   REINTEGRA_JAEGER_OTLP_PORT       OTLP/HTTP port (default 4318)
#   REINTEGRA_JAEGER_OTLP_GRPC_PORT  OTLP/gRPC port (default 4317)
#   REINTEGRA_JAEGER_UI_PORT         UI and HTTP query API port (default 16686)
#   REINTEGRA_JAEGER_QUERY_GRPC_PORT gRPC query API port (default 16685)
#   REINTEGRA_JAEGER_HEALTH_PORT     health check port (default 13133)
#   REINTEGRA_JAEGER_MAX_TRACES      traces kept in memory (default 100000)
#   REINTEGRA_JAEGER_DIR             runtime state: config, pid, log (default <repo>/.local/jaeger)
#   REINTEGRA_CACHE_DIR              cache root (default $HOME/.cache/reintegra); binary in <root>/jaeger-<version>/
#   REINTEGRA_JAEGER_VERSION         Jaeger module version to build (default v1.76.0)
#   REINTEGRA_JAEGER_START_TIMEOUT   seconds to wait for it to answer (default 60)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd)

VERSION="${REINTEGRA_JAEGER_VERSION:-v1.76.0}"
CACHE_DIR="${REINTEGRA_CACHE_DIR:-$HOME/.cache/reintegra}/jaeger-${VERSION#v}"
BINARY="$CACHE_DIR/jaeger"
STAMP_FILE="$CACHE_DIR/.complete"

STATE_DIR="${REINTEGRA_JAEGER_DIR:-$REPO_ROOT/.local/jaeger}"
CONF_FILE="$STATE_DIR/config.yaml"
PID_FILE="$STATE_DIR/jaeger.pid"
LOG_FILE="$STATE_DIR/jaeger.log"
LOCK_FILE="$STATE_DIR/.lock"

HOST=127.0.0.1
OTLP_PORT="${REINTEGRA_JAEGER_OTLP_PORT:-4318}"
OTLP_GRPC_PORT="${REINTEGRA_JAEGER_OTLP_GRPC_PORT:-4317}"
UI_PORT="${REINTEGRA_JAEGER_UI_PORT:-16686}"
QUERY_GRPC_PORT="${REINTEGRA_JAEGER_QUERY_GRPC_PORT:-16685}"
HEALTH_PORT="${REINTEGRA_JAEGER_HEALTH_PORT:-13133}"
MAX_TRACES="${REINTEGRA_JAEGER_MAX_TRACES:-100000}"
START_TIMEOUT="${REINTEGRA_JAEGER_START_TIMEOUT:-60}"
STOP_TIMEOUT=20

log() { printf 'jaeger: %s\n' "$*" >&2; }
die() {
    local code=$1
    shift
    log "$*"
    exit "$code"
}

usage() {
    cat >&2 <<EOF
usage: $(basename -- "$0") {start|stop|restart|status|logs [-f]|url|otlp-endpoint|build}
  start          start Jaeger (idempotent; builds the binary once) and wait until it answers
  stop           stop it (idempotent)
  status         "running (pid N) ..." (exit 0) or "stopped" (exit 3)
  logs [-f]      show the last 100 lines of its log (-f: follow)
  url            print the UI / query API base URL (http://$HOST:UI_PORT)
  otlp-endpoint  print the OTLP/HTTP endpoint for REINTEGRA_OTLP_ENDPOINT (http://$HOST:OTLP_PORT)
  build          build and cache the binary only
EOF
}

for var in OTLP_PORT OTLP_GRPC_PORT UI_PORT QUERY_GRPC_PORT HEALTH_PORT; do
    value=${!var}
    if ! [[ "$value" =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
        die 2 "REINTEGRA_JAEGER_${var} must be a port number, got '$value'"
    fi
done
if ! [[ "$START_TIMEOUT" =~ ^[0-9]+$ && "$MAX_TRACES" =~ ^[0-9]+$ ]]; then
    die 2 "REINTEGRA_JAEGER_START_TIMEOUT and REINTEGRA_JAEGER_MAX_TRACES must be whole numbers"
fi

# ---------------------------------------------------------------- the binary

ensure_binary() {
    if [[ -x "$BINARY" && -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$VERSION" ]]; then
        return 0
    fi
    command -v go >/dev/null 2>&1 || die 2 "go (1.24 or newer) is required to build Jaeger $VERSION; install Go or put a jaeger binary at $BINARY"
    mkdir -p "$CACHE_DIR"
    exec 8>"$CACHE_DIR/.build.lock"
    flock -w 3600 8 || die 1 "another build holds $CACHE_DIR/.build.lock"
    if [[ -x "$BINARY" && -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$VERSION" ]]; then
        return 0
    fi
    local build="$CACHE_DIR/build" start=$SECONDS
    log "building Jaeger $VERSION from the Go module proxy into $CACHE_DIR (once; ~1.3 GB of modules, 10-20 minutes on 2 cores) ..."
    rm -rf "$build" "$BINARY" "$STAMP_FILE"
    mkdir -p "$build"
    (
        cd "$build"
        export GOMODCACHE="$build/modcache" GOFLAGS=-mod=mod GOTOOLCHAIN=local
        go mod init reintegra.local/jaeger-build >/dev/null 2>&1
        go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$VERSION"
        go build -trimpath -ldflags="-s -w" -o "$BINARY.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
        go clean -modcache
    ) >&2 || {
        rm -rf "$build" "$BINARY.tmp"
        die 1 "building Jaeger $VERSION failed (see the Go output above)"
    }
    rm -rf "$build"
    mv "$BINARY.tmp" "$BINARY"
    printf '%s\n' "$VERSION" >"$STAMP_FILE"
    log "Jaeger $VERSION built in $((SECONDS - start)) s: $BINARY"
}

# ---------------------------------------------------------------- process state

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

is_our_jaeger() {
    local pid=$1 cmdline
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"--config $CONF_FILE"* ]]
}

find_pid() {
    local pid proc
    if [[ -f "$PID_FILE" ]]; then
        pid=$(<"$PID_FILE")
        if is_our_jaeger "$pid"; then
            printf '%s\n' "$pid"
            return 0
        fi
    fi
    for proc in /proc/[0-9]*; do
        pid=${proc#/proc/}
        if is_our_jaeger "$pid"; then
            printf '%s\n' "$pid" >"$PID_FILE"
            printf '%s\n' "$pid"
            return 0
        fi
    done
    return 1
}

healthy() { (exec 3<>"/dev/tcp/$HOST/$HEALTH_PORT" && printf 'GET /status HTTP/1.0\r\n\r\n' >&3 && grep -q '"StatusOK"\|200 OK' <&3) 2>/dev/null; }

with_lock() {
    mkdir -p "$STATE_DIR"
    exec 9>"$LOCK_FILE"
    flock -w 120 9 || die 1 "another jaeger.sh invocation holds $LOCK_FILE"
    "$@"
}

write_config() {
    cat >"$CONF_FILE" <<EOF
# Generated by deploy/local/jaeger.sh on every start -- edits are overwritten.
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: info
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: $HOST:$HEALTH_PORT
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: $MAX_TRACES
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: $HOST:$UI_PORT
    grpc:
      endpoint: $HOST:$QUERY_GRPC_PORT
receivers:
  otlp:
    protocols:
      http:
        endpoint: $HOST:$OTLP_PORT
      grpc:
        endpoint: $HOST:$OTLP_GRPC_PORT
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
EOF
}

log_tail() {
    if [[ -f "$LOG_FILE" ]]; then
        log "last lines of $LOG_FILE:"
        tail -n 30 "$LOG_FILE" | sed 's/^/    /' >&2
    fi
}

do_start() {
    local pid
    if pid=$(find_pid) && port_open "$UI_PORT" && port_open "$OTLP_PORT"; then
        log "already running (pid $pid): UI $(do_url), OTLP $(do_otlp)"
        return 0
    fi
    if [[ -z "${pid:-}" ]]; then
        local p
        for p in "$OTLP_PORT" "$OTLP_GRPC_PORT" "$UI_PORT" "$QUERY_GRPC_PORT" "$HEALTH_PORT"; do
            if port_open "$p"; then
                die 1 "port $HOST:$p is already in use by another process; stop it or set the REINTEGRA_JAEGER_*_PORT variables"
            fi
        done
        ensure_binary
        mkdir -p "$STATE_DIR"
        write_config
        log "starting Jaeger $VERSION: OTLP http://$HOST:$OTLP_PORT (gRPC $OTLP_GRPC_PORT), UI $(do_url), log: $LOG_FILE"
        printf '\n===== %s jaeger.sh start =====\n' "$(date -Is)" >>"$LOG_FILE"
        (
            cd "$STATE_DIR"
            exec setsid nohup "$BINARY" --config "$CONF_FILE" >>"$LOG_FILE" 2>&1 </dev/null 8>&- 9>&-
        ) &
        pid=$!
        printf '%s\n' "$pid" >"$PID_FILE"
    fi
    local deadline=$((SECONDS + START_TIMEOUT))
    until port_open "$UI_PORT" && port_open "$OTLP_PORT" && healthy; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            log_tail
            die 1 "Jaeger exited during start-up; see $LOG_FILE"
        fi
        if ((SECONDS >= deadline)); then
            log_tail
            die 1 "Jaeger (pid $pid) did not answer within ${START_TIMEOUT}s; see $LOG_FILE (left running: '$0 stop')"
        fi
        sleep 0.5
    done
    log "running (pid $pid)"
}

do_stop() {
    local pid
    if ! pid=$(find_pid); then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    log "stopping Jaeger (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$PID_FILE"
    log "stopped"
}

do_status() {
    local pid
    if pid=$(find_pid); then
        if port_open "$UI_PORT"; then
            echo "running (pid $pid): UI $(do_url), OTLP $(do_otlp)"
            return 0
        fi
        echo "starting (pid $pid)"
        return 4
    fi
    echo "stopped"
    return 3
}

do_logs() {
    [[ -f "$LOG_FILE" ]] || die 1 "no log file at $LOG_FILE"
    if [[ "${1:-}" == "-f" ]]; then
        exec tail -n 100 -F "$LOG_FILE"
    fi
    tail -n 100 "$LOG_FILE"
}

do_url() { echo "http://$HOST:$UI_PORT"; }
do_otlp() { echo "http://$HOST:$OTLP_PORT"; }

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    start) with_lock do_start ;;
    stop) with_lock do_stop ;;
    restart) with_lock do_stop && with_lock do_start ;;
    status) do_status ;;
    logs) do_logs "$@" ;;
    url) do_url ;;
    otlp-endpoint) do_otlp ;;
    build) ensure_binary && echo "$BINARY" ;;
    -h | --help | help) usage ;;
    *)
        usage
        exit 2
        ;;
esac
