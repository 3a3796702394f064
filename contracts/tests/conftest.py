"""Shared fixtures of the contracts tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from reintegra_contracts import Event
from reintegra_contracts.samples import all_examples

CONTRACTS_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def examples() -> dict[str, Event]:
    return all_examples()
