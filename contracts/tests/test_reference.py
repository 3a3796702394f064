from __future__ import annotations

import json
from pathlib import Path

import pytest
from reintegra_contracts.codelists import TransportMode
from reintegra_contracts.reference import IS_SAMPLE, load_reference_data, sample_reference_data


def test_sample_reference_data_covers_the_four_countries_and_is_marked_as_sample() -> None:
    data = sample_reference_data()
    assert IS_SAMPLE
    assert "SAMPLE" in data.notice
    assert "verify locally" in data.notice
    assert {p.country for p in data.ports_of_entry.values()} == {"HN", "GT", "SV", "MX"}
    assert {c.country for c in data.reception_centres.values()} == {"HN", "GT", "SV", "MX"}
    assert "CAMR" in data.reception_centres["HN-CAMR-SPS"].name
    assert data.ports_of_entry["GT-GUA"].transport_mode is TransportMode.AIR


def test_every_port_names_known_centres_of_its_own_country() -> None:
    data = sample_reference_data()
    for port in data.ports_of_entry.values():
        assert port.reception_centres
        for code in port.reception_centres:
            assert data.reception_centres[code].country == port.country


def test_a_local_file_can_replace_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "ref.json"
    path.write_text(
        json.dumps(
            {
                "reception_centres": [
                    {"code": "C1", "country": "HN", "name": "Centro", "municipality": "M", "serves": ["air"]}
                ],
                "ports_of_entry": [
                    {
                        "code": "P1",
                        "country": "HN",
                        "name": "Puerto",
                        "transport_mode": "air",
                        "reception_centres": ["C1"],
                    }
                ],
            }
        )
    )
    assert list(load_reference_data(path).ports_of_entry) == ["P1"]


def test_a_port_naming_an_unknown_centre_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ref.json"
    path.write_text(
        json.dumps(
            {
                "reception_centres": [],
                "ports_of_entry": [
                    {
                        "code": "P1",
                        "country": "HN",
                        "name": "Puerto",
                        "transport_mode": "air",
                        "reception_centres": ["C9"],
                    }
                ],
            }
        )
    )
    with pytest.raises(ValueError, match="unknown reception centre"):
        load_reference_data(path)
