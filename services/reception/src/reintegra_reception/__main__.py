"""``python -m reintegra_reception`` runs the reception service;
``python -m reintegra_reception import-manifest FILE`` sends a manifest to it (see :mod:`.cli`);
``python -m reintegra_reception audit|keys|erase|retention|export|access-report …`` are the operators'
commands on personal data (see :mod:`.admin`)."""

import sys

from reintegra_kit.entrypoint import run_service

from .bootstrap import build_to_serve
from .settings import ReceptionSettings

COMMAND_NAMES = ("audit", "keys", "erase", "retention", "export", "access-report")
"""First arguments that select an operator's command (:mod:`.admin`) instead of the service."""


def main() -> None:
    if sys.argv[1:2] == ["import-manifest"]:
        from .cli import main as import_manifest

        sys.exit(import_manifest(sys.argv[2:]))
    if sys.argv[1:2] and sys.argv[1] in COMMAND_NAMES:
        from .admin import main as admin

        admin(sys.argv[1:])
        return
    run_service(ReceptionSettings, build_to_serve)


if __name__ == "__main__":
    main()
