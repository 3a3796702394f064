#!/usr/bin/env bash
# Shared helpers of scripts/*.sh.

step() { printf '\n==> %s\n' "$*"; }

# Sets UV to a command that runs uv, installing it from PyPI if it is missing.
ensure_uv() {
  if command -v uv >/dev/null 2>&1; then
    UV=(uv)
  elif python3 -m uv --version >/dev/null 2>&1; then
    UV=(python3 -m uv)
  else
    step "installing uv (python3 -m pip install uv)"
    python3 -m pip install --quiet --disable-pip-version-check uv 2>/dev/null \
      || python3 -m pip install --quiet --disable-pip-version-check --user uv \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages uv
    if command -v uv >/dev/null 2>&1; then UV=(uv); else UV=(python3 -m uv); fi
  fi
  export UV_PYTHON_DOWNLOADS=never
}
