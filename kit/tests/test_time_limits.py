"""Every test has a time limit by folder, so that a hang fails CI in seconds instead of stalling it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HANGING_TEST = """
import asyncio

async def test_waits_for_a_record_that_never_comes():
    await asyncio.sleep(3600)  # e.g. a consumer that never parks its poison message

def test_quick():
    assert 1 + 1 == 2
"""


def test_this_folder_has_a_short_limit(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None
    assert marker.args[0] <= 30


@pytest.mark.timeout(180)  # starts pytest in a subprocess: slow on a busy machine
def test_a_hanging_test_fails_at_its_folder_limit_and_the_session_goes_on(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.pytest.ini_options]
            asyncio_mode = "auto"
            timeout = 300
            timeouts = ["slow = 300", "fast = 2"]
            """
        )
    )
    (tmp_path / "fast").mkdir()
    (tmp_path / "fast" / "test_hang.py").write_text(HANGING_TEST)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "reintegra_kit.testing.pytest_plugin",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert result.returncode == 1, result.stdout[-2000:]
    assert "1 failed, 1 passed" in result.stdout
    assert "Timeout (>2.0s" in result.stdout


@pytest.mark.timeout(180)  # starts pytest in a subprocess
def test_a_malformed_limit_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntimeouts = ["fast: 2"]\n')
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "reintegra_kit.testing.pytest_plugin",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert "'fast: 2' is not '<folder> = <seconds>'" in result.stderr


SWALLOWING_TEST = """
import time

def test_swallows_the_timeout():
    while True:  # e.g. a retry loop that catches BaseException
        try:
            time.sleep(3600)
        except BaseException:
            pass
"""


@pytest.mark.timeout(180)  # starts pytest in a subprocess: slow on a busy machine
def test_a_test_that_swallows_its_timeout_ends_the_session_with_the_stacks(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntimeouts = [". = 2"]\n')
    (tmp_path / "test_swallow.py").write_text(SWALLOWING_TEST)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "reintegra_kit.testing.pytest_plugin",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert result.returncode != 0
    assert "Timeout (0:00:09)!" in result.stderr
    assert "test_swallows_the_timeout" in result.stderr
