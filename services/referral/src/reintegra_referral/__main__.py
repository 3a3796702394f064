"""``python -m reintegra_referral`` runs the referral service."""

from reintegra_kit.entrypoint import run_service

from .bootstrap import build
from .settings import ReferralSettings


def main() -> None:
    run_service(ReferralSettings, build)


if __name__ == "__main__":
    main()
