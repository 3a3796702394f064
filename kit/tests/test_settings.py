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


def test_auth_settings_are_read_and_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("version = 1\n")
    monkeypatch.setenv("REINTEGRA_AUTH_ISSUER", "https://id.example.org/realms/reintegra")
    monkeypatch.setenv("REINTEGRA_AUTH_AUDIENCE", "reintegra")
    monkeypatch.setenv("REINTEGRA_AUTH_ALGORITHMS", "RS256, ES256")
    monkeypatch.setenv("REINTEGRA_AUTH_LEEWAY_S", "10")
    monkeypatch.setenv("REINTEGRA_AUTH_POLICY_FILE", str(policy))
    settings = load_settings(ServiceSettings)
    assert (settings.auth_issuer, settings.auth_audience, settings.auth_leeway_s) == (
        "https://id.example.org/realms/reintegra",
        "reintegra",
        10.0,
    )
    assert settings.auth_policy_file == policy


@pytest.mark.parametrize("algorithms", ["HS256", "none", "RS256,HS512", ""])
def test_symmetric_or_none_algorithms_are_refused(monkeypatch: pytest.MonkeyPatch, algorithms: str) -> None:
    monkeypatch.setenv("REINTEGRA_AUTH_ALGORITHMS", algorithms)
    with pytest.raises(SettingsError, match=r"REINTEGRA_AUTH_ALGORITHMS: .*never accepted"):
        load_settings(ServiceSettings)


def test_a_plain_http_issuer_is_allowed_only_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REINTEGRA_AUTH_AUDIENCE", "reintegra")
    for local in ("http://127.0.0.1:8100", "http://localhost:8100", "http://[::1]:8100"):
        monkeypatch.setenv("REINTEGRA_AUTH_ISSUER", local)
        assert load_settings(ServiceSettings).auth_issuer == local
    monkeypatch.setenv("REINTEGRA_AUTH_ISSUER", "http://id.example.org")
    with pytest.raises(SettingsError, match=r"REINTEGRA_AUTH_ISSUER: .*plain http only on a loopback"):
        load_settings(ServiceSettings)
    monkeypatch.setenv("REINTEGRA_AUTH_ISSUER", "https://id.example.org")
    monkeypatch.setenv("REINTEGRA_AUTH_JWKS_URL", "ftp://id.example.org/keys")
    with pytest.raises(SettingsError, match="REINTEGRA_AUTH_JWKS_URL"):
        load_settings(ServiceSettings)


def test_issuer_and_audience_go_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REINTEGRA_AUTH_ISSUER", "https://id.example.org")
    with pytest.raises(SettingsError, match="REINTEGRA_AUTH_ISSUER and REINTEGRA_AUTH_AUDIENCE go together"):
        load_settings(ServiceSettings)


def test_missing_policy_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REINTEGRA_AUTH_POLICY_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match=r"REINTEGRA_AUTH_POLICY_FILE: .*no such file"):
        load_settings(ServiceSettings)


def test_sasl_needs_a_user_and_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REINTEGRA_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(SettingsError, match="needs REINTEGRA_KAFKA_USERNAME and REINTEGRA_KAFKA_PASSWORD"):
        load_settings(ServiceSettings)
    monkeypatch.setenv("REINTEGRA_KAFKA_USERNAME", "reintegra-reception")
    monkeypatch.setenv("REINTEGRA_KAFKA_PASSWORD", "s3cret-pw")
    settings = load_settings(ServiceSettings)
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert "s3cret-pw" not in repr(settings)


def test_bad_kafka_protocol_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REINTEGRA_KAFKA_SECURITY_PROTOCOL", "SSL_PLEASE")
    with pytest.raises(SettingsError, match="REINTEGRA_KAFKA_SECURITY_PROTOCOL"):
        load_settings(ServiceSettings)


def test_each_kind_of_topic_gets_its_own_deliberate_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REINTEGRA_PARTNER_RETENTION_MS", "3600000")
    settings = load_settings(ServiceSettings)
    assert settings.retention_ms("reintegra.reception.events.v1") == 30 * 24 * 3600 * 1000
    assert settings.retention_ms("reintegra.reception.events.v1.dlq") == 30 * 24 * 3600 * 1000
    assert settings.retention_ms("reintegra.partner.hn-senaf.v1") == 3_600_000
    assert settings.retention_ms("reintegra.partner.hn-senaf.responses.v1") == 3_600_000
    assert settings.retention_ms("reintegra.partner.hn-senaf.responses.v1.dlq") == 30 * 24 * 3600 * 1000


def test_a_topic_kept_forever_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REINTEGRA_TOPIC_RETENTION_MS", "-1")
    with pytest.raises(SettingsError, match="REINTEGRA_TOPIC_RETENTION_MS"):
        load_settings(ServiceSettings)
