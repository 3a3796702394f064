#!/usr/bin/env bash
# Helm 4 for the chart tests and for operators without it: a helm of the pinned minor version found on
# PATH, or one built once from the Go module proxy (`go install helm.sh/helm/v4/cmd/helm@VERSION`,
# ~3-6 minutes on 2 cores) into the cache, then reused.
#
# Usage: deploy/helm/helm.sh path        print the helm binary's path (building it if needed)
#        deploy/helm/helm.sh ARGS...     run helm ARGS...
#
# Environment:
#   REINTEGRA_HELM           a helm binary to use as it is
#   REINTEGRA_HELM_VERSION   version to build (default v4.3.1); a helm on PATH is used if it is v4.3.x
#   REINTEGRA_CACHE_DIR      cache root (default ~/.cache/reintegra); binary in <root>/helm-<version>/helm
set -euo pipefail

HELM_VERSION="${REINTEGRA_HELM_VERSION:-v4.3.1}"
CACHE_ROOT="${REINTEGRA_CACHE_DIR:-$HOME/.cache/reintegra}"
BIN_DIR="$CACHE_ROOT/helm-${HELM_VERSION#v}"

log() { printf 'helm.sh: %s\n' "$*" >&2; }

minor() { # v4.3.1 -> v4.3
    local v=$1
    printf '%s\n' "${v%.*}"
}

usable() { # a helm binary whose version is of the pinned minor release
    local bin=$1 version
    [[ -x "$bin" ]] || return 1
    version=$("$bin" version --template '{{.Version}}' 2>/dev/null) || return 1
    [[ "$version" == "$(minor "$HELM_VERSION")" || "$version" == "$(minor "$HELM_VERSION")".* ]]
}

build() {
    if ! command -v go >/dev/null 2>&1; then
        log "go is required to build helm $HELM_VERSION (none found); install Go 1.24+ or put helm 4 on PATH"
        exit 2
    fi
    mkdir -p "$CACHE_ROOT"
    exec 9>"$CACHE_ROOT/.helm.lock"
    flock -w 900 9 || {
        log "another build holds $CACHE_ROOT/.helm.lock"
        exit 1
    }
    if usable "$BIN_DIR/helm"; then
        return 0
    fi
    log "building helm $HELM_VERSION with go install into $BIN_DIR (once; a few minutes) ..."
    local start=$SECONDS tmp="$BIN_DIR.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    GOBIN="$tmp" GOFLAGS=-trimpath go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2
    rm -rf "$BIN_DIR"
    mv "$tmp" "$BIN_DIR"
    log "helm $HELM_VERSION built in $((SECONDS - start)) s: $BIN_DIR/helm"
}

find_helm() {
    if [[ -n "${REINTEGRA_HELM:-}" ]]; then
        printf '%s\n' "$REINTEGRA_HELM"
        return 0
    fi
    local candidate
    candidate=$(command -v helm 2>/dev/null || true)
    if [[ -n "$candidate" ]] && usable "$candidate"; then
        printf '%s\n' "$candidate"
        return 0
    fi
    usable "$BIN_DIR/helm" || build
    printf '%s\n' "$BIN_DIR/helm"
}

if [[ "${1:-}" == "path" ]]; then
    find_helm
    exit 0
fi
exec "$(find_helm)" "$@"
