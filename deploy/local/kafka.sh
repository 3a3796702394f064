#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, broker+controller) for development
# and tests. No Docker: the broker's jars are resolved once from Maven Central
# (see deploy/local/kafka/pom.xml) into a cache directory and run with `java`.
#
# Usage: deploy/local/kafka.sh {start|stop|restart|status|logs [-f]|bootstrap|topics ARGS...|groups ARGS...
#                               |admin-password|admin-config}
#
# Environment:
#   REINTEGRA_KAFKA_SECURITY       plaintext (default) or sasl: a SASL_PLAINTEXT listener with
#                                  SCRAM-SHA-512, StandardAuthorizer with ACLs, super user admin.
#                                  Its own port and state dir, so both brokers can run side by side.
#   REINTEGRA_KAFKA_PORT           broker port (default 9092; sasl: 9192); controller uses PORT+1
#   REINTEGRA_KAFKA_DIR            runtime state: data, server.properties, pid, kafka.log
#                                  (default <repo>/.local/kafka; sasl: <repo>/.local/kafka-sasl)
#   REINTEGRA_KAFKA_ADMIN_PASSWORD sasl: password of the super user admin (default: generated once
#                                  into <state dir>/admin.password, mode 0600)
#   REINTEGRA_CACHE_DIR            jar cache root (default $HOME/.cache/reintegra);
#                                  jars live in <root>/kafka-<version>/libs
#   REINTEGRA_KAFKA_VERSION        Kafka version to resolve (default 4.3.1)
#   REINTEGRA_KAFKA_LOG4J_VERSION  log4j2 version for the logging backend (default 2.25.4)
#   REINTEGRA_KAFKA_HEAP_OPTS      JVM heap flags (default "-Xms256m -Xmx768m")
#   REINTEGRA_KAFKA_START_TIMEOUT  seconds to wait for the broker to answer (default 90)
#   JAVA_HOME                      if set, $JAVA_HOME/bin/java is used instead of `java`
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd)
SUPPORT_DIR="$SCRIPT_DIR/kafka"
LOG_TAG=kafka
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

KAFKA_VERSION="${REINTEGRA_KAFKA_VERSION:-4.3.1}"
LOG4J_VERSION="${REINTEGRA_KAFKA_LOG4J_VERSION:-2.25.4}"
CACHE_DIR="${REINTEGRA_CACHE_DIR:-$HOME/.cache/reintegra}/kafka-$KAFKA_VERSION"
LIB_DIR="$CACHE_DIR/libs"
STAMP_FILE="$CACHE_DIR/.complete"

SECURITY="${REINTEGRA_KAFKA_SECURITY:-plaintext}"
case "$SECURITY" in
    plaintext) DEFAULT_PORT=9092 DEFAULT_STATE_DIR="$REPO_ROOT/.local/kafka" ;;
    sasl) DEFAULT_PORT=9192 DEFAULT_STATE_DIR="$REPO_ROOT/.local/kafka-sasl" ;;
    *)
        die 2 "REINTEGRA_KAFKA_SECURITY must be plaintext or sasl, got '$SECURITY'"
        ;;
esac
STATE_DIR="${REINTEGRA_KAFKA_DIR:-$DEFAULT_STATE_DIR}"
DATA_DIR="$STATE_DIR/data"
CONF_FILE="$STATE_DIR/server.properties"
PID_FILE="$STATE_DIR/kafka.pid"
LOG_FILE="$STATE_DIR/kafka.log"
LOCK_FILE="$STATE_DIR/.lock"
ADMIN_PASSWORD_FILE="$STATE_DIR/admin.password"
ADMIN_CONFIG_FILE="$STATE_DIR/admin.properties"
MARKER="kafka.Kafka $CONF_FILE" # in the command line of our broker

