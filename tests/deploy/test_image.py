"""The container image builds from uv.lock with buildah (no Docker daemon) and runs as promised: non-root,
on a read-only root file system with only /tmp writable, no build tools, a working health check, and the
service chosen by REINTEGRA_SERVICE (serve, or migrate and exit)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from reintegra_kit.testing.auth import TestIssuer

from .conftest import ROOT, script_output

pytestmark = pytest.mark.image

CACHE = Path(os.environ.get("REINTEGRA_CACHE_DIR", Path.home() / ".cache" / "reintegra"))
BUILDAH = [
    "buildah",
    "--root",
    str(CACHE / "containers" / "storage"),
    "--runroot",
    str(CACHE / "containers" / "run"),
    "--storage-driver",
    "overlay",
]
TAG = "localhost/reintegra:test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def buildah(*args: str) -> str:
    result = subprocess.run([*BUILDAH, *args], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def image() -> str:
    """The image, built by deploy/docker/build.sh on a base made from Debian packages (no registry)."""
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (apt-get install -y buildah mmdebstrap; .ci/run installs it)")
    script_output("deploy/docker/build.sh", "--stand-in-base", "--tag", TAG, timeout=1800)
    return TAG


@pytest.fixture(scope="module")
def config(image: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(buildah("inspect", "--type", "image", image))["Docker"]["config"]
    return config


@pytest.fixture(scope="module")
def rootfs(image: str) -> Iterator[Path]:
    """The image's file system, mounted (read-write here; each run below remounts it read-only)."""
    container = buildah("from", "--pull-never", image)
    try:
        yield Path(buildah("mount", container))
    finally:
        buildah("umount", container)
        buildah("rm", container)


def image_env(config: dict[str, Any], **extra: str) -> dict[str, str]:
    env = dict(item.split("=", 1) for item in config["Env"])
    return {**env, **extra}


def run_read_only(
    rootfs: Path, config: dict[str, Any], argv: list[str], env: dict[str, str]
) -> subprocess.Popen[str]:
    """Run ``argv`` in the image as its user, on a read-only bind of its root with a tmpfs /tmp, in a
    mount namespace of its own (the way Kubernetes runs it with readOnlyRootFilesystem and an emptyDir)."""
    user = config["User"]
    script = (
        'set -e; root="$1"; user="$2"; shift 2; '
        'mount --bind "$root" "$root"; mount -o remount,bind,ro "$root"; '
        'mount -t tmpfs -o size=64m,mode=1777 tmpfs "$root/tmp"; mount -t proc proc "$root/proc"; '
        'mount --rbind /dev "$root/dev"; '
        'cd "$root"; exec chroot --userspec="$user" "$root" "$@"'
    )
    return subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            str(rootfs),
            user,
            *argv,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        ["hadolint", str(ROOT / "deploy" / "docker" / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_installs_every_service() -> None:
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    services = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())
    listed = dockerfile.split('ARG SERVICES="', 1)[1].split('"', 1)[0].split()
    assert sorted(listed) == services


def test_the_image_runs_as_a_non_root_user_with_a_health_check(config: dict[str, Any]) -> None:
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/usr/local/bin/reintegra-entrypoint"]
    assert config["Cmd"] == ["serve"]
    assert "8080/tcp" in config["ExposedPorts"]
    assert "/livez" in " ".join(config["Healthcheck"]["Test"])


def test_the_final_stage_holds_no_build_tools_or_caches(rootfs: Path) -> None:
    for tool in ("uv", "pip", "pip3", "gcc", "cc", "make"):
        for folder in ("app/.venv/bin", "usr/local/bin", "usr/bin"):
            assert not (rootfs / folder / tool).exists(), f"/{folder}/{tool} is in the image"
    assert not (rootfs / "opt" / "uv").exists()
    assert not (rootfs / "src").exists()
    assert not (rootfs / "root" / ".cache").exists()
    packages = rootfs / "app" / ".venv" / "lib" / "python3.11" / "site-packages"
    assert (packages / "reintegra_kit" / "__pycache__").is_dir()  # bytecode compiled at build time
    assert not list(packages.glob("__editable__*"))  # the workspace packages are wheels, not links to /src


def test_nothing_outside_tmp_is_writable_by_the_service_user(rootfs: Path, config: dict[str, Any]) -> None:
    uid = int(config["User"].split(":")[0])
    mounted_at_run_time = {"tmp", "var", "proc", "dev", "run", "sys"}
    writable = []
    for folder, dirs, files in os.walk(rootfs):
        if Path(folder) == rootfs:
            dirs[:] = [d for d in dirs if d not in mounted_at_run_time]
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            if path.is_symlink():
                continue
            if info.st_uid == uid or info.st_mode & 0o002:
                writable.append(str(path.relative_to(rootfs)))
    assert writable == []


def test_migrate_mode_migrates_and_exits_on_a_read_only_root(rootfs: Path, config: dict[str, Any]) -> None:
    env = image_env(config, REINTEGRA_SERVICE="referral")
    code, out = finish(run_read_only(rootfs, config, ["/usr/local/bin/reintegra-entrypoint", "migrate"], env))
    assert code == 0, out
    assert "referral database at head (sqlite+aiosqlite:////tmp/reintegra/referral.db)" in out


def test_without_a_service_the_entrypoint_says_what_to_set(rootfs: Path, config: dict[str, Any]) -> None:
    code, out = finish(
        run_read_only(rootfs, config, ["/usr/local/bin/reintegra-entrypoint"], image_env(config))
    )
    assert code == 2
    assert "set REINTEGRA_SERVICE" in out


@pytest.mark.connected
def test_a_service_serves_and_passes_its_health_check_on_a_read_only_root(
    rootfs: Path, config: dict[str, Any], kafka_bootstrap: str, topic_prefix: str, auth: TestIssuer
) -> None:
    port = str(free_port())
    env = image_env(
        config,
        **auth.env(),  # a service serves only with an identity provider to trust
        REINTEGRA_SERVICE="reception",
        REINTEGRA_HTTP_PORT=port,
        REINTEGRA_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        REINTEGRA_TOPIC_PREFIX=f"{topic_prefix}image.",
        REINTEGRA_KEY_ENCRYPTION_KEY=base64.b64encode(os.urandom(32)).decode(),
        REINTEGRA_BLIND_INDEX_SECRET=base64.b64encode(os.urandom(32)).decode(),
    )
    service = run_read_only(rootfs, config, ["/usr/local/bin/reintegra-entrypoint"], env)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert service.poll() is None, service.communicate()[0]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not become ready"
            time.sleep(0.5)
        healthcheck = config["Healthcheck"]["Test"][1:]  # ["CMD", argv...]
        code, out = finish(run_read_only(rootfs, config, healthcheck, env), timeout=30)
        assert code == 0, out
    finally:
        service.terminate()
        code, out = finish(service, timeout=60)
    assert code == 0, out  # a graceful stop on SIGTERM
