"""``python -m reintegra_kit.revision <service> "message"``: autogenerate a migration for a service."""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

from alembic import command

from .migrations import alembic_config


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        raise SystemExit('usage: python -m reintegra_kit.revision <service> "message"')
    service, message = args
    package = importlib.import_module(f"reintegra_{service}")
    script_location = Path(package.__file__ or "").parent / "migrations"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/rev.db"
        cfg = alembic_config(script_location, url)
        command.upgrade(cfg, "head")
        versions = sorted((script_location / "versions").glob("*.py"))
        rev_id = f"{len(versions) + 1:04d}"
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)


if __name__ == "__main__":
    main()
