"""Every service is declared once (its service.toml); everything that lists services follows from it."""

from __future__ import annotations

import importlib
import re
import tomllib
import typing
from pathlib import Path

import pytest
from reintegra_contracts import all_event_classes
from reintegra_kit.registry import ServiceSpec, discover
from reintegra_kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
SPECS = discover(ROOT)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_registry_holds_the_four_services_of_the_continuum_in_start_order() -> None:
    assert [s.name for s in SPECS] == ["reception", "assessment", "referral", "followup"]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_root_pyproject_lists_every_service_of_the_registry(spec: ServiceSpec) -> None:
    assert spec.distribution in PYPROJECT["project"]["dependencies"]
    assert PYPROJECT["tool"]["uv"]["sources"][spec.distribution] == {"workspace": True}
    mypy = PYPROJECT["tool"]["mypy"]
    assert f"{spec.path}/src" in mypy["mypy_path"] and f"{spec.path}/src" in mypy["files"]
    linter = PYPROJECT["tool"]["importlinter"]
    assert spec.module in linter["root_packages"]
    [independence] = [c for c in linter["contracts"] if c["type"] == "independence"]
    assert spec.module in independence["modules"]
    forbidden = [c for c in linter["contracts"] if c["type"] == "forbidden"]
    assert all(spec.module in c["forbidden_modules"] for c in forbidden if c["source_modules"] != ["reintegra_contracts"])


def test_the_root_pyproject_lists_no_service_the_registry_does_not_know() -> None:
    declared = {s.module for s in SPECS}
    [independence] = [c for c in PYPROJECT["tool"]["importlinter"]["contracts"] if c["type"] == "independence"]
    assert set(independence["modules"]) == declared
    listed = {d for d in PYPROJECT["project"]["dependencies"] if re.fullmatch(r"reintegra-[a-z]+", d)}
    assert listed - {"reintegra-contracts", "reintegra-kit", "reintegra-stack"} == {s.distribution for s in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_each_service_follows_the_conventions_the_registry_relies_on(spec: ServiceSpec) -> None:
    package = ROOT / spec.path / "pyproject.toml"
    assert tomllib.loads(package.read_text())["project"]["name"] == spec.distribution
    bootstrap = importlib.import_module(f"{spec.module}.bootstrap")
    assert bootstrap.SPEC.name == spec.name and bootstrap.MIGRATIONS.is_dir()
    settings_class = typing.get_type_hints(bootstrap.build)["settings"]
    assert issubclass(settings_class, ServiceSettings)
    assert settings_class.model_fields["service_name"].default == spec.name
    assert settings_class.model_fields["http_port"].default == spec.port
    assert (ROOT / spec.path / "README.md").is_file()
    assert list((ROOT / spec.path / "tests").glob("test_*.py"))


def test_every_catalogued_producer_is_a_registered_service_or_the_agencies() -> None:
    names = {s.name for s in SPECS}
    assert {e.producer for e in all_event_classes()} <= names | {"agency systems"}


def test_each_service_emits_only_events_the_catalogue_says_it_produces() -> None:
    by_type = {e.event_type: e for e in all_event_classes()}
    for spec in SPECS:
        assert {by_type[t].producer for t in spec.emitted_types} <= {spec.name}, spec.name


def test_adding_a_service_lists_only_steps_this_file_checks() -> None:
    """docs/adding-a-service.md names files per service with ``<name>``; each exists for every service."""
    text = (ROOT / "docs" / "adding-a-service.md").read_text()
    templates = set(re.findall(r"`(services/<name>/[^`]+)`", text))
    assert templates, "the checklist names no per-service file"
    for spec in SPECS:
        for template in templates:
            path = ROOT / template.replace("<name>", spec.name)
            assert path.exists(), f"{template} is in the checklist but {path} does not exist"
