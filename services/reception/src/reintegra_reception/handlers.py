"""Reception's handlers (docs/adr/0012-handler-contract.md): load → call the aggregate → save."""

from __future__ import annotations

from uuid import uuid4

from reintegra_kit.clock import Clock
from reintegra_kit.domain import ConflictError

from .domain import Case, RegisterArrival
from .repository import ReceptionUnitOfWork


async def register_arrival(cmd: RegisterArrival, uow: ReceptionUnitOfWork, clock: Clock) -> tuple[Case, bool]:
    """Register an arrival (``arrival_registered``); return the case and whether it is new.

    Idempotent by manifest line: a repeated ``manifest_ref`` returns the case registered the first
    time, even when the retry races the first request (the line is claimed first; a concurrent claim
    waits for the other transaction and then finds its case).
    """
    case_id = uuid4()
    if cmd.manifest_ref and not await uow.cases.claim_manifest_line(cmd.manifest_ref, case_id):
        existing = await uow.cases.by_manifest_ref(cmd.manifest_ref)
        if existing is None:
            raise ConflictError(f"manifest line {cmd.manifest_ref!r} is claimed but has no case")
        return existing, False
    facts = cmd.facts
    group = await uow.cases.travel_group(facts.family_group_ref) if facts.family_group_ref else None
    returnee_id = uuid4()
    case = Case.register(
        cmd, case_id=case_id, returnee_id=returnee_id, travel_group_id=group, now=clock.now()
    )
    await uow.returnees.add(returnee_id, cmd.person, facts.sex, case.registered_at)
    await uow.cases.save(case, manifest_ref=cmd.manifest_ref)
    return case, True
