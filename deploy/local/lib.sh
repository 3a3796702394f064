#!/usr/bin/env bash
# Shared helpers of deploy/local/*.sh (kafka.sh, postgres.sh, jaeger.sh): sourced, not run. Kept beside
# them rather than in scripts/lib.sh so that they need nothing outside this folder: they are run by path
# from any directory (tests, reintegra-stack, the docs), and scripts/lib.sh runs them.
#
# The sourcing script sets LOG_TAG first: the prefix of its messages ("kafka: ...") and its name without
# ".sh". A server started here is found by a marker: words of its command line that name its state dir.

log() { printf '%s: %s\n' "$LOG_TAG" "$*" >&2; }

# die CODE MESSAGE...: logs MESSAGE and exits with CODE.
die() {
    local code=$1
    shift
    log "$*"
    exit "$code"
}

# is_port VALUE [MAX]: true if VALUE is a TCP port number from 1 to MAX (default 65535).
is_port() { [[ "$1" =~ ^[0-9]+$ ]] && ! (($1 < 1 || $1 > ${2:-65535})); }

# port_open HOST PORT: true if something accepts connections on HOST:PORT.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# require_free_ports HOST HINT PORT...: dies (1) naming the first PORT in use; HINT says which variable
# moves it.
require_free_ports() {
    local host=$1 hint=$2 port
    shift 2
    for port in "$@"; do
        if port_open "$host" "$port"; then
            die 1 "port $host:$port is already in use by another process; stop it or set $hint"
        fi
    done
}

# log_tail LOG_FILE LINES: logs the last LINES lines of LOG_FILE (if it exists), indented.
log_tail() {
    if [[ -f "$1" ]]; then
        log "last lines of $1:"
        tail -n "$2" "$1" | sed 's/^/    /' >&2
    fi
}

# show_log LOG_FILE [-f]: the `logs` command: its last 100 lines (-f: and follow it).
show_log() {
    [[ -f "$1" ]] || die 1 "no log file at $1"
    if [[ "${2:-}" == "-f" ]]; then
        exec tail -n 100 -F "$1"
    fi
    tail -n 100 "$1"
}

# with_lock LOCK_FILE COMMAND...: runs COMMAND holding LOCK_FILE (fd 9), so that two invocations do not
# start or stop the same server at once; without flock, unlocked.
with_lock() {
    local lock=$1
    shift
    mkdir -p "$(dirname -- "$lock")"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$lock"
        flock -w 120 9 || die 1 "another $LOG_TAG.sh invocation holds $lock"
    fi
    "$@"
}

# ---------------------------------------------------------------- a server process of our own

# runs_with PID MARKER: true if PID is a live process whose command line (arguments joined by spaces)
# contains MARKER.
runs_with() {
    local pid=$1 cmdline
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"$2"* ]]
}

# find_pid PID_FILE MARKER: prints the pid of the server (from PID_FILE; if that is lost or stale, found
# by scanning /proc and written back to PID_FILE); returns 1 if none runs.
find_pid() {
    local pid_file=$1 marker=$2 pid proc
    if [[ -f "$pid_file" ]]; then
        pid=$(<"$pid_file")
        if runs_with "$pid" "$marker"; then
            printf '%s\n' "$pid"
            return 0
        fi
    fi
    for proc in /proc/[0-9]*; do
        pid=${proc#/proc/}
        if runs_with "$pid" "$marker"; then
            printf '%s\n' "$pid" >"$pid_file"
            printf '%s\n' "$pid"
            return 0
        fi
    done
    return 1
}

# spawn PID_FILE LOG_FILE DIR COMMAND...: starts COMMAND in DIR as a server that outlives this script (own
# session, no terminal, as many open files as the machine allows, output appended to LOG_FILE after a
# header line, without the lock files of fds 8 and 9) and writes its pid to PID_FILE.
spawn() {
    local pid_file=$1 log_file=$2 dir=$3
    shift 3
    printf '\n===== %s %s.sh start =====\n' "$(date -Is)" "$LOG_TAG" >>"$log_file"
    (
        cd "$dir" || exit
        # a Kafka broker keeps a file open per partition segment (a Go program raises its limit itself)
        ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
        exec setsid nohup "$@" >>"$log_file" 2>&1 </dev/null 8>&- 9>&-
    ) &
    printf '%s\n' "$!" >"$pid_file"
}

# wait_started PID PID_FILE LOG_FILE LOG_LINES TIMEOUT EXITED TIMED_OUT READY...: waits until the
# command READY... succeeds. If PID exits first: removes PID_FILE, logs the last LOG_LINES lines of
# LOG_FILE and dies (1) with the message EXITED; after TIMEOUT seconds: the same with TIMED_OUT, leaving
# PID running.
wait_started() {
    local pid=$1 pid_file=$2 log_file=$3 lines=$4 timeout=$5 exited=$6 timed_out=$7
    shift 7
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pid_file"
            log_tail "$log_file" "$lines"
            die 1 "$exited"
        fi
        if ((SECONDS >= deadline)); then
            log_tail "$log_file" "$lines"
            die 1 "$timed_out"
        fi
        sleep 0.5
    done
}

# stop_server PID_FILE MARKER NAME TIMEOUT [KILL_NOTICE]: the `stop` command: SIGTERM, and SIGKILL (after
# logging KILL_NOTICE, if given) if the server still runs TIMEOUT seconds later. Idempotent.
stop_server() {
    local pid_file=$1 marker=$2 name=$3 timeout=$4 kill_notice=${5:-} pid
    if ! pid=$(find_pid "$pid_file" "$marker"); then
        rm -f "$pid_file"
        log "not running"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            [[ -z "$kill_notice" ]] || log "$kill_notice"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.2
    done
    rm -f "$pid_file"
    log "stopped"
}

# server_status PID_FILE MARKER HOST PORT RUNNING STARTING: the `status` command: "running (pid N)RUNNING"
# (0) if the server runs and HOST:PORT answers, "starting (pid N)STARTING" (4) if it does not answer yet,
# "stopped" (3) if it does not run.
server_status() {
    local pid
    if pid=$(find_pid "$1" "$2"); then
        if port_open "$3" "$4"; then
            echo "running (pid $pid)$5"
            return 0
        fi
        echo "starting (pid $pid)$6"
        return 4
    fi
    echo "stopped"
    return 3
}
