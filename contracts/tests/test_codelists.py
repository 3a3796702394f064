from __future__ import annotations

from enum import StrEnum

import pytest
from reintegra_contracts import codelists
from reintegra_contracts.codelists import (
    ALL_CODELISTS,
    FHIR_TASK_STATUS,
    LABELS,
    SERVICE_CATEGORY_DIMENSION,
    SERVICE_GRID,
    Dimension,
    Level,
    ReferralStatus,
    ServiceCategory,
    categories_at,
    label,
)
from reintegra_contracts.events.followup import FollowupReason

ALL_MEMBERS = [(enum, member) for enum in ALL_CODELISTS for member in enum]


def test_every_strenum_in_codelists_is_a_labelled_codelist() -> None:
    declared = {
        obj
        for obj in vars(codelists).values()
        if isinstance(obj, type) and issubclass(obj, StrEnum) and obj is not StrEnum
    }
    assert declared == set(ALL_CODELISTS)


@pytest.mark.parametrize(("enum", "member"), ALL_MEMBERS, ids=lambda x: getattr(x, "__name__", str(x)))
def test_every_code_has_a_spanish_and_an_english_label(enum: type[StrEnum], member: StrEnum) -> None:
    assert label(member, "es").strip()
    assert label(member, "en").strip()


def test_labels_name_no_code_that_does_not_exist() -> None:
    for enum, labels in LABELS.items():
        assert set(labels) == {m.value for m in enum}, enum.__name__


def test_label_defaults_to_spanish_and_keeps_same_valued_codes_apart() -> None:
    assert label(codelists.ReturnType.FORCED) == "Retorno forzado (deportación)"
    assert label(codelists.ReturnType.FORCED, "en") == "Forced return (deportation)"
    # Same value in two code lists: each keeps its own label.
    assert label(codelists.ConcernType.GENDER_BASED_VIOLENCE, "en") == "Gender-based violence"
    assert label(codelists.Vulnerability.SURVIVOR_OF_GBV, "en") == "Survivor of gender-based violence"


def test_followup_reason_is_still_importable_from_its_event_module() -> None:
    assert FollowupReason is codelists.FollowupReason


def test_every_service_category_sits_on_the_grid() -> None:
    assert set(SERVICE_GRID) == set(ServiceCategory)
    assert {c: d for c, (_l, d) in SERVICE_GRID.items()} == SERVICE_CATEGORY_DIMENSION


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("dimension", list(Dimension))
def test_every_cell_of_the_level_by_dimension_grid_has_a_category(level: Level, dimension: Dimension) -> None:
    assert categories_at(level, dimension)


def test_every_referral_status_maps_to_a_fhir_task_status() -> None:
    # HL7 FHIR R4/R5 Task.status codes (valueset task-status)
    fhir_task_codes = {
        "draft",
        "requested",
        "received",
        "accepted",
        "rejected",
        "ready",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    }
    assert set(FHIR_TASK_STATUS) == set(ReferralStatus)
    assert set(FHIR_TASK_STATUS.values()) <= fhir_task_codes
