#!/usr/bin/env bash
# The performance benchmark of issue 8 (docs/performance.md). Never a test: figures depend on the machine.
#
#   bash scripts/bench.sh [--postgres] [--cases N] [--rate R --seconds S] [--replicas 2] [--help]
#
# Starts a private Kafka broker (127.0.0.1:19592, state in .local/bench/kafka; and a private PostgreSQL
# server on 55592 with --postgres), runs the bare aiokafka loop, the four services on SQLite (and on
# PostgreSQL), the bare loop again, and prints the table with each target met or not.
# REINTEGRA_BENCH_KAFKA_PORT / REINTEGRA_BENCH_PG_PORT choose other ports.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_uv
"${UV[@]}" sync --frozen --quiet
exec "${UV[@]}" run --frozen python -m bench "$@"
