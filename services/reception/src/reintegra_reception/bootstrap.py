"""Reception's composition root."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from reintegra_contracts import Event
from reintegra_contracts.events import followup as followup_events
from reintegra_contracts.events import referral as referral_events
from reintegra_contracts.events.reception import AnnounceReturn as AnnounceReturnCommand
from reintegra_contracts.topics import FOLLOWUP_EVENTS, RECEPTION_COMMANDS, REFERRAL_EVENTS
from reintegra_kit.handlers import Handler
from reintegra_kit.registry import ServiceSpec
from reintegra_kit.runtime import ServiceRuntime
from reintegra_kit.settings import SettingsError

from . import http, http_privacy
from .access import record_scope_of
from .domain import (
    AnnounceReturn,
    DecideReview,
    ProvideAssistance,
    RegisterArrival,
    RegisterManifest,
    ScreenProtection,
)
from .domain.commands import (
    EraseReturnee,
    LookUpContact,
    ReadPersonalData,
    RecordConsent,
    RecordOverride,
    WithdrawConsent,
)
from .erasure import ExportSubject, erase_returnee, export_subject
from .handlers import (
    announce_return,
    decide_review,
    index_identities,
    on_announce_return,
    provide_assistance,
    register_arrival,
    register_manifest,
    screen_protection,
)
from .orm import kit_tables
from .privacy import (
    AccessReport,
    ListOverrides,
    access_report,
    list_overrides,
    look_up_contact,
    on_case_closed,
    on_case_reopened,
    on_referral_ended,
    on_referral_going_on,
    on_referral_requested,
    read_personal_data,
    record_consent,
    record_override,
    withdraw_consent,
)
from .repository import ReceptionUnitOfWork
from .settings import ReceptionSettings

SPEC = ServiceSpec.of_package(__package__ or "reintegra_reception")
MIGRATIONS = SPEC.migrations

COMMANDS: dict[type[Any], Handler] = {
    RegisterArrival: register_arrival,
    RegisterManifest: register_manifest,
    AnnounceReturn: announce_return,
    ProvideAssistance: provide_assistance,
    ScreenProtection: screen_protection,
    DecideReview: decide_review,
    RecordConsent: record_consent,
    RecordOverride: record_override,
    WithdrawConsent: withdraw_consent,
    LookUpContact: look_up_contact,
    ReadPersonalData: read_personal_data,
    AccessReport: access_report,
    ListOverrides: list_overrides,
    EraseReturnee: erase_returnee,
    ExportSubject: export_subject,
}
"""Every command reception handles, with its handler (HTTP and the operators' commands)."""

EVENTS: dict[type[Event], list[Handler]] = {
    referral_events.ReferralRequested: [on_referral_requested],
    referral_events.ReferralReceived: [on_referral_going_on],
    referral_events.ReferralAccepted: [on_referral_going_on],
    referral_events.ServiceStarted: [on_referral_going_on],
    referral_events.ServiceDelivered: [on_referral_going_on],
    referral_events.ReferralRejected: [on_referral_ended],
    referral_events.ReferralCancelled: [on_referral_ended],
    referral_events.ReferralCompleted: [on_referral_ended],
    referral_events.ReferralFailed: [on_referral_ended],
    followup_events.CaseClosed: [on_case_closed],
    followup_events.CaseReopened: [on_case_reopened],
}
"""What reception follows of the other services: contact references (referral), closures (follow-up)."""


def build_to_serve(settings: ReceptionSettings) -> tuple[ServiceRuntime[ReceptionUnitOfWork], FastAPI]:
    """:func:`build`, refusing (``SettingsError``: exit status 2) without the keys personal data is
    sealed with."""
    if settings.missing_keys():
        raise SettingsError(settings.missing_keys())
    return build(settings)


def build(settings: ReceptionSettings) -> tuple[ServiceRuntime[ReceptionUnitOfWork], FastAPI]:
    """The service. Without its keys it can still be described (AsyncAPI, OpenAPI) but opens no unit
    of work: serving goes through :func:`build_to_serve`."""
    keys = None if settings.missing_keys() else settings.keys
    runtime = ServiceRuntime(
        settings, spec=SPEC, tables=kit_tables, uow_class=ReceptionUnitOfWork.factory(keys)
    )
    runtime.dependencies.add(
        match_policy=settings.match_policy,
        blind_index=keys.blind_index if keys else None,
        override_max_validity=settings.override_max_validity,
    )
    runtime.commands(COMMANDS)
    runtime.consume(
        {AnnounceReturnCommand: [on_announce_return]}, topics=[RECEPTION_COMMANDS], name="commands"
    )
    runtime.consume(EVENTS, topics=[REFERRAL_EVENTS, FOLLOWUP_EVENTS], name="events")

    async def index_earlier_returnees() -> None:
        """Returnees registered before identity matching get their blocking keys (once)."""
        index = runtime.dependencies.bind(index_identities)
        while await runtime.bus.run(index, 1_000):
            pass

    runtime.on_startup(index_earlier_returnees)
    app = runtime.http_app(
        [
            http.router(runtime.bus, runtime.uow, settings),
            http_privacy.router(runtime.bus, runtime.uow, runtime.clock),
        ],
        record_scope=record_scope_of(runtime.uow),
    )
    return runtime, app
