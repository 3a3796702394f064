"""``python -m reintegra_kit.migrate <service>``: bring a service's database to the newest revision, then exit.

The services also migrate at start-up (under a PostgreSQL advisory lock). This command is for the places
where migrating must happen before any replica starts, such as the Helm chart's pre-install/pre-upgrade
Job. It reads the service's own settings class from the ``REINTEGRA_*`` environment, exactly as the
service would, so it migrates the database the service will use. Services are imported by name, so the
kit does not depend on them.

Exit status: 0 migrated (or already at head), 2 unknown service or bad settings, 1 the migration failed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import typing
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from .migrations import upgrade_to_head
from .settings import ServiceSettings, SettingsError, load_settings

SERVICES = ("reception", "assessment", "referral", "followup")
"""Services whose databases this command knows, each importable as ``reintegra_<service>.bootstrap``."""


class UnknownServiceError(Exception):
    """The named service is not installed (or is not a Reintegra service)."""


def service_migrations(service: str) -> tuple[Path, type[ServiceSettings]]:
    """The migrations folder and the settings class of ``service``, imported by name."""
    try:
        bootstrap = importlib.import_module(f"reintegra_{service}.bootstrap")
    except ModuleNotFoundError as exc:
        raise UnknownServiceError(
            f"no service {service!r} is installed (module {exc.name} not found)"
        ) from None
    migrations = getattr(bootstrap, "MIGRATIONS", None)
    if not isinstance(migrations, Path):
        raise UnknownServiceError(f"reintegra_{service}.bootstrap has no MIGRATIONS folder")
    settings_class = typing.get_type_hints(bootstrap.build)["settings"]
    if not (isinstance(settings_class, type) and issubclass(settings_class, ServiceSettings)):
        raise UnknownServiceError(f"reintegra_{service}.bootstrap.build does not take ServiceSettings")
    return migrations, settings_class


def redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def migrate(service: str) -> str:
    """Upgrade ``service``'s database (from its ``REINTEGRA_*`` settings) to head; return the URL used."""
    migrations, settings_class = service_migrations(service)
    settings = load_settings(settings_class)
    url = settings.effective_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # as the service does at start-up
    upgrade_to_head(migrations, url)
    return url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reintegra_kit.migrate",
        description="Migrate a service's database to the newest revision and exit "
        "(settings from REINTEGRA_* variables, as the service reads them).",
    )
    parser.add_argument("service", help=f"one of: {', '.join(SERVICES)}")
    args = parser.parse_args(argv)
    try:
        url = migrate(args.service)
    except UnknownServiceError as exc:
        print(f"reintegra migrate: {exc}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(f"reintegra migrate: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # any driver or Alembic error: say what failed, exit non-zero
        print(
            f"reintegra migrate: migrating {args.service} failed: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 1
    print(f"reintegra migrate: {args.service} database at head ({redacted(url)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
