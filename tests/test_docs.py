"""The documentation names what the code does."""

from __future__ import annotations

from pathlib import Path

from reintegra_assessment.settings import AssessmentSettings
from reintegra_followup.settings import FollowupSettings
from reintegra_kit.settings import ENV_PREFIX
from reintegra_reception.settings import ReceptionSettings
from reintegra_referral.settings import ReferralSettings

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_documents_every_setting_of_every_service() -> None:
    readme = (ROOT / "README.md").read_text()
    for cls in (ReceptionSettings, AssessmentSettings, ReferralSettings, FollowupSettings):
        for name in cls.model_fields:
            assert f"`{ENV_PREFIX}{name.upper()}`" in readme, f"README lacks {ENV_PREFIX}{name.upper()}"


def test_the_readme_keeps_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = [block.split("```", 1)[0].strip() for block in setup.split("```sh\n")[1:]]
    assert commands == ["bash scripts/run.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_every_service_has_a_readme_naming_its_topics() -> None:
    for service in ("reception", "assessment", "referral", "followup"):
        text = (ROOT / "services" / service / "README.md").read_text()
        assert f"reintegra.{service}.events.v1" in text
