"""Fixtures of the deployment tests: Helm (built once into the cache), the CRDs, rendered manifests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "reintegra"
PRODUCTION_VALUES = CHART / "values-production.yaml"
Render = Callable[..., list[dict[str, Any]]]


def script_output(script: str, *args: str, timeout: float = 1200) -> str:
    """The last line a deploy/ script prints (its progress goes to stderr)."""
    result = subprocess.run(
        ["bash", str(ROOT / script), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stderr}"
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.fixture(scope="session")
def helm() -> str:
    """A Helm 4 binary (deploy/helm/helm.sh: found, or built once into the cache)."""
    return script_output("deploy/helm/helm.sh", "path")


@pytest.fixture(scope="session")
def crds_dir() -> Path:
    """Folder with the Strimzi, KEDA and Prometheus Operator CRDs (deploy/helm/crds.sh)."""
    return Path(script_output("deploy/helm/crds.sh"))


def helm_run(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def render_text(helm: str) -> Callable[..., str]:
    """``render_text(*helm_args)``: the manifests of ``helm template`` as text (fails on an error)."""

    def render(*args: str) -> str:
        result = helm_run(helm, "template", "reintegra", str(CHART), "--namespace", "reintegra", *args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    return render


@pytest.fixture(scope="session")
def render(render_text: Callable[..., str]) -> Render:
    """``render(*helm_args)``: the manifests of ``helm template`` as a list of objects."""

    def parse(*args: str) -> list[dict[str, Any]]:
        return [doc for doc in yaml.safe_load_all(render_text(*args)) if doc]

    return parse


@pytest.fixture(scope="session")
def default_manifests(render: Render) -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="session")
def production_manifests(render: Render) -> list[dict[str, Any]]:
    return render("-f", str(PRODUCTION_VALUES))
