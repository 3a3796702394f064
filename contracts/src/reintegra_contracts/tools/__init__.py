"""Generators and gates for the published language: JSON Schema export, compatibility check, docs.

* ``python -m reintegra_contracts.tools.export_schemas [--check] [--check-compat]``
* ``python -m reintegra_contracts.tools.gen_docs [--check]``
"""

from __future__ import annotations

from pathlib import Path


def source_checkout() -> Path | None:
    """The ``contracts/`` directory of a source checkout, or ``None`` when installed from a wheel."""
    candidate = Path(__file__).resolve().parents[3]
    pyproject = candidate / "pyproject.toml"
    if pyproject.is_file() and 'name = "reintegra-contracts"' in pyproject.read_text(encoding="utf-8"):
        return candidate
    return None
