"""The reception domain: pure — no I/O, no framework (see docs/where-does-x-go.md)."""

from .commands import ArrivalFacts, PersonalData, RegisterArrival
from .model import ArrivalRejectedError, Case

__all__ = ["ArrivalFacts", "ArrivalRejectedError", "Case", "PersonalData", "RegisterArrival"]
