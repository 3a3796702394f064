#!/usr/bin/env bash
# The whole test suite against a real Apache Kafka broker and a real PostgreSQL server.
#
#   bash scripts/test.sh [pytest args...]
#
# Installs what is missing (uv, the locked Python packages; PostgreSQL through apt when run as root;
# the Kafka jars from Maven Central; Helm and Jaeger built once from the Go module proxy), starts the
# local broker, database and tracing backend (deploy/local/), then runs
# the static checks (ruff, mypy, import-linter, contract drift and compatibility, AsyncAPI validation)
# and pytest. Set REINTEGRA_TEST_KAFKA_BOOTSTRAP / REINTEGRA_TEST_PG_URL / REINTEGRA_TEST_OTLP_ENDPOINT and
# REINTEGRA_TEST_TRACES_URL to use servers of your own.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_uv
step "python packages (uv sync --frozen)"
"${UV[@]}" sync --frozen --quiet

if [[ -z "${REINTEGRA_TEST_KAFKA_BOOTSTRAP:-}" ]]; then
  step "kafka (deploy/local/kafka.sh start)"
  bash deploy/local/kafka.sh start
  REINTEGRA_TEST_KAFKA_BOOTSTRAP="$(bash deploy/local/kafka.sh bootstrap)"
  export REINTEGRA_TEST_KAFKA_BOOTSTRAP
fi
if [[ -z "${REINTEGRA_TEST_PG_URL:-}" ]]; then
  step "postgresql (deploy/local/postgres.sh start)"
  bash deploy/local/postgres.sh start
  REINTEGRA_TEST_PG_URL="$(bash deploy/local/postgres.sh url)"
  export REINTEGRA_TEST_PG_URL
fi
if [[ -z "${REINTEGRA_TEST_OTLP_ENDPOINT:-}" || -z "${REINTEGRA_TEST_TRACES_URL:-}" ]]; then
  step "tracing backend (deploy/local/jaeger.sh start)"
fi
ensure_tracing_backend
echo "kafka: ${REINTEGRA_TEST_KAFKA_BOOTSTRAP}  postgresql: ${REINTEGRA_TEST_PG_URL%%@*}@${REINTEGRA_TEST_PG_URL##*@}"
echo "traces: OTLP ${REINTEGRA_TEST_OTLP_ENDPOINT}, query ${REINTEGRA_TEST_TRACES_URL}"
step "deployment tools (helm, checkov, CRD schemas)"
ensure_deploy_tools

step "lint (ruff)"
"${UV[@]}" run --frozen ruff check --output-format concise .
"${UV[@]}" run --frozen ruff format --check .
step "types (mypy)"
"${UV[@]}" run --frozen mypy
step "architecture (import-linter: services never import each other)"
"${UV[@]}" run --frozen lint-imports --no-cache
if [[ -f scripts/check-contracts.sh ]]; then
  step "contracts (schemas, compatibility, docs, AsyncAPI)"
  bash scripts/check-contracts.sh
fi

step "tests (pytest: unit, contracts, real Kafka + PostgreSQL + service processes)"
exec "${UV[@]}" run --frozen pytest "$@"
