"""Building blocks of every service's domain model: aggregates, lifecycles and typed domain errors.

An aggregate (a case, an assessment, a referral, a follow-up, a consent) is a plain object whose methods
enforce the allowed transitions, raise a :class:`DomainError` when a command breaks a rule, and
*record* the events the change implies. Handlers load an aggregate, call one method, save it; saving
through a :class:`~reintegra_kit.repository.Repository` stages the recorded events in the outbox of the
same transaction. Nothing here does I/O (see docs/adr/0013-aggregates.md).

A domain error is an *answer*, not a failure: over HTTP it becomes a problem-details response with the
error's status (one mapping, in :mod:`reintegra_kit.runtime.http`), and on Kafka the message is
*refused* — recorded once in the inbox with the reason, never retried nor parked.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import ClassVar, Generic, TypeVar

from reintegra_contracts import Event


class DomainError(Exception):
    """A command that the domain refuses: it breaks a rule. Subclasses say which kind of refusal.

    ``code`` is a stable machine-readable name (it ends the problem type URI); the message is for
    people and must not contain personal data. A detail ``errors=[{"field", "message", "type",
    "line"}]`` (e.g. the bad lines of an uploaded manifest) becomes the problem's ``errors``.
    """

    http_status: ClassVar[int] = 422
    title: ClassVar[str] = "The request breaks a rule of the domain"
    code: ClassVar[str] = "domain-rule"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = details


class NotFoundError(DomainError):
    """The command names something that does not exist (here, or not yet)."""

    http_status = 404
    title = "Not found"
    code = "not-found"


class ConflictError(DomainError):
    """The command conflicts with the current state (already done, or not allowed now)."""

    http_status = 409
    title = "Conflicts with the current state"
    code = "conflict"


class ForbiddenError(DomainError):
    """The sender may not do this to this record (e.g. an agency answering another agency's referral)."""

    http_status = 403
    title = "Not allowed for this sender"
    code = "forbidden"


class IllegalTransitionError(ConflictError):
    """A lifecycle was asked to move along a transition it does not have."""

    code = "illegal-transition"

    def __init__(self, what: str, current: enum.Enum | str, attempted: str) -> None:
        state = current.value if isinstance(current, enum.Enum) else current
        super().__init__(f"{what} is {state!r}; it cannot {attempted}", current=state, attempted=attempted)
        self.current = state
        self.attempted = attempted


S = TypeVar("S", bound=enum.Enum)


class Lifecycle(Generic[S]):
    """The allowed transitions of a state machine, checked in one place.

    ``Lifecycle("referral", {Status.REQUESTED: {Status.RECEIVED, ...}, ...})``; a state missing from the
    map is final.
    """

    def __init__(self, what: str, transitions: Mapping[S, Iterable[S]]) -> None:
        self.what = what
        self.transitions: dict[S, frozenset[S]] = {k: frozenset(v) for k, v in transitions.items()}

    def allows(self, current: S, target: S) -> bool:
        return target in self.transitions.get(current, frozenset())

    def check(self, current: S, target: S, attempted: str | None = None) -> S:
        """Return ``target`` if ``current → target`` is allowed, else raise :class:`IllegalTransitionError`."""
        if not self.allows(current, target):
            raise IllegalTransitionError(self.what, current, attempted or f"become {target.value!r}")
        return target

    def is_final(self, state: S) -> bool:
        return not self.transitions.get(state)

    def states(self) -> set[S]:
        found: set[S] = set(self.transitions)
        for targets in self.transitions.values():
            found |= targets
        return found


class AggregateRoot:
    """Base of the aggregates: records the events its methods imply, and carries a version.

    Subclasses are usually dataclasses declaring ``version: int = 0`` last. The version is the
    optimistic-concurrency token of the row: a repository updates a row only when its stored version
    is the one it loaded, so two writers cannot both win
    (:class:`~reintegra_kit.repository.StaleAggregateError`).
    """

    version: int = 0

    def record(self, event: Event) -> None:
        """Remember ``event`` as implied by the change just made; published when the change commits."""
        self.__dict__.setdefault("_pending_events", []).append(event)

    @property
    def pending_events(self) -> tuple[Event, ...]:
        return tuple(self.__dict__.get("_pending_events", ()))

    def pull_events(self) -> list[Event]:
        """The recorded events, in order, forgetting them (called by the repository on save)."""
        events: list[Event] = self.__dict__.pop("_pending_events", [])
        return events
