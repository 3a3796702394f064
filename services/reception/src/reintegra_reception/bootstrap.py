"""Reception's composition root."""

from __future__ import annotations

from fastapi import FastAPI
from reintegra_contracts.events.reception import AnnounceReturn as AnnounceReturnCommand
from reintegra_kit.registry import ServiceSpec
from reintegra_kit.runtime import ServiceRuntime

from . import http
from .domain import (
    AnnounceReturn,
    DecideReview,
    ProvideAssistance,
    RegisterArrival,
    RegisterManifest,
    ScreenProtection,
)
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
from .repository import ReceptionUnitOfWork
from .settings import ReceptionSettings

SPEC = ServiceSpec.of_package(__package__ or "reintegra_reception")
MIGRATIONS = SPEC.migrations


def build(settings: ReceptionSettings) -> tuple[ServiceRuntime[ReceptionUnitOfWork], FastAPI]:
    keys = settings.keys
    runtime = ServiceRuntime(
        settings, spec=SPEC, tables=kit_tables, uow_class=ReceptionUnitOfWork.factory(keys)
    )
    runtime.dependencies.add(match_policy=settings.match_policy, blind_index=keys.blind_index)
    runtime.commands(
        {
            RegisterArrival: register_arrival,
            RegisterManifest: register_manifest,
            AnnounceReturn: announce_return,
            ProvideAssistance: provide_assistance,
            ScreenProtection: screen_protection,
            DecideReview: decide_review,
        }
    )
    runtime.consume({AnnounceReturnCommand: [on_announce_return]}, name="commands")

    async def index_earlier_returnees() -> None:
        """Returnees registered before identity matching get their blocking keys (once)."""
        index = runtime.dependencies.bind(index_identities)
        while await runtime.bus.run(index, 1_000):
            pass

    runtime.on_startup(index_earlier_returnees)
    app = runtime.http_app([http.router(runtime.bus, runtime.uow, settings)])
    return runtime, app
