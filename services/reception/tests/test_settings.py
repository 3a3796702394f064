"""Reception's secrets: named when wrong, never shown, required to serve (not to be described)."""

from __future__ import annotations

import base64
import os

import pytest
from reintegra_kit.settings import SettingsError, load_settings
from reintegra_reception.bootstrap import build, build_to_serve
from reintegra_reception.settings import ReceptionSettings


def test_a_bad_key_is_named_and_its_value_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    leaked = base64.b64encode(os.urandom(16)).decode()  # 16 bytes: not a key
    monkeypatch.setenv("REINTEGRA_KEY_ENCRYPTION_KEY", leaked)
    monkeypatch.setenv("REINTEGRA_BLIND_INDEX_SECRET", "not base64!")
    monkeypatch.setenv("REINTEGRA_PREVIOUS_KEY_ENCRYPTION_KEYS", f"{leaked},x")
    with pytest.raises(SettingsError) as caught:
        load_settings(ReceptionSettings)
    message = str(caught.value)
    assert "REINTEGRA_KEY_ENCRYPTION_KEY: Value error, the value must be 32 bytes" in message
    assert "REINTEGRA_BLIND_INDEX_SECRET: Value error, the value is not base64 text" in message
    assert (
        "REINTEGRA_PREVIOUS_KEY_ENCRYPTION_KEYS: Value error, key 1 of the list must be 32 bytes" in message
    )
    assert leaked not in message
    assert "not base64!" not in message


def test_the_keys_are_required_to_serve_but_not_to_describe_the_service(tmp_path: object) -> None:
    settings = ReceptionSettings(kafka_bootstrap_servers="127.0.0.1:1", data_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(SettingsError) as caught:
        build_to_serve(settings)
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "REINTEGRA_KEY_ENCRYPTION_KEY",
        "REINTEGRA_BLIND_INDEX_SECRET",
    ]
    _, app = build(settings)  # the OpenAPI and AsyncAPI documents need no keys
    assert "/v1/contact-lookups" in app.openapi()["paths"]
    key = base64.b64encode(os.urandom(32)).decode()
    ready = ReceptionSettings(
        kafka_bootstrap_servers="127.0.0.1:1",
        data_dir=tmp_path,  # type: ignore[arg-type]
        key_encryption_key=key,  # type: ignore[arg-type]
        blind_index_secret=base64.b64encode(os.urandom(32)).decode(),  # type: ignore[arg-type]
        previous_key_encryption_keys=key,  # type: ignore[arg-type]
    )
    assert ready.keys.ring.current_id in ready.keys.ring.ids
    shown = repr(ready.keys.ring) + repr(ready.keys.blind_index) + repr(ready)
    assert key not in shown
    assert repr(base64.b64decode(key)) not in shown  # ids only, never a key's bytes
