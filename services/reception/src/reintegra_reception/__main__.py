"""``python -m reintegra_reception`` runs the reception service;
``python -m reintegra_reception import-manifest FILE`` sends a manifest to it (see :mod:`.cli`)."""

import sys

from reintegra_kit.entrypoint import run_service

from .bootstrap import build_to_serve
from .settings import ReceptionSettings


def main() -> None:
    if sys.argv[1:2] == ["import-manifest"]:
        from .cli import main as import_manifest

        sys.exit(import_manifest(sys.argv[2:]))
    run_service(ReceptionSettings, build_to_serve)


if __name__ == "__main__":
    main()
