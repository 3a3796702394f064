"""``pip install ./contracts`` alone, in a fresh venv, pulls in no service code.

Builds a real virtual environment with uv (offline from the uv cache when possible, else from the
index) and imports the package there. Must run; takes a few seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CONTRACTS_DIR = Path(__file__).resolve().parents[1]

PROBE = """
import importlib.util, json
import reintegra_contracts
from reintegra_contracts import decode, encode
from reintegra_contracts.samples import all_examples
from reintegra_contracts.reference import sample_reference_data
for event in all_examples().values():
    record = encode(event, source="urn:probe")
    assert decode(record.headers, record.value).event == event
assert sample_reference_data().ports_of_entry
print(json.dumps({
    "file": reintegra_contracts.__file__,
    "present": {m: importlib.util.find_spec(m) is not None
                for m in ("reintegra_kit", "faststream", "sqlalchemy", "fastapi", "aiokafka",
                          "reintegra_reception", "reintegra_referral")},
}))
"""


def _uv() -> str:
    # `uv run` exports UV (the path of the running uv binary); else look on PATH.
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is required to build the probe venv"
    return uv


@pytest.mark.timeout(240)  # builds a virtual environment (offline when it can)
def test_contracts_install_and_work_alone(tmp_path: Path) -> None:
    import json

    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "-q", "--python", "3.11", str(venv)], check=True, timeout=60)
    env_python = venv / "bin" / "python"
    install = [_uv(), "pip", "install", "-q", "--python", str(env_python), str(CONTRACTS_DIR)]
    offline = subprocess.run([*install, "--offline"], capture_output=True, text=True, timeout=120)
    if offline.returncode != 0:  # cache cold: fall back to the package index
        subprocess.run(install, check=True, timeout=120)
    probe = subprocess.run(
        [str(env_python), "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(venv))
    assert result["present"] == dict.fromkeys(result["present"], False)
    freeze = subprocess.run(
        [_uv(), "pip", "freeze", "--python", str(env_python)], capture_output=True, text=True, check=True
    ).stdout.lower()
    installed = {line.split("==")[0].split(" @ ")[0] for line in freeze.splitlines() if line}
    assert installed <= {
        "reintegra-contracts",
        "pydantic",
        "pydantic-core",
        "typing-extensions",
        "annotated-types",
        "typing-inspection",
    }
