"""``python -m reintegra_followup`` runs the followup service."""

from reintegra_kit.entrypoint import run_service

from .bootstrap import build
from .settings import FollowupSettings


def main() -> None:
    run_service(FollowupSettings, build)


if __name__ == "__main__":
    main()