HOST=127.0.0.1
PORT="${REINTEGRA_KAFKA_PORT:-$DEFAULT_PORT}"
START_TIMEOUT="${REINTEGRA_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT=30
HEAP_OPTS="${REINTEGRA_KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
    JAVA="$JAVA_HOME/bin/java"
else
    JAVA=java
fi

usage() {
    cat >&2 <<EOF
usage: $(basename -- "$0") {start|stop|restart|status|logs [-f]|bootstrap|topics ARGS...|groups ARGS...}
  start       start the broker (idempotent) and wait until it answers
  stop        stop the broker (idempotent)
  status      "running (pid N) on $HOST:PORT" (exit 0) or "stopped" (exit 3)
  logs [-f]   show the last 100 lines of the broker log (-f: follow)
  bootstrap   print the bootstrap server address
  topics ...  run kafka-topics against the broker, e.g. "topics --list"
  groups ...  run kafka-consumer-groups against the broker, e.g. "groups --describe --group reintegra-referral"
  admin-password  (sasl) print the super user's password (created on first use)
  admin-config    (sasl) print the path of a client config for Kafka's tools, as admin
EOF
}

if ! is_port "$PORT" 65534; then
    die 2 "REINTEGRA_KAFKA_PORT must be a port number below 65535, got '$PORT'"
fi
CONTROLLER_PORT=$((PORT + 1))
if ! [[ "$START_TIMEOUT" =~ ^[0-9]+$ ]]; then
    die 2 "REINTEGRA_KAFKA_START_TIMEOUT must be a number of seconds, got '$START_TIMEOUT'"
fi

# ---------------------------------------------------------------- prerequisites

