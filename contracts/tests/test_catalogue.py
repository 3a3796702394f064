"""The catalogue itself: names, metadata, descriptions and the fields the services rely on."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel
from reintegra_contracts import Command, Event, all_event_classes, topics
from reintegra_contracts.events import assessment, followup, reception, referral
from reintegra_contracts.privacy import _models_in

CLASSES = all_event_classes()
TYPE_PATTERN = re.compile(
    r"^org\.reintegra\.(reception|assessment|referral|followup|partner|directory)\.[a-z_]+\.v1$"
)
CONTEXT_TOPIC = {
    "reception": topics.RECEPTION_EVENTS,
    "assessment": topics.ASSESSMENT_EVENTS,
    "referral": topics.REFERRAL_EVENTS,
    "followup": topics.FOLLOWUP_EVENTS,
    "directory": topics.DIRECTORY_EVENTS,
}

REQUIRED_CATALOGUE = {
    "reception": {
        "announce_return",
        "return_announced",
        "arrival_registered",
        "immediate_assistance_provided",
        "consent_recorded",
        "consent_withdrawn",
        "protection_concern_raised",
        "possible_duplicate_detected",
        "returnee_records_merged",
        "returnee_erased",
    },
    "assessment": {
        "assessment_scheduled",
        "assessment_completed",
        "reintegration_plan_agreed",
        "reassessment_completed",
    },
    "referral": {
        "referral_requested",
        "referral_accepted",
        "referral_rejected",
        "referral_overdue",
        "referral_cancelled",
        "service_delivered",
        "referral_completed",
        "referral_failed",
        "referral_held",
        "referral_unmatched",
        "referral_received",
        "referral_escalated",
        "service_started",
    },
    "followup": {
        "followup_scheduled",
        "followup_due",
        "followup_cancelled",
        "followup_completed",
        "followup_missed",
        "case_closed",
        "case_reopened",
    },
    "partner": {
        "referral_requested",
        "referral_cancelled",
        "referral_overdue",
        "command_refused",
        "receive_referral",
        "accept_referral",
        "reject_referral",
        "start_service",
        "record_service_delivery",
        "complete_referral",
        "fail_referral",
    },
    "directory": {"agency_changed", "agency_removed", "service_changed", "service_removed"},
}


def test_the_full_v1_catalogue_is_registered() -> None:
    registered: dict[str, set[str]] = {}
    for cls in CLASSES:
        _org, _app, context, name, _v = cls.event_type.split(".")
        registered.setdefault(context, set()).add(name)
    assert registered == REQUIRED_CATALOGUE


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_type_and_topic_follow_the_naming_rules(cls: type[Event]) -> None:
    assert TYPE_PATTERN.fullmatch(cls.event_type)
    context = cls.event_type.split(".")[2]
    if context == "partner":
        expected = (
            topics.PARTNER_RESPONSES_TEMPLATE if issubclass(cls, Command) else topics.PARTNER_TOPIC_TEMPLATE
        )
        assert cls.topic == expected
    elif issubclass(cls, Command):
        assert cls.topic == topics.RECEPTION_COMMANDS
    else:
        assert cls.topic == CONTEXT_TOPIC[context]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_producer_and_consumers_are_declared(cls: type[Event]) -> None:
    assert cls.producer
    assert cls.consumers


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_commands_are_imperative_and_events_past_tense(cls: type[Event]) -> None:
    first_word = re.findall(r"[A-Z][a-z]+", cls.__name__)
    if issubclass(cls, Command):
        assert cls.kind == "command"
        assert first_word[0] in {
            "Receive",
            "Accept",
            "Reject",
            "Start",
            "Record",
            "Complete",
            "Fail",
            "Announce",
        }
    else:
        assert cls.kind == "event"
        assert re.search(r"(ed|Due|Overdue|Withdrawn|Held)$", cls.__name__), cls.__name__


def _all_models(cls: type[BaseModel]) -> list[type[BaseModel]]:
    out, todo = [], [cls]
    while todo:
        model = todo.pop()
        if model in out:
            continue
        out.append(model)
        for info in model.model_fields.values():
            todo.extend(_models_in(info.annotation))
    return out


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_field_and_model_is_described(cls: type[Event]) -> None:
    for model in _all_models(cls):
        assert (model.__doc__ or "").strip(), model.__name__
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        (
            reception.ArrivalRegistered,
            {
                "returnee_id",
                "arrived_at",
                "port_of_entry",
                "reception_centre",
                "country_of_return",
                "returned_from",
                "return_type",
                "transport_mode",
                "travel_group_id",
                "age",
                "sex",
                "destination_municipality",
                "announcement_id",
                "vulnerabilities",
                "immediate_needs",
                "registered_at",
            },
        ),
        (assessment.AssessmentScheduled, {"assessment_id", "scheduled_for", "priority"}),
        (
            assessment.AssessmentCompleted,
            {
                "assessment_id",
                "completed_at",
                "instrument",
                "instrument_version",
                "scores",
                "priority",
                "destination_municipality",
                "needs",
            },
        ),
        (
            referral.ReferralRequested,
            {
                "referral_id",
                "assessment_id",
                "need_id",
                "category",
                "dimension",
                "level",
                "priority",
                "service_id",
                "agency_id",
                "requested_at",
                "respond_by",
            },
        ),
        (followup.FollowupScheduled, {"followup_id", "reason", "due_at", "referral_id"}),
        (followup.FollowupDue, {"followup_id", "reason", "due_at", "referral_id"}),
    ],
    ids=lambda x: getattr(x, "__name__", "fields"),
)
def test_fields_the_services_use_are_still_there(cls: type[Event], fields: set[str]) -> None:
    assert fields <= set(cls.model_fields)
    assert "case_id" in cls.model_fields


def test_fields_added_to_existing_events_are_optional() -> None:
    added = {
        reception.ArrivalRegistered: {"travel_group_size", "announced_person_id"},
        assessment.AssessmentCompleted: {
            "migration_drivers",
            "intention_to_migrate_again",
            "vulnerabilities",
        },
        referral.ReferralRequested: {"consent_id"},
    }
    for cls, names in added.items():
        for name in names:
            assert not cls.model_fields[name].is_required(), f"{cls.__name__}.{name}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_message_has_a_valid_example(cls: type[Event], examples: dict[str, Event]) -> None:
    example = examples[cls.event_type]
    assert type(example) is cls
    assert cls.model_validate_json(example.model_dump_json()) == example
