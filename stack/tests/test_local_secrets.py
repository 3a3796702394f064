"""The local stack generates reception's secrets once into .local/keys and gives them to reception only."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from reintegra_stack.processes import Layout, Service, service_env, services


def by_name(name: str) -> Service:
    return next(s for s in services() if s.name == name)


def test_reception_gets_a_key_encryption_key_and_a_blind_index_secret_kept_for_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REINTEGRA_KEY_ENCRYPTION_KEY", "REINTEGRA_BLIND_INDEX_SECRET"):
        monkeypatch.delenv(name, raising=False)
    layout = Layout(tmp_path)
    first = service_env(layout, by_name("reception"), "127.0.0.1:9092")
    kek, secret = first["REINTEGRA_KEY_ENCRYPTION_KEY"], first["REINTEGRA_BLIND_INDEX_SECRET"]
    assert len(base64.b64decode(kek)) == 32
    assert len(base64.b64decode(secret)) == 32
    assert kek != secret
    stored = tmp_path / ".local" / "keys" / "REINTEGRA_KEY_ENCRYPTION_KEY"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    again = service_env(layout, by_name("reception"), "127.0.0.1:9092")
    assert again["REINTEGRA_KEY_ENCRYPTION_KEY"] == kek  # the data sealed yesterday opens today
    assert "REINTEGRA_KEY_ENCRYPTION_KEY" not in service_env(layout, by_name("referral"), "x:1")
    monkeypatch.setenv("REINTEGRA_KEY_ENCRYPTION_KEY", "from-the-operator")
    assert (
        service_env(layout, by_name("reception"), "x:1")["REINTEGRA_KEY_ENCRYPTION_KEY"]
        == "from-the-operator"
    )