require_java() {
    if ! command -v "$JAVA" >/dev/null 2>&1; then
        die 2 "java (17 or newer) is required but was not found; install it with: apt-get install -y openjdk-17-jre-headless"
    fi
    local version major
    version=$("$JAVA" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
    major=${version#1.}         # 1.8.0_x -> 8.0_x
    major=${major%%[!0-9]*}     # 17.0.15 -> 17
    if [[ -z "$major" ]] || ((major < 17)); then
        die 2 "java 17 or newer is required, found '${version:-unknown}' ($(command -v "$JAVA")); install it with: apt-get install -y openjdk-17-jre-headless"
    fi
}

require_mvn() {
    if ! command -v mvn >/dev/null 2>&1; then
        die 2 "mvn (Maven) is required to download the Kafka jars but was not found; install it with: apt-get install -y maven"
    fi
}

# Fingerprint of what the cache must contain; a mismatch (or a missing stamp
# after an interrupted download) forces a fresh resolution.
cache_fingerprint() {
    {
        printf 'kafka=%s log4j=%s\n' "$KAFKA_VERSION" "$LOG4J_VERSION"
        cat "$SUPPORT_DIR/pom.xml"
    } | sha256sum | cut -d' ' -f1
}

ensure_jars() {
    local fingerprint
    fingerprint=$(cache_fingerprint)
    if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$fingerprint" ]] &&
        compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null; then
        return 0
    fi
    require_mvn
    log "resolving Kafka $KAFKA_VERSION and its runtime dependencies from Maven Central into $LIB_DIR (one-time download) ..."
    mkdir -p "$CACHE_DIR"
    rm -f "$STAMP_FILE"
    rm -rf "$LIB_DIR" "$LIB_DIR.tmp"
    cp "$SUPPORT_DIR/pom.xml" "$CACHE_DIR/pom.xml"
    if ! mvn -q -B -Dstyle.color=never -f "$CACHE_DIR/pom.xml" dependency:copy-dependencies \
        -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" \
        -DoutputDirectory="$LIB_DIR.tmp" -DincludeScope=runtime >&2; then
        rm -rf "$LIB_DIR.tmp"
        die 1 "could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central (see Maven output above); set REINTEGRA_KAFKA_VERSION to another 4.x version to try that one"
    fi
    mv "$LIB_DIR.tmp" "$LIB_DIR"
    printf '%s\n' "$fingerprint" >"$STAMP_FILE"
    log "Kafka $KAFKA_VERSION jars cached in $LIB_DIR"
}

# Run a Kafka main class (tools) with quiet logging.
run_class() {
    "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$SUPPORT_DIR/tools-log4j2.properties" \
        -cp "$LIB_DIR/*" "$@"
}

# ---------------------------------------------------------------- process state

# Ask the broker for its API versions (needs metadata + a live data-plane listener).
probe() {
    timeout 30 "$JAVA" -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$SUPPORT_DIR/tools-log4j2.properties" \
        -cp "$LIB_DIR/*" org.apache.kafka.tools.BrokerApiVersionsCommand \
        --bootstrap-server "$HOST:$PORT" "${client_config[@]}" >/dev/null 2>&1
}

answering() { port_open "$HOST" "$PORT" && probe; }

# Kafka's tools log in as admin on the sasl broker.
client_config=()
if [[ "$SECURITY" == sasl ]]; then
    client_config=(--command-config "$ADMIN_CONFIG_FILE")
fi

# ---------------------------------------------------------------- commands

# ---------------------------------------------------------------- sasl mode

# The super user's password: REINTEGRA_KAFKA_ADMIN_PASSWORD, or generated once into the state dir.
admin_password() {
    if [[ -n "${REINTEGRA_KAFKA_ADMIN_PASSWORD:-}" ]]; then
        printf '%s\n' "$REINTEGRA_KAFKA_ADMIN_PASSWORD"
        return 0
    fi
    if [[ ! -s "$ADMIN_PASSWORD_FILE" ]]; then
        mkdir -p "$STATE_DIR"
        (
            umask 077
            od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$ADMIN_PASSWORD_FILE"
        )
    fi
    cat "$ADMIN_PASSWORD_FILE"
    echo
}

require_sasl() {
    [[ "$SECURITY" == sasl ]] || die 2 "'$1' needs REINTEGRA_KAFKA_SECURITY=sasl"
}

write_admin_config() {
    local password
    password=$(admin_password)
    mkdir -p "$STATE_DIR"
    (
        umask 077
        cat >"$ADMIN_CONFIG_FILE" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$password";
EOF
    )
}

# Listeners: clients and the broker itself use SASL_PLAINTEXT with SCRAM-SHA-512; the KRaft controller
# listener uses SASL PLAIN (SCRAM credentials live in the metadata the controller serves, so they cannot
# authenticate the controller itself). Every connection is a named user; only admin is a super user.
sasl_listener_config() {
    local password
    password=$(admin_password)
    cat <<EOF
listeners=SASL_PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=SASL_PLAINTEXT://$HOST:$PORT
inter.broker.listener.name=SASL_PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$password" user_admin="$password";
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$password";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
auto.create.topics.enable=false
EOF
}

plaintext_listener_config() {
    cat <<EOF
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
auto.create.topics.enable=true
EOF
}

write_config() {
    local listeners
    if [[ "$SECURITY" == sasl ]]; then
        listeners=$(sasl_listener_config)
        write_admin_config
    else
        listeners=$(plaintext_listener_config)
    fi
    (
        umask 077 # the sasl config holds the admin password
        cat >"$CONF_FILE" <<EOF
# Generated by deploy/local/kafka.sh on every start -- edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
$listeners
log.dirs=$DATA_DIR
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    )
}

format_storage() {
    if [[ -f "$DATA_DIR/meta.properties" ]]; then
        return 0
    fi
    local cluster_id
    cluster_id=$(run_class kafka.tools.StorageTool random-uuid | tail -n 1)
    if ! [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]]; then
        die 1 "could not generate a cluster id (got '$cluster_id')"
    fi
    log "formatting storage in $DATA_DIR (cluster id $cluster_id, security $SECURITY)"
    mkdir -p "$DATA_DIR"
    local scram=()
    if [[ "$SECURITY" == sasl ]]; then
        # The super user exists from the first start; other users are added through the admin API.
        scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=$(admin_password)]")
    fi
    if ! run_class kafka.tools.StorageTool format -t "$cluster_id" -c "$CONF_FILE" "${scram[@]}" >>"$LOG_FILE" 2>&1; then
        log_tail "$LOG_FILE" 40
        die 1 "formatting $DATA_DIR failed"
    fi
}

do_start() {
    local pid
    require_java
    if [[ "$SECURITY" == sasl ]]; then
        write_admin_config # the probe logs in as admin
    fi
    if pid=$(find_pid "$PID_FILE" "$MARKER"); then
        if port_open "$HOST" "$PORT"; then
            log "already running (pid $pid) on $HOST:$PORT"
            return 0
        fi
        log "broker process $pid exists but $HOST:$PORT does not answer yet; waiting for it"
    else
        require_free_ports "$HOST" "REINTEGRA_KAFKA_PORT (the controller uses PORT+1)" "$PORT" "$CONTROLLER_PORT"
        ensure_jars
        mkdir -p "$STATE_DIR" "$DATA_DIR"
        write_config
        format_storage
        log "starting Kafka $KAFKA_VERSION ($SECURITY) on $HOST:$PORT (controller $HOST:$CONTROLLER_PORT), log: $LOG_FILE"
        # Word splitting of HEAP_OPTS is intended.
        # shellcheck disable=SC2086
        spawn "$PID_FILE" "$LOG_FILE" "$STATE_DIR" "$JAVA" $HEAP_OPTS \
            -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
            -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
            -Dkafka.logs.dir="$STATE_DIR" \
            -Dlog4j2.configurationFile="$SUPPORT_DIR/log4j2.properties" \
            -cp "$LIB_DIR/*" kafka.Kafka "$CONF_FILE"
        pid=$(<"$PID_FILE")
    fi

    wait_started "$pid" "$PID_FILE" "$LOG_FILE" 40 "$START_TIMEOUT" \
        "the broker exited during startup; see $LOG_FILE" \
        "the broker (pid $pid) did not answer on $HOST:$PORT within ${START_TIMEOUT}s; see $LOG_FILE (it is left running: '$0 stop' to stop it)" \
        answering
    log "running (pid $pid) on $HOST:$PORT"
}

do_stop() {
    stop_server "$PID_FILE" "$MARKER" broker "$STOP_TIMEOUT" "broker did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
}

do_status() {
    server_status "$PID_FILE" "$MARKER" "$HOST" "$PORT" " on $HOST:$PORT" ", $HOST:$PORT not answering yet"
}

do_topics() {
    require_java
    ensure_jars
    if [[ "$SECURITY" == sasl ]]; then
        write_admin_config
    fi
    run_class org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$PORT" "${client_config[@]}" "$@"
}

do_groups() {
    require_java
    ensure_jars
    if [[ "$SECURITY" == sasl ]]; then
        write_admin_config
    fi
    run_class org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$HOST:$PORT" \
        "${client_config[@]}" "$@"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    start) with_lock "$LOCK_FILE" do_start ;;
    stop) with_lock "$LOCK_FILE" do_stop ;;
    restart) with_lock "$LOCK_FILE" do_stop && with_lock "$LOCK_FILE" do_start ;;
    status) do_status ;;
    logs) show_log "$LOG_FILE" "$@" ;;
    bootstrap) echo "$HOST:$PORT" ;;
    topics) do_topics "$@" ;;
    groups) do_groups "$@" ;;
    admin-password) require_sasl admin-password && admin_password ;;
    admin-config) require_sasl admin-config && write_admin_config && echo "$ADMIN_CONFIG_FILE" ;;
    -h | --help | help) usage ;;
    *)
        usage
        exit 2
        ;;
esac
