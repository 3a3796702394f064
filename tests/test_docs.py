"""The documentation names what the code does."""

from __future__ import annotations

from pathlib import Path

import importlib
import typing

from reintegra_kit.registry import discover
from reintegra_kit.settings import ENV_PREFIX, ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
SPECS = discover(ROOT)


def settings_classes() -> list[type[ServiceSettings]]:
    """Each registered service's settings class (from its ``bootstrap.build`` signature)."""
    return [
        typing.get_type_hints(importlib.import_module(f"{spec.module}.bootstrap").build)["settings"]
        for spec in SPECS
    ]


def test_the_readme_documents_every_setting_of_every_service() -> None:
    readme = (ROOT / "README.md").read_text()
    for cls in settings_classes():
        for name in cls.model_fields:
            assert f"`{ENV_PREFIX}{name.upper()}`" in readme, f"README lacks {ENV_PREFIX}{name.upper()}"


def test_the_readme_keeps_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = [block.split("```", 1)[0].strip() for block in setup.split("```sh\n")[1:]]
    assert commands == ["bash scripts/run.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_every_service_has_a_readme_naming_the_topics_it_consumes_and_produces() -> None:
    for spec in SPECS:
        text = (ROOT / spec.path / "README.md").read_text()
        for topic in [*spec.produces, *spec.consumes]:
            assert topic.replace("{agency}", "<agency>") in text, f"{spec.path}/README.md does not name {topic}"
