"""Referral's composition root."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from reintegra_contracts.codelists import ReferralStatus
from reintegra_contracts.events.assessment import AssessmentCompleted
from reintegra_contracts.events.partner import AGENCY_COMMANDS
from reintegra_contracts.events.reception import (
    ArrivalRegistered,
    ConsentRecorded,
    ConsentWithdrawn,
    ProtectionConcernRaised,
    ReturneeErased,
    ReturneeRecordsMerged,
)
from reintegra_contracts.topics import dead_letter_topic, partner_responses_topic, partner_topic
from reintegra_kit.clock import Clock
from reintegra_kit.logging import get_logger
from reintegra_kit.registry import ServiceSpec
from reintegra_kit.runtime import ServiceRuntime

from . import http
from .directory_io import load_directory, load_samples
from .domain import ANSWER_TIMER, REROUTE_TIMER, ConsentPolicy, ShareEverything, SharingPolicy
from .domain.commands import (
    AnswerReferral,
    AssignReferral,
    CancelReferral,
    ImportDirectory,
    PutAgency,
    PutService,
    RemoveAgency,
    RemoveService,
    SetWebhook,
)
from .erasure import erase_case
from .handlers import (
    agency_command,
    answer_referral,
    answer_time_passed,
    assign_referral,
    cancel_referral,
    grace_passed,
    import_directory,
    put_agency,
    put_service,
    record_arrival,
    record_consent,
    refer_needs,
    refuse_agency_command,
    remove_agency,
    remove_service,
    seed_directory,
    set_webhook,
    withdraw_consent,
)
from .immediate import refer_immediate_needs, refer_protection_concern
from .merges import rekey_merged_cases
from .orm import kit_tables
from .repository import ReferralUnitOfWork
from .settings import ReferralSettings
from .webhooks import WebhookSender

SPEC = ServiceSpec.of_package(__package__ or "reintegra_referral")
MIGRATIONS = SPEC.migrations

log = get_logger(__name__)


def agency_topics(agency_id: str) -> list[str]:
    """The topics of one agency: its partner topic, its responses topic and that one's dead letters."""
    responses = partner_responses_topic(agency_id)
    return [partner_topic(agency_id), responses, dead_letter_topic(responses)]


class PartnerTopics:
    """Creates the topics of agencies (at start-up from the directory, and when one is added)."""

    def __init__(self, runtime: ServiceRuntime[ReferralUnitOfWork]) -> None:
        self._runtime = runtime

    def declare(self, agency_ids: Iterable[str]) -> None:
        self._runtime.declare_topics(t for a in agency_ids for t in agency_topics(a))

    async def ensure(self, agency_ids: Iterable[str]) -> None:
        names = [t for a in agency_ids for t in agency_topics(a)]
        if not self._runtime.kafka.started.is_set():
            self._runtime.declare_topics(names)  # created when the broker starts
            return
        created = await self._runtime.topics.ensure(names)
        if created:
            log.info("referral.partner_topics_created", topics=created)


def sharing_policy(settings: ReferralSettings) -> SharingPolicy:
    """The sharing policy the settings name (``REINTEGRA_SHARING_POLICY``)."""
    if settings.sharing_policy == "share_all":
        log.warning("referral.sharing_without_consent", policy="share_all")
        return ShareEverything(settings.contact_reference_ttl)
    return ConsentPolicy(settings.contact_reference_ttl)


def build(
    settings: ReferralSettings, clock: Clock | None = None, sharing: SharingPolicy | None = None
) -> tuple[ServiceRuntime[ReferralUnitOfWork], FastAPI]:
    runtime = ServiceRuntime(
        settings, spec=SPEC, tables=kit_tables, uow_class=ReferralUnitOfWork, clock=clock
    )
    agencies, services = (
        load_directory(settings.directory_file) if settings.directory_file else load_samples()
    )
    topics = PartnerTopics(runtime)
    runtime.dependencies.add(sharing=sharing or sharing_policy(settings), partner_topics=topics)

    async def refresh_gauges() -> None:
        async with runtime.uow() as uow:
            overdue = await uow.referrals.overdue_by_agency(runtime.clock.now())
            waiting = await uow.referrals.count_by_agency(ReferralStatus.AWAITING_CONSENT)
        runtime.metrics.referrals(overdue=overdue, awaiting_consent=waiting)

    runtime.metrics.refresh_with("referrals", refresh_gauges)

    async def seed() -> None:
        seeded = await runtime.bus.run(
            runtime.dependencies.bind(seed_directory),
            ImportDirectory(tuple(agencies), tuple(services), seed=True),
        )
        if seeded:
            log.info("referral.directory_seeded", agencies=len(agencies), services=len(services))
        async with runtime.uow() as uow:
            known = [a.agency_id for a in await uow.directory.agencies()]
        topics.declare(known)

    runtime.on_startup(seed)
    runtime.commands(
        {
            AnswerReferral: answer_referral,
            CancelReferral: cancel_referral,
            AssignReferral: assign_referral,
            PutAgency: put_agency,
            RemoveAgency: remove_agency,
            PutService: put_service,
            RemoveService: remove_service,
            SetWebhook: set_webhook,
            ImportDirectory: import_directory,
        }
    )
    runtime.consume(
        {
            # what matching may know of the person first, then reception's triage referred at once
            ArrivalRegistered: [record_arrival, refer_immediate_needs],
            ProtectionConcernRaised: [refer_protection_concern],
            ConsentRecorded: [record_consent],
            ConsentWithdrawn: [withdraw_consent],
            ReturneeRecordsMerged: [rekey_merged_cases],
            ReturneeErased: [erase_case],
            AssessmentCompleted: [refer_needs],
        },
        topics=list(SPEC.consumes[:2]),
    )
    runtime.consume(
        {cls: [agency_command] for cls in AGENCY_COMMANDS},
        topics=[t for t in SPEC.consumes if "{agency}" in t],
        name="partner",
        refusals={cls: refuse_agency_command for cls in AGENCY_COMMANDS},
    )
    runtime.timers({ANSWER_TIMER: answer_time_passed, REROUTE_TIMER: grace_passed})
    sender = WebhookSender(runtime.uow, runtime.clock, settings)
    runtime.add_background("webhooks", sender.run)
    app = runtime.http_app(
        [http.router(runtime.bus, runtime.uow, runtime.clock)], record_scope=http.record_scope_of(runtime.uow)
    )
    return runtime, app
