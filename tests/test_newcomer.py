"""A newcomer's first stop: every command the README or the programs tell a person to type works in a
fresh shell on a fresh machine — where uv, installed by scripts/run.sh with ``pip install --user``,
sits in ``~/.local/bin``, which is not on that shell's PATH."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from reintegra_stack import cli, demo
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
LAUNCHERS = ("bash scripts/", "bash deploy/local/")
"""How every typed command starts: scripts that find (or install) what they need themselves."""

COMMAND_WORDS = (
    *("uv ", "uvx ", "python ", "python3 ", "pytest", "bash ", "scripts/"),
    *("reintegra-stack", "reintegra-deadletters", "deploy/local/kafka.sh", "deploy/local/postgres.sh"),
)


def _readme_commands(text: str) -> Iterator[str]:
    """Commands of the README: lines of ``sh`` blocks, and inline code that starts like a command."""
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        for line in block.splitlines():
            command = line.split(" #")[0].strip()
            if command:
                yield command
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    for code in re.findall(r"`([^`\n]+)`", prose):
        if code.startswith(COMMAND_WORDS):
            yield code


def _backticked(text: str) -> list[str]:
    return [c for c in re.findall(r"`([^`\n]+)`", text) if c.startswith(COMMAND_WORDS)]


def test_every_command_of_the_readme_starts_with_a_script_that_finds_uv() -> None:
    commands = list(_readme_commands((ROOT / "README.md").read_text(encoding="utf-8")))
    assert "bash scripts/run.sh down" in commands
    assert [c for c in commands if not c.startswith(LAUNCHERS)] == []


def test_every_command_the_programs_print_starts_with_a_script_that_finds_uv() -> None:
    console = Console(record=True, width=200)
    original, cli.console = cli.console, console
    try:
        cli._running_banner(stop_kafka=False)
    finally:
        cli.console = original
    banner = _backticked(console.export_text())
    unreachable = _backticked(str(demo._unreachable("reception", "http://x", OSError("refused"))))
    assert banner == [cli.STOP_COMMAND]
    assert unreachable == ["bash scripts/run.sh", "bash scripts/run.sh status"]
    # The hints the generators and gates print when something drifts.
    sources = [
        *ROOT.glob("stack/src/reintegra_stack/*.py"),
        *ROOT.glob("kit/src/reintegra_kit/**/*.py"),
        *ROOT.glob("contracts/src/reintegra_contracts/tools/*.py"),
        *ROOT.glob("scripts/*.sh"),
    ]
    hints = [
        (path.name, hint.strip())
        for path in sources
        for hint in re.findall(
            r"\brun: ((?:uv|bash|python|reintegra)[^\"'\n]*)", path.read_text(encoding="utf-8")
        )
    ]
    assert len(hints) >= 4
    assert [(name, hint) for name, hint in hints if not hint.startswith(LAUNCHERS)] == []


@pytest.fixture
def fresh_shell(tmp_path: Path) -> dict[str, str]:
    """The environment of a new login on a machine where scripts/run.sh installed uv with
    ``pip install --user``: uv in ~/.local/bin, which is not on PATH."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to stand in for the one pip installs"
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "uv").symlink_to(Path(uv).resolve())
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        # Only where uv keeps its downloads is shared with this machine, so the test runs offline.
        "UV_CACHE_DIR": subprocess.run(
            [uv, "cache", "dir"], capture_output=True, text=True, check=True
        ).stdout.strip(),
        # Nothing of this test may touch a broker someone else runs.
        "REINTEGRA_KAFKA_DIR": str(tmp_path / "kafka"),
    }
    probe = subprocess.run(["bash", "-c", "command -v uv"], env=env, capture_output=True, check=False)
    assert probe.returncode != 0, "uv must not be on the fresh shell's PATH"
    return env


def _type(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.timeout(300)
def test_the_printed_commands_work_in_a_fresh_shell_without_uv_on_path(fresh_shell: dict[str, str]) -> None:
    stopped = _type(cli.STOP_COMMAND, fresh_shell)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "stopping the services" in stopped.stdout
    helped = _type("bash scripts/run.sh --help", fresh_shell)
    assert helped.returncode == 0, helped.stdout + helped.stderr
    assert "--flight-size" in helped.stdout
    ran = _type("bash scripts/uv.sh run python -c 'import reintegra_kit, reintegra_stack'", fresh_shell)
    assert ran.returncode == 0, ran.stdout + ran.stderr
