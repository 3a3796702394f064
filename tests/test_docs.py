"""The documentation names what the code does."""

from __future__ import annotations

import importlib
import re
import typing
from pathlib import Path

from reintegra_kit.registry import discover
from reintegra_kit.settings import ENV_PREFIX, ServiceSettings

from . import runbook

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
            assert topic.replace("{agency}", "<agency>") in text, (
                f"{spec.path}/README.md does not name {topic}"
            )


# -- the runbook (docs/operations.md) ------------------------------------------------------------------

LAUNCHERS = ("bash scripts/", "bash deploy/local/", "bash deploy/helm/helm.sh")
"""How a command that runs Reintegra's code or Helm starts: scripts that find (or install) uv and Helm."""
OWN_CODE = re.compile(r"^(uv|uvx|python3?|pytest|helm|reintegra-|scripts/|deploy/)")
OPERATOR_TOOLS = ("kubectl ", "psql ", "pg_dump ", "pg_restore ", "curl ", "export ", "BACKUP_TIME=")
"""Commands of the operator's own tools (no uv needed), and shell assignments."""


def test_every_command_block_of_the_runbook_is_executed_rendered_or_says_why_not() -> None:
    found = runbook.blocks()
    assert len(found) >= 20
    unmarked = [b.line for b in found if b.kind == "unmarked"]
    assert unmarked == [], f"docs/operations.md: sh blocks without a runbook marker at lines {unmarked}"
    for block in found:
        if block.kind == "cluster":
            assert len(block.argument) >= 15, f"line {block.line}: say why it cannot run on a laptop"
        if block.kind == "render":
            assert all(c.startswith("bash deploy/helm/helm.sh upgrade --install ") for c in block.commands)
    used = {b.argument for b in found if b.kind == "run"}
    assert used == runbook.SCENARIOS, "tests/test_operations.py runs exactly the scenarios the runbook marks"
    assert any(b.kind == "render" for b in found)


def test_every_command_of_the_runbook_starts_with_a_launcher_or_an_operators_tool() -> None:
    for block in runbook.blocks():
        for command in block.commands:
            if block.kind == "cluster" and not OWN_CODE.match(command):
                continue  # kubectl, psql, curl … on the operator's workstation
            assert command.startswith(LAUNCHERS) or (
                block.kind != "cluster" and command.startswith(OPERATOR_TOOLS)
            ), f"docs/operations.md line {block.line}: {command!r} does not start with {LAUNCHERS}"
    # the prose too: commands in backticks that run Reintegra's code from a checkout
    prose = re.sub(r"```.*?```", "", runbook.RUNBOOK.read_text(encoding="utf-8"), flags=re.DOTALL)
    inline = [c for c in re.findall(r"`([^`\n]+)`", prose) if re.match(r"^(uv|bash|reintegra-stack) ", c)]
    assert inline
    assert [c for c in inline if not c.startswith(LAUNCHERS)] == []


def test_every_link_of_the_runbook_and_every_alert_point_to_a_section_that_exists() -> None:
    text = runbook.RUNBOOK.read_text(encoding="utf-8")
    sections = runbook.anchors(text)
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links, "the runbook links its own sections"
    assert sorted(links - sections) == []
    rule = (ROOT / "deploy" / "helm" / "reintegra" / "templates" / "prometheusrule.yaml").read_text()
    alerts = re.findall(r"- alert: (\w+)", rule)
    targets = re.findall(r'printf "%s#([\w-]+)" \$runbook', rule)
    assert len(alerts) == len(targets) == 5
    assert sorted(set(targets) - sections) == []
    for alert in alerts:
        assert f"`{alert}`" in text, f"the runbook does not say what {alert} means"
