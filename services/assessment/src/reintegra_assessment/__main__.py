"""``python -m reintegra_assessment`` runs the assessment service."""

from reintegra_kit.entrypoint import run_service

from .bootstrap import build
from .settings import AssessmentSettings


def main() -> None:
    run_service(AssessmentSettings, build)


if __name__ == "__main__":
    main()
