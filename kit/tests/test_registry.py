"""The service registry: each service declares itself once, and a bad declaration is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from reintegra_kit.registry import RegistryError, ServiceSpec, discover

GOOD = """
name = "intake"
title = "Intake"
description = "Takes things in."
port = 8199
consumes = ["reintegra.reception.events.v1"]

[produces]
"reintegra.assessment.events.v1" = ["org.reintegra.assessment.assessment_scheduled.v1"]
"reintegra.partner.{agency}.v1" = ["org.reintegra.partner.referral_requested.v1"]
"""


def write(tmp_path: Path, text: str, name: str = "intake") -> Path:
    folder = tmp_path / "services" / name / "src" / f"reintegra_{name}"
    folder.mkdir(parents=True)
    (folder / "service.toml").write_text(text)
    return folder / "service.toml"


def test_a_declaration_gives_topics_events_and_the_conventional_names(tmp_path: Path) -> None:
    spec = ServiceSpec.load(write(tmp_path, GOOD))
    assert (spec.module, spec.distribution, spec.path) == ("reintegra_intake", "reintegra-intake", "services/intake")
    assert spec.static_topics == ["reintegra.assessment.events.v1", "reintegra.reception.events.v1"]
    assert "org.reintegra.partner.referral_requested.v1" in spec.emitted_types
    assert spec.migrations == spec.source.parent / "migrations"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('port = 8199', 'port = 80'), "port 80"),
        (('name = "intake"', 'name = "In Take"'), "name 'In Take'"),
        (("assessment_scheduled", "assessment_invented"), "unknown event type"),
        (('"reintegra.assessment.events.v1" =', '"reintegra.followup.events.v1" ='), "belongs on"),
        (('title = "Intake"', 'title = ""'), "title must be"),
        (('port = 8199', 'port = 8199\ncolour = "red"'), "unknown keys ['colour']"),
    ],
)
def test_a_bad_declaration_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(RegistryError, match="service.toml") as caught:
        ServiceSpec.load(path)
    assert message in str(caught.value)


def test_two_services_cannot_share_a_port(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    write(tmp_path, GOOD.replace("intake", "outtake").replace("Intake", "Outtake"), "outtake")
    with pytest.raises(RegistryError, match="share a port"):
        discover(tmp_path)
