"""Alembic environment of the assessment service (online, async; see reintegra_kit.migrations)."""

from alembic import context
from reintegra_assessment.orm import metadata
from reintegra_kit.migrations import run_env

run_env(context, metadata)
