"""The v1 events, one module per bounded context. Importing this package registers them all."""

from . import assessment, followup, reception, referral

__all__ = ["assessment", "followup", "reception", "referral"]
