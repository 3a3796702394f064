from __future__ import annotations

from pathlib import Path

import pytest
from reintegra_kit.settings import ServiceSettings, SettingsError, load_settings


def test_defaults_give_an_embedded_sqlite_database_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REINTEGRA_SERVICE_NAME", "assessment")
    monkeypatch.setenv("REINTEGRA_DATA_DIR", "/tmp/data")
    settings = load_settings(ServiceSettings)
    assert settings.effective_database_url == "sqlite+aiosqlite:////tmp/data/assessment.db"
    assert settings.effective_consumer_group == "reintegra-assessment"
    assert settings.event_source == "/reintegra/assessment"
    assert settings.data_dir == Path("/tmp/data")


def test_each_bad_value_is_named_with_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REINTEGRA_HTTP_PORT", "99999")
    monkeypatch.setenv("REINTEGRA_KAFKA_BOOTSTRAP_SERVERS", "localhost")
    monkeypatch.setenv("REINTEGRA_DATABASE_URL", "mysql://x")
    monkeypatch.setenv("REINTEGRA_LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError) as caught:
        load_settings(ServiceSettings)
    message = str(caught.value)
    for name in (
        "REINTEGRA_HTTP_PORT",
        "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS",
        "REINTEGRA_DATABASE_URL",
        "REINTEGRA_LOG_LEVEL",
    ):
        assert name in message
    assert len(caught.value.problems) == 4
    assert "'localhost' is not host:port" in message


def test_topic_prefix_rejects_characters_kafka_does_not_allow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REINTEGRA_TOPIC_PREFIX", "bad prefix/")
    with pytest.raises(SettingsError, match="REINTEGRA_TOPIC_PREFIX"):
        load_settings(ServiceSettings)
