"""Typed errors raised when a message does not follow the published language."""

from __future__ import annotations


class ContractError(Exception):
    """Base of every error raised while reading or writing a Reintegra message."""


class EnvelopeError(ContractError):
    """A required CloudEvents attribute is missing or malformed."""


class UnknownEventTypeError(ContractError):
    """The message's ``ce_type`` names no event of the published language."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class EventValidationError(ContractError):
    """The message's data does not match its event model; ``errors`` lists each problem."""

    def __init__(self, event_type: str, errors: list[str]) -> None:
        super().__init__(f"invalid {event_type}: " + "; ".join(errors))
        self.event_type = event_type
        self.errors = errors
