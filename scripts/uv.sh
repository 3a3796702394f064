#!/usr/bin/env bash
# uv, wherever it is: the commands of the README work in a fresh shell even when uv is not on PATH
# (scripts/run.sh and scripts/test.sh install it into ~/.local/bin, which a fresh shell may not have).
#
#   bash scripts/uv.sh run pytest -m connected
#   bash scripts/uv.sh sync
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_uv >&2
exec "${UV[@]}" "$@"
