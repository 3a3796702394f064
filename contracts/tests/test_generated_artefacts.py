"""Committed JSON Schemas and docs/events.md match the models, and the gates fail when they should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reintegra_contracts import all_event_classes
from reintegra_contracts.tools import export_schemas, gen_docs
from reintegra_contracts.tools.schemas import all_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas" / "v1"


def test_committed_schemas_match_the_models() -> None:
    assert export_schemas.drift(SCHEMA_DIR) == []
    assert export_schemas.main(["--check", "--check-compat"]) == 0


def test_one_schema_file_per_message_with_catalogue_metadata() -> None:
    names = {p.name for p in SCHEMA_DIR.glob("*.json")}
    assert names == {f"{c.event_type}.json" for c in all_event_classes()}
    schema = json.loads((SCHEMA_DIR / "org.reintegra.referral.referral_requested.v1.json").read_text())
    assert schema["x-reintegra"]["topic"] == "reintegra.referral.events.v1"
    assert schema["x-reintegra"]["key"] == "case_id"
    assert "case_id" in schema["required"]


def test_check_mode_fails_on_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export_schemas.write(tmp_path)
    (tmp_path / "org.reintegra.followup.case_closed.v1.json").write_text("{}\n")
    (tmp_path / "org.reintegra.gone.v1.json").write_text("{}\n")
    assert export_schemas.main(["--dir", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "out of date org.reintegra.followup.case_closed.v1.json" in err
    assert "stale org.reintegra.gone.v1.json" in err


def _break_snapshot(directory: Path) -> None:
    """Make the snapshot look as if a released field had since been removed from the model."""
    export_schemas.write(directory)
    path = directory / "org.reintegra.referral.referral_rejected.v1.json"
    schema = json.loads(path.read_text())
    schema["properties"]["legacy_field"] = {"type": "string"}
    path.write_text(json.dumps(schema))


def test_check_compat_fails_on_a_breaking_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _break_snapshot(tmp_path)
    assert export_schemas.main(["--dir", str(tmp_path), "--check-compat"]) == 1
    assert "legacy_field: field removed or renamed" in capsys.readouterr().err


def test_writing_refuses_a_breaking_change_unless_allowed(tmp_path: Path) -> None:
    _break_snapshot(tmp_path)
    assert export_schemas.main(["--dir", str(tmp_path)]) == 1
    assert export_schemas.drift(tmp_path) != []
    assert export_schemas.main(["--dir", str(tmp_path), "--allow-breaking"]) == 0
    assert export_schemas.drift(tmp_path) == []


def test_regenerating_with_allow_breaking_cannot_make_a_breaking_change_pass(tmp_path: Path) -> None:
    released, working = tmp_path / "released", tmp_path / "v1"
    _break_snapshot(released / "1.0.0")  # the release had a field the models have since lost
    _break_snapshot(working)
    args = ["--dir", str(working), "--released", str(released)]
    assert export_schemas.main(args) == 1  # writing refuses
    assert export_schemas.main([*args, "--allow-breaking"]) == 0  # the working snapshot is rewritten
    assert export_schemas.main([*args, "--check", "--check-compat"]) == 1  # still breaking vs the release


def test_the_released_snapshot_is_the_models_of_the_release_and_is_never_written(tmp_path: Path) -> None:
    released = export_schemas.released_snapshots(export_schemas.released_root())
    assert [p.name for p in released][:1] == ["1.0.0"]
    assert export_schemas.breaking_changes(released) == {p: [] for p in released}
    with pytest.raises(SystemExit):
        export_schemas.main(["--dir", str(released[0])])


def test_check_compat_against_another_snapshot(tmp_path: Path) -> None:
    export_schemas.write(tmp_path)
    (tmp_path / "org.reintegra.followup.case_closed.v1.json").unlink()  # an event added since: fine
    assert export_schemas.main(["--check-compat", "--against", str(tmp_path)]) == 0


def test_schemas_are_deterministic() -> None:
    assert all_schemas() == all_schemas()


def test_docs_match_the_models() -> None:
    assert gen_docs.main(["--check"]) == 0


def test_docs_check_fails_on_drift(tmp_path: Path) -> None:
    out = tmp_path / "events.md"
    assert gen_docs.main(["--out", str(out), "--check"]) == 1
    assert gen_docs.main(["--out", str(out)]) == 0
    assert gen_docs.main(["--out", str(out), "--check"]) == 0
    out.write_text(out.read_text() + "edited by hand\n")
    assert gen_docs.main(["--out", str(out), "--check"]) == 1


def test_docs_describe_every_message_with_type_topic_producer_and_example() -> None:
    text = gen_docs.render()
    for cls in all_event_classes():
        assert f"### {cls.__name__}" in text
        assert f"`{cls.event_type}`" in text
    assert text.count("Example `data`:") == len(all_event_classes())
    assert "| `in_progress` | `in-progress` |" in text
