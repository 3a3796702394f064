"""The v1 messages, one module per bounded context. Importing this package registers them all."""

from . import assessment, directory, followup, partner, reception, referral

__all__ = ["assessment", "directory", "followup", "partner", "reception", "referral"]
