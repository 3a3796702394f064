"""Short versions of the fault storm (bench/fault_storm.py) for CI: SIGKILLs of random processes
(a consumer with two replicas), a broker restart and a database restart — on a private broker and a
private PostgreSQL cluster — then nothing lost, nothing duplicated, outboxes drained, lag 0."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.connected, pytest.mark.processes]

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(900)
async def test_a_short_fault_storm_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    fault_storm = load("fault_storm")
    result = await fault_storm.storm(
        seconds=45, rate=4, kills=6, complete_share=0.5, workdir=tmp_path, replicas={"assessment": 2}
    )
    print(fault_storm.report(result))
    assert result["kills"] == 6
    assert {f["kind"] for f in result["faults"]} == {"sigkill", "broker-restart", "database-restart"}
    assert result["accepted"] > 0  # arrivals the client gave up on were never accepted: not lost
    assert result["completions"] > 0
    for name, effect in result["effects"].items():
        assert (effect["lost"], effect["duplicated"], effect["unexpected"]) == (0, 0, 0), name
    assert not any(result["unpublished"].values())
    assert not any(result["lag"].values())
    assert result["ok"]
