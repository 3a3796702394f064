"""No personal identifying data on the log, by construction."""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import UUID

import pytest
from pydantic import BaseModel, Field
from reintegra_contracts import Event, all_event_classes
from reintegra_contracts.codelists import (
    SPECIAL_CATEGORY_VULNERABILITIES,
    ConcernType,
    Vulnerability,
    disclosed,
)
from reintegra_contracts.events.reception import ArrivalRegistered, ProtectionConcernRaised
from reintegra_contracts.privacy import identifying_fields, is_identifying_name, special_category_values
from reintegra_contracts.samples import example_of


@pytest.mark.parametrize("cls", all_event_classes(), ids=lambda c: c.__name__)
def test_no_message_has_a_field_that_identifies_a_person(cls: type[Event]) -> None:
    assert identifying_fields(cls) == []


@pytest.mark.parametrize(
    "name",
    [
        "name",
        "first_name",
        "last_name",
        "full_name",
        "surname",
        "nombre",
        "apellidos",
        "phone",
        "phone_number",
        "mobile",
        "email",
        "e_mail",
        "home_address",
        "address_line",
        "street",
        "date_of_birth",
        "dob",
        "birthdate",
        "passport_number",
        "document_number",
        "national_id",
        "curp",
        "dui",
        "gps",
        "latitude",
        "photo",
        "fingerprint",
        "ip_address",
    ],
)
def test_identifying_names_are_denied(name: str) -> None:
    assert is_identifying_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "case_id",
        "returnee_id",
        "age",
        "age_group",
        "sex",
        "destination_municipality",
        "port_of_entry",
        "agency_id",
        "service_id",
        "contact_point",
        "instrument",
        "travel_group_id",
        "match_basis",
    ],
)
def test_pseudonymous_ids_and_attributes_are_allowed(name: str) -> None:
    assert not is_identifying_name(name)


class _Relative(BaseModel):
    """A nested model that hides personal data two levels down."""

    relationship: str = Field(description="Relationship.")
    phone_number: str = Field(description="Phone.")


class _Household(BaseModel):
    """A nested model."""

    size: int = Field(description="Size.")
    members: list[_Relative] = Field(description="Members.")


class _BadEvent(Event):
    """A deliberately bad event (not registered: it declares no event_type)."""

    topic: ClassVar[str] = "test"
    returnee_id: UUID = Field(description="Fine.")
    full_name: str = Field(description="Not fine.")
    birth: date | None = Field(default=None, alias="date_of_birth", description="Not fine (alias).")
    household: _Household | None = Field(default=None, description="Nested.")


def test_a_deliberately_bad_model_is_caught_including_nested_fields_and_aliases() -> None:
    assert identifying_fields(_BadEvent) == ["full_name", "birth", "household.members.phone_number"]


@pytest.mark.parametrize("cls", all_event_classes(), ids=lambda c: c.__name__)
def test_no_example_message_holds_a_special_category_code(cls: type[Event]) -> None:
    assert special_category_values(example_of(cls)) == []


def test_special_category_codes_are_found_wherever_they_are_nested() -> None:
    arrival = example_of(ArrivalRegistered).model_copy(
        update={"vulnerabilities": [Vulnerability.OLDER_ADULT, Vulnerability.SURVIVOR_OF_GBV]}
    )
    assert special_category_values(arrival) == ["vulnerabilities[1]=survivor_of_gbv"]
    concern = example_of(ProtectionConcernRaised).model_copy(update={"concern_type": ConcernType.TRAFFICKING})
    assert special_category_values(concern) == ["concern_type=trafficking"]
    undisclosed = concern.model_copy(update={"concern_type": ConcernType.UNDISCLOSED})
    assert special_category_values(undisclosed) == []


def test_disclosed_keeps_only_the_flags_that_may_travel_on_the_log() -> None:
    flags = ["survivor_of_trafficking", "unaccompanied_child", "chronic_illness", "unaccompanied_child"]
    assert disclosed(flags) == [Vulnerability.UNACCOMPANIED_CHILD]
    assert SPECIAL_CATEGORY_VULNERABILITIES.isdisjoint(disclosed(list(Vulnerability)))
