"""The case aggregate: a returned person's arrival, as reception registers it.

Registration derives what the desk did not have to declare — age, the vulnerabilities that follow
from it and from the person's company, the immediate needs a child alone always has — and records
``arrival_registered``. The case holds no personal data; the person is a separate record
(:class:`~reintegra_reception.domain.commands.PersonalData`) that never leaves reception.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from reintegra_contracts.codelists import ReturnType, ServiceCategory, TransportMode, Vulnerability
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_kit.domain import AggregateRoot, DomainError

from .commands import ArrivalFacts, RegisterArrival
from .rules import age_at, immediate_needs_of, vulnerabilities_of


class ArrivalRejectedError(DomainError):
    """The arrival cannot be registered as given."""

    code = "arrival-rejected"
    title = "The arrival cannot be registered as given"


@dataclass(eq=False)
class Case(AggregateRoot):
    """One arrival of one returned person, from reception onwards."""

    case_id: UUID
    returnee_id: UUID
    travel_group_id: UUID | None
    arrived_at: datetime
    port_of_entry: str
    reception_centre: str
    destination_municipality: str
    age: int
    return_type: ReturnType
    transport_mode: TransportMode
    vulnerabilities: list[Vulnerability]
    immediate_needs: list[ServiceCategory]
    is_repeat_return: bool
    registered_at: datetime
    version: int = 0

    @classmethod
    def register(
        cls,
        cmd: RegisterArrival,
        *,
        case_id: UUID,
        returnee_id: UUID,
        travel_group_id: UUID | None,
        now: datetime,
    ) -> Case:
        """Register an arrival and record ``arrival_registered``."""
        facts = cmd.facts
        age = age_at(cmd.person.date_of_birth, facts.arrived_at.date())
        if age < 0:
            raise ArrivalRejectedError("date_of_birth is after the arrival")
        vulnerabilities = vulnerabilities_of(facts, age)
        needs = immediate_needs_of(facts, vulnerabilities)
        derived: dict[str, Any] = {
            "case_id": case_id,
            "returnee_id": returnee_id,
            "travel_group_id": travel_group_id,
            "age": age,
            "vulnerabilities": vulnerabilities,
            "immediate_needs": needs,
            "is_repeat_return": facts.previous_returns > 0,
            "registered_at": now,
        }
        case = cls(**_shared(facts, cls), **{k: v for k, v in derived.items() if k in _names(cls)})
        case.record(ArrivalRegistered(**{**_facts_for(ArrivalRegistered, facts), **derived}))
        return case


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _shared(facts: ArrivalFacts, cls: type) -> dict[str, Any]:
    """The facts that ``cls`` (a dataclass) also holds, under the same names."""
    names = _names(cls)
    return {
        f.name: getattr(facts, f.name) for f in fields(facts) if f.name in names and f.name not in _DERIVED
    }


def _facts_for(event: type[ArrivalRegistered], facts: ArrivalFacts) -> dict[str, Any]:
    """The facts the event carries as declared, under the same names."""
    return {
        f.name: getattr(facts, f.name)
        for f in fields(facts)
        if f.name in event.model_fields and f.name not in _DERIVED
    }


_DERIVED = frozenset({"vulnerabilities", "immediate_needs"})
"""Declared facts that registration completes (the case and the event carry the completed lists)."""
