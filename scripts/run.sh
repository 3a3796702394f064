#!/usr/bin/env bash
# Run Reintegra on this machine: Kafka + the four services, then a synthetic charter flight.
#
#   bash scripts/run.sh                 # 120 returnees, seed 2026, runs until Ctrl-C
#   bash scripts/run.sh --flight-size 20 --detach
#   bash scripts/run.sh --traces        # also Jaeger (deploy/local/jaeger.sh); prints a demo case's trace link
#   bash scripts/run.sh --help          # all options of `reintegra-stack up`
#   bash scripts/run.sh down            # stop what it started (from any shell)
#   bash scripts/run.sh status          # readiness of each service and of Kafka
#   bash scripts/run.sh demo            # play the flight again against the running platform
#
# Works on a fresh Debian machine: installs uv if it is missing (and, as root, the Java runtime and
# Maven that deploy/local/kafka.sh needs), syncs the locked environment, then hands over to
# `reintegra-stack up "$@"` (or `reintegra-stack down|status|demo ...`). It finds uv where it installed
# it (~/.local/bin) even when that is not on PATH, so every command it prints works in a fresh shell.
# Set REINTEGRA_KAFKA_BOOTSTRAP_SERVERS to use your own broker.
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

say() { printf 'run: %s\n' "$*" >&2; }

case "${1:-}" in
    up | down | status | demo) command=("$@") ;;
    *) command=(up "$@") ;;
esac

apt_install() {
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "installing $* with apt-get ..."
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        return 1
    fi
}

if ! find_uv; then
    command -v python3 >/dev/null 2>&1 || apt_install python3 ||
        { say "python3 is required; install it first"; exit 1; }
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip || true
fi
ensure_uv || exit 1
say "using ${UV[*]} ($("${UV[@]}" --version))"

# deploy/local/kafka.sh needs java >= 17 (and mvn for the one-time download of the broker's jars).
if [[ "${command[0]}" == up && -z "${REINTEGRA_KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    missing=()
    command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
    if ! compgen -G "${REINTEGRA_CACHE_DIR:-$HOME/.cache/reintegra}/kafka-*/libs/kafka_2.13-*.jar" >/dev/null; then
        command -v mvn >/dev/null 2>&1 || missing+=(maven)
    fi
    if ((${#missing[@]})); then
        apt_install "${missing[@]}" || say "missing ${missing[*]}: deploy/local/kafka.sh will say what to install"
    fi
fi

"${UV[@]}" sync --frozen --quiet
exec "${UV[@]}" run --frozen reintegra-stack "${command[@]}"
