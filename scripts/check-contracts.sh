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

step "JSON Schemas in sync and compatible (contracts/schemas/v1, the released snapshots, the target branch)"
# The target branch: REINTEGRA_CONTRACTS_BASE (a git revision), else where this branch left main.
base_schemas=()
base="${REINTEGRA_CONTRACTS_BASE:-}"
if [[ -z "$base" ]] && git rev-parse --git-dir >/dev/null 2>&1; then
  for candidate in main origin/main; do
    if git rev-parse --verify -q "$candidate" >/dev/null; then
      base="$(git merge-base HEAD "$candidate")"
      break
    fi
  done
fi
if [[ -n "$base" ]]; then
  base_dir="$(mktemp -d)"
  trap 'rm -rf "$base_dir"' EXIT
  if git cat-file -e "$base:contracts/schemas/v1" 2>/dev/null; then
    git archive "$base" contracts/schemas/v1 | tar -x -C "$base_dir"
    base_schemas=(--against "$base_dir/contracts/schemas/v1")
    echo "target branch: $base"
  fi
  # A released snapshot is never rewritten: only new release folders may appear.
  if git cat-file -e "$base:contracts/schemas/released" 2>/dev/null; then
    rewritten="$(git diff --name-only --diff-filter=MDR "$base" -- contracts/schemas/released)"
    if [[ -n "$rewritten" ]]; then
      echo "check-contracts: released snapshots were changed (they are written once, at a release):" >&2
      echo "$rewritten" >&2
      exit 1
    fi
  fi
else
  echo "no target branch (no git, or no main branch): comparing with the released snapshots only"
fi
"${UV[@]}" run --frozen python -m reintegra_contracts.tools.export_schemas --check --check-compat "${base_schemas[@]}"

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
  echo "check-contracts: no docs/asyncapi/*.json; run: bash scripts/uv.sh run python -m reintegra_kit.asyncapi" >&2
  exit 1
fi
npm ci --prefix tools/asyncapi-validate --no-audit --no-fund --loglevel=error
node tools/asyncapi-validate/validate.mjs "${documents[@]}"

step "contracts: all checks passed"
