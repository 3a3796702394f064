#!/usr/bin/env bash
# The published-language checks CI runs: JSON Schemas in sync and compatible, docs/events.md in sync,
# the services' AsyncAPI documents in sync with their FastStream brokers, and those documents valid
# according to the official AsyncAPI parser (@asyncapi/parser, Node.js).
#
#   bash scripts/check-contracts.sh
#
# Needs uv, node and npm; fails (does not skip) when node or npm is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_uv

step "JSON Schemas in sync and compatible (contracts/schemas/v1)"
"${UV[@]}" run --frozen python -m reintegra_contracts.tools.export_schemas --check --check-compat

step "event catalogue in sync (docs/events.md)"
"${UV[@]}" run --frozen python -m reintegra_contracts.tools.gen_docs --check

step "AsyncAPI documents in sync with the services (docs/asyncapi/*.json)"
"${UV[@]}" run --frozen python -m reintegra_kit.asyncapi --check

step "AsyncAPI documents valid (@asyncapi/parser)"
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "check-contracts: '$tool' not found; install Node.js >= 18 with npm to validate docs/asyncapi" >&2
    exit 1
  fi
done
shopt -s nullglob
documents=(docs/asyncapi/*.json)
if ((${#documents[@]} == 0)); then
  echo "check-contracts: no docs/asyncapi/*.json; run: uv run python -m reintegra_kit.asyncapi" >&2
  exit 1
fi
npm ci --prefix tools/asyncapi-validate --no-audit --no-fund --loglevel=error
node tools/asyncapi-validate/validate.mjs "${documents[@]}"

step "contracts: all checks passed"
