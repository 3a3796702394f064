#!/usr/bin/env bash
# Builds the Reintegra image with buildah, without a Docker daemon (chroot isolation, rootful).
#
# Usage: deploy/docker/build.sh [--tag NAME] [--base IMAGE | --stand-in-base]
#   --tag NAME        image name (default localhost/reintegra:dev)
#   --base IMAGE      the Python 3.11 base image (default: the Dockerfile's, python:3.11-slim-bookworm)
#   --stand-in-base   build the base from Debian packages instead (mmdebstrap: Debian 12 with its
#                     python3.11), for machines that reach Debian's mirror but no container registry,
#                     such as the CI machines; cached as a tarball and imported once
# Prints the image id on the last line.
#
# Environment: REINTEGRA_CACHE_DIR (default ~/.cache/reintegra): buildah storage in <root>/containers,
# stand-in base tarball in <root>/image-base/. REINTEGRA_BUILD_CA_BUNDLE (default: the host's
# /etc/ssl/certs/ca-certificates.crt, if present) is passed as the build secret "ca-certificates", so
# that pip and uv trust the same certificate authorities as this machine (a TLS-inspecting proxy).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd)
CACHE_ROOT="${REINTEGRA_CACHE_DIR:-$HOME/.cache/reintegra}"
STAND_IN_IMAGE=localhost/reintegra-stand-in-python:3.11-bookworm
STAND_IN_PACKAGES=python3.11,python3.11-venv,ca-certificates
TAG=localhost/reintegra:dev
BASE=""
STAND_IN=0

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() {
    log "$*"
    exit "${2:-1}"
}

while (($#)); do
    case "$1" in
        --tag) TAG=${2:?--tag needs a name}; shift 2 ;;
        --base) BASE=${2:?--base needs an image}; shift 2 ;;
        --stand-in-base) STAND_IN=1; shift ;;
        -h | --help) sed -n '2,14p' "$0" >&2; exit 0 ;;
        *) die "unknown argument $1 (see --help)" 2 ;;
    esac
done

command -v buildah >/dev/null 2>&1 || die "buildah is required: apt-get install -y buildah" 2
BUILDAH=(buildah --root "$CACHE_ROOT/containers/storage" --runroot "$CACHE_ROOT/containers/run" --storage-driver overlay)
export BUILDAH_ISOLATION=chroot

stand_in_base() {
    local dir="$CACHE_ROOT/image-base" tarball fingerprint
    fingerprint=$(printf 'bookworm %s\n' "$STAND_IN_PACKAGES" | sha256sum | cut -c1-12)
    tarball="$dir/bookworm-python3.11-$fingerprint.tar"
    if ! "${BUILDAH[@]}" inspect --type image "$STAND_IN_IMAGE-$fingerprint" >/dev/null 2>&1; then
        if [[ ! -f "$tarball" ]]; then
            command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap is required for --stand-in-base: apt-get install -y mmdebstrap" 2
            log "building a Debian 12 + python3.11 base with mmdebstrap (once) ..."
            mkdir -p "$dir"
            mmdebstrap --quiet --variant=minbase --include="$STAND_IN_PACKAGES" \
                --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
                --dpkgopt='path-exclude=/usr/share/locale/*' \
                --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
                bookworm "$tarball.tmp" >&2
            mv "$tarball.tmp" "$tarball"
        fi
        local ctr
        ctr=$("${BUILDAH[@]}" from scratch)
        "${BUILDAH[@]}" add "$ctr" "$tarball" / >/dev/null
        "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/sh "$ctr"
        "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$STAND_IN_IMAGE-$fingerprint" >/dev/null
    fi
    printf '%s\n' "$STAND_IN_IMAGE-$fingerprint"
}

args=()
CA_BUNDLE="${REINTEGRA_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
if [[ -f "$CA_BUNDLE" ]]; then
    args+=(--secret "id=ca-certificates,src=$CA_BUNDLE")
fi
if ((STAND_IN)); then
    BASE=$(stand_in_base)
fi
if [[ -n "$BASE" ]]; then
    args+=(--build-arg "PYTHON_IMAGE=$BASE")
fi
mkdir -p "$CACHE_ROOT/containers"
log "building $TAG${BASE:+ on $BASE} ..."
"${BUILDAH[@]}" build --quiet --format docker --layers --isolation chroot --pull=never "${args[@]}" \
    -f "$REPO_ROOT/deploy/docker/Dockerfile" -t "$TAG" "$REPO_ROOT" >&2
"${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
"${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$TAG"
