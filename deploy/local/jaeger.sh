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
LOG_TAG=jaeger
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

VERSION="${REINTEGRA_JAEGER_VERSION:-v1.76.0}"
CACHE_DIR="${REINTEGRA_CACHE_DIR:-$HOME/.cache/reintegra}/jaeger-${VERSION#v}"
BINARY="$CACHE_DIR/jaeger"
STAMP_FILE="$CACHE_DIR/.complete"

STATE_DIR="${REINTEGRA_JAEGER_DIR:-$REPO_ROOT/.local/jaeger}"
CONF_FILE="$STATE_DIR/config.yaml"
PID_FILE="$STATE_DIR/jaeger.pid"
LOG_FILE="$STATE_DIR/jaeger.log"
LOCK_FILE="$STATE_DIR/.lock"
MARKER="--config $CONF_FILE" # in the command line of our Jaeger

HOST=127.0.0.1
OTLP_PORT="${REINTEGRA_JAEGER_OTLP_PORT:-4318}"
OTLP_GRPC_PORT="${REINTEGRA_JAEGER_OTLP_GRPC_PORT:-4317}"
UI_PORT="${REINTEGRA_JAEGER_UI_PORT:-16686}"
QUERY_GRPC_PORT="${REINTEGRA_JAEGER_QUERY_GRPC_PORT:-16685}"
HEALTH_PORT="${REINTEGRA_JAEGER_HEALTH_PORT:-13133}"
MAX_TRACES="${REINTEGRA_JAEGER_MAX_TRACES:-100000}"
START_TIMEOUT="${REINTEGRA_JAEGER_START_TIMEOUT:-60}"
STOP_TIMEOUT=20

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
    if ! is_port "$value"; then
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

healthy() { (exec 3<>"/dev/tcp/$HOST/$HEALTH_PORT" && printf 'GET /status HTTP/1.0\r\n\r\n' >&3 && grep -q '"StatusOK"\|200 OK' <&3) 2>/dev/null; }

answering() { port_open "$HOST" "$UI_PORT" && port_open "$HOST" "$OTLP_PORT" && healthy; }

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

do_start() {
    local pid
    if pid=$(find_pid "$PID_FILE" "$MARKER") && port_open "$HOST" "$UI_PORT" && port_open "$HOST" "$OTLP_PORT"; then
        log "already running (pid $pid): UI $(do_url), OTLP $(do_otlp)"
        return 0
    fi
    if [[ -z "${pid:-}" ]]; then
        require_free_ports "$HOST" "the REINTEGRA_JAEGER_*_PORT variables" \
            "$OTLP_PORT" "$OTLP_GRPC_PORT" "$UI_PORT" "$QUERY_GRPC_PORT" "$HEALTH_PORT"
        ensure_binary
        mkdir -p "$STATE_DIR"
        write_config
        log "starting Jaeger $VERSION: OTLP http://$HOST:$OTLP_PORT (gRPC $OTLP_GRPC_PORT), UI $(do_url), log: $LOG_FILE"
        spawn "$PID_FILE" "$LOG_FILE" "$STATE_DIR" "$BINARY" --config "$CONF_FILE"
        pid=$(<"$PID_FILE")
    fi
    wait_started "$pid" "$PID_FILE" "$LOG_FILE" 30 "$START_TIMEOUT" \
        "Jaeger exited during start-up; see $LOG_FILE" \
        "Jaeger (pid $pid) did not answer within ${START_TIMEOUT}s; see $LOG_FILE (left running: '$0 stop')" \
        answering
    log "running (pid $pid)"
}

do_stop() { stop_server "$PID_FILE" "$MARKER" Jaeger "$STOP_TIMEOUT"; }

do_status() { server_status "$PID_FILE" "$MARKER" "$HOST" "$UI_PORT" ": UI $(do_url), OTLP $(do_otlp)" ""; }

do_url() { echo "http://$HOST:$UI_PORT"; }
do_otlp() { echo "http://$HOST:$OTLP_PORT"; }

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    start) with_lock "$LOCK_FILE" do_start ;;
    stop) with_lock "$LOCK_FILE" do_stop ;;
    restart) with_lock "$LOCK_FILE" do_stop && with_lock "$LOCK_FILE" do_start ;;
    status) do_status ;;
    logs) show_log "$LOG_FILE" "$@" ;;
    url) do_url ;;
    otlp-endpoint) do_otlp ;;
    build) ensure_binary && echo "$BINARY" ;;
    -h | --help | help) usage ;;
    *)
        usage
        exit 2
        ;;
esac
