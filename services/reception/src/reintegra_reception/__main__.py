"""``python -m reintegra_reception`` runs the reception service."""

from reintegra_kit.entrypoint import run_service

from .bootstrap import build
from .settings import ReceptionSettings


def main() -> None:
    run_service(ReceptionSettings, build)


if __name__ == "__main__":
    main()
