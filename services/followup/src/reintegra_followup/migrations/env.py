"""Alembic environment of the followup service (online, async; see reintegra_kit.migrations)."""

from alembic import context
from reintegra_followup.orm import metadata
from reintegra_kit.migrations import run_env

run_env(context, metadata)
