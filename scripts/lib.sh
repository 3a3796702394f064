#!/usr/bin/env bash
# Shared helpers of scripts/*.sh.

step() { printf '\n==> %s\n' "$*"; }

# Sets UV to a command that runs uv: on PATH, in ~/.local/bin (where `pip install --user` puts it, often
# not on PATH in a fresh shell), or as `python3 -m uv`. Returns 1 if there is none.
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

# Sets UV (see find_uv), installing uv from PyPI with pip if it is missing.
ensure_uv() {
  if ! find_uv; then
    step "installing uv (python3 -m pip install --user uv)" >&2
    # Debian marks its Python "externally managed" (PEP 668); a --user install does not touch it.
    python3 -m pip install --quiet --disable-pip-version-check --user uv 2>/dev/null \
      || python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages uv \
      || python3 -m pip install --quiet --disable-pip-version-check uv \
      || { echo "could not install uv; see https://docs.astral.sh/uv/getting-started/installation/" >&2; return 1; }
    find_uv || { echo "uv was installed but cannot be found (not on PATH, not in ~/.local/bin)" >&2; return 1; }
  fi
  # uv (and uvx) found outside PATH: put its folder on PATH for the commands run from here, e.g. the
  # tests' `uv run --project deploy/tools checkov` and the benchmark's `uvx py-spy`
  if [[ "${UV[0]}" == */* ]]; then
    export PATH="${UV[0]%/*}:$PATH"
  fi
  export UV_PYTHON_DOWNLOADS=never
}

# Deployment test tools, cached under ${REINTEGRA_CACHE_DIR:-~/.cache/reintegra} so that only the first
# run on a machine pays for them: Helm 4 (built once with `go install`, ~3-6 min), the tools venv of
# deploy/tools (checkov, a JDK for Strimzi's CRD generator) and the operators' CRDs (deploy/helm/crds.sh).
ensure_deploy_tools() {
  local helm
  helm="$(bash deploy/helm/helm.sh path)"
  echo "helm: $helm ($("$helm" version --template '{{.Version}}'))"
  "${UV[@]}" sync --frozen --quiet --project deploy/tools
  echo "CRDs: $(bash deploy/helm/crds.sh)"
}

# Starts the local tracing backend (deploy/local/jaeger.sh; the first start builds Jaeger, see
# docs/adr/0020-tracing-backend.md) unless REINTEGRA_TEST_OTLP_ENDPOINT and REINTEGRA_TEST_TRACES_URL
# are both set, and exports
# REINTEGRA_TEST_OTLP_ENDPOINT (OTLP/HTTP) and REINTEGRA_TEST_TRACES_URL (query API) for the tests.
ensure_tracing_backend() {
  if [[ -z "${REINTEGRA_TEST_OTLP_ENDPOINT:-}" || -z "${REINTEGRA_TEST_TRACES_URL:-}" ]]; then
    bash deploy/local/jaeger.sh start
    REINTEGRA_TEST_OTLP_ENDPOINT="$(bash deploy/local/jaeger.sh otlp-endpoint)"
    REINTEGRA_TEST_TRACES_URL="$(bash deploy/local/jaeger.sh url)"
  fi
  export REINTEGRA_TEST_OTLP_ENDPOINT REINTEGRA_TEST_TRACES_URL
}
