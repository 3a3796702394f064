"""Alembic environment of the reception service (online, async; see reintegra_kit.migrations)."""

from alembic import context
from reintegra_kit.migrations import run_env
from reintegra_reception.orm import metadata

run_env(context, metadata)
