from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from reintegra_contracts.codelists import Priority, ServiceCategory
from reintegra_referral.domain import DirectoryService, match, respond_by
from reintegra_referral.directory_file import SAMPLE_DIRECTORY, load_directory


def service(service_id: str, municipalities: tuple[str, ...] = (), hours: int = 48) -> DirectoryService:
    return DirectoryService(
        service_id, "AG", service_id, ServiceCategory.HEALTH, "individual", "HN", municipalities, hours
    )


def test_a_local_service_is_preferred_to_a_national_one() -> None:
    national, local = service("NAT", hours=4), service("LOCAL", ("HN-0501",), hours=72)
    assert match(ServiceCategory.HEALTH, "HN-0501", [national, local]) == local
    assert match(ServiceCategory.HEALTH, "HN-0801", [national, local]) == national


def test_no_service_of_another_country_or_category_matches() -> None:
    assert match(ServiceCategory.HEALTH, "GT-0101", [service("NAT")]) is None
    assert match(ServiceCategory.EMPLOYMENT, "HN-0501", [service("NAT")]) is None


def test_urgent_referrals_must_be_answered_within_four_hours() -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    assert respond_by(now, service("S", hours=72), Priority.URGENT) == now + timedelta(hours=4)
    assert respond_by(now, service("S", hours=72), Priority.MEDIUM) == now + timedelta(hours=72)


def test_the_sample_directory_loads_and_covers_child_protection_in_every_country() -> None:
    directory = load_directory(SAMPLE_DIRECTORY)
    covered = {s.country for s in directory if s.category is ServiceCategory.CHILD_PROTECTION}
    assert covered == {"HN", "GT", "SV", "MX"}


def test_a_directory_entry_with_a_bad_agency_code_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "directory.json"
    bad.write_text(
        '{"services": [{"service_id": "X", "agency_id": "HN_SNE", "name": "x", "category": "health",'
        ' "level": "individual", "country": "HN", "municipalities": [], "response_time_hours": 1}]}'
    )
    with pytest.raises(ValueError, match=r"services\[0\].*HN_SNE"):
        load_directory(bad)
