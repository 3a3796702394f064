#!/usr/bin/env bash
# Run Reintegra on this machine: Kafka + the four services, then a synthetic charter flight.
#
#   bash scripts/run.sh                 # 120 returnees, seed 2026, runs until Ctrl-C
#   bash scripts/run.sh --flight-size 20 --detach
#   bash scripts/run.sh --help          # all options of `reintegra-stack up`
#
# Works on a fresh Debian machine: installs uv if it is missing (and, as root, the Java runtime and
# Maven that deploy/local/kafka.sh needs), syncs the locked environment, then hands over to
# `uv run reintegra-stack up "$@"`. Set REINTEGRA_KAFKA_BOOTSTRAP_SERVERS to use your own broker.
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

say() { printf 'run: %s\n' "$*" >&2; }

find_uv() {
    if command -v uv >/dev/null 2>&1; then
        UV=(uv)
    elif [[ -x "$HOME/.local/bin/uv" ]]; then
        UV=("$HOME/.local/bin/uv")
    elif command -v python3 >/dev/null 2>&1 && python3 -m uv --version >/dev/null 2>&1; then
        UV=(python3 -m uv)
    else
        return 1
    fi
}

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
    say "installing uv with pip ..."
    # Debian marks its Python "externally managed" (PEP 668); a --user install does not touch it.
    python3 -m pip install --user --quiet uv ||
        python3 -m pip install --user --quiet --break-system-packages uv ||
        pip install --quiet uv ||
        { say "could not install uv; see https://docs.astral.sh/uv/getting-started/installation/"; exit 1; }
    find_uv || { say "uv was installed but cannot be found (not on PATH, python3 -m uv fails)"; exit 1; }
fi
say "using ${UV[*]} ($("${UV[@]}" --version))"

# deploy/local/kafka.sh needs java >= 17 (and mvn for the one-time download of the broker's jars).
if [[ -z "${REINTEGRA_KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    missing=()
    command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
    if ! compgen -G "${REINTEGRA_CACHE_DIR:-$HOME/.cache/reintegra}/kafka-*/libs/kafka_2.13-*.jar" >/dev/null; then
        command -v mvn >/dev/null 2>&1 || missing+=(maven)
    fi
    if ((${#missing[@]})); then
        apt_install "${missing[@]}" || say "missing ${missing[*]}: deploy/local/kafka.sh will say what to install"
    fi
fi

"${UV[@]}" sync --frozen
exec "${UV[@]}" run --frozen reintegra-stack up "$@"
