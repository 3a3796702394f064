"""The assessment domain: pure — no I/O, no framework (see docs/where-does-x-go.md)."""

from .commands import CompleteAssessment, NeedFound
from .model import Assessment, AssessmentStatus

__all__ = ["Assessment", "AssessmentStatus", "CompleteAssessment", "NeedFound"]
