"""The local issuer: `python -m reintegra_stack.issuer` serves a JWK set over HTTP, and
`reintegra-stack token` prints tokens that the kit's verifier accepts against it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from reintegra_kit.auth.tokens import JwksCache, TokenVerifier
from reintegra_stack import issuer
from reintegra_stack.cli import app
from reintegra_stack.processes import Layout, issuer_service, service_env
from typer.testing import CliRunner


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def issuer_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"REINTEGRA_ISSUER_PORT": str(free_port()), "REINTEGRA_ISSUER_KEY_FILE": str(tmp_path / "key.pem")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def running_issuer(issuer_env: dict[str, str]) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "reintegra_stack.issuer"],
        env={**os.environ, **issuer_env},
        stderr=subprocess.PIPE,
        text=True,
    )
    url = issuer.issuer_url()
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "issuer not ready"
        time.sleep(0.1)
    yield url
    process.terminate()
    assert process.wait(10) == 0


def run_token(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["token", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_issuer_serves_discovery_and_its_jwks(running_issuer: str, issuer_env: dict[str, str]) -> None:
    config = httpx.get(f"{running_issuer}/.well-known/openid-configuration").json()
    assert config["issuer"] == running_issuer
    assert config["jwks_uri"] == f"{running_issuer}/jwks.json"
    [jwk] = httpx.get(config["jwks_uri"]).json()["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert "d" not in jwk  # never the private part
    key_file = Path(issuer_env["REINTEGRA_ISSUER_KEY_FILE"])
    assert key_file.stat().st_mode & 0o777 == 0o600


async def test_a_printed_token_verifies_against_the_served_jwks(running_issuer: str) -> None:
    code, out, err = run_token(
        "--role", "agency_partner", "--agency", "hn-senaf", "--country", "HN", "--ttl", "600"
    )
    assert code == 0, err
    token = out.strip()
    verifier = TokenVerifier(
        issuer=running_issuer,
        audience="reintegra",
        keys=JwksCache(issuer=running_issuer),  # found through the discovery document
    )
    principal = await verifier.verify(token)
    assert principal.roles == frozenset({"agency_partner"})
    assert (principal.agency, principal.country, principal.centre) == ("hn-senaf", "HN", None)


async def test_centre_subject_and_several_roles(running_issuer: str) -> None:
    code, out, _ = run_token(
        "--role",
        "case_worker",
        "--role",
        "reception_officer",
        "--centre",
        "HN-CAMR-SPS",
        "--subject",
        "staff-1",
    )
    assert code == 0
    verifier = TokenVerifier(
        issuer=running_issuer, audience="reintegra", keys=JwksCache(issuer=running_issuer)
    )
    principal = await verifier.verify(out.strip())
    assert (principal.subject, principal.centre) == ("staff-1", "HN-CAMR-SPS")
    assert principal.roles == {"case_worker", "reception_officer"}


def test_unknown_role_bad_agency_and_country_are_refused(issuer_env: dict[str, str]) -> None:
    code, out, err = run_token("--role", "superuser", "--agency", "HN SENAF", "--country", "Honduras")
    assert code == 2
    assert out == ""
    assert "unknown role 'superuser'; roles of the policy: agency_partner" in err
    assert "--agency 'HN SENAF' is not an agency code" in err
    assert "--country 'Honduras' is not a two-letter country code" in err


def test_services_started_by_the_stack_trust_the_local_issuer(
    issuer_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REINTEGRA_AUTH_ISSUER", "REINTEGRA_AUTH_AUDIENCE", "REINTEGRA_AUTH_JWKS_URL"):
        monkeypatch.delenv(name, raising=False)
    layout = Layout(Path("/repo"))
    env = service_env(layout, issuer_service(), "127.0.0.1:9092")
    url = f"http://127.0.0.1:{issuer_env['REINTEGRA_ISSUER_PORT']}"
    assert env["REINTEGRA_AUTH_ISSUER"] == url
    assert env["REINTEGRA_AUTH_AUDIENCE"] == "reintegra"
    assert env["REINTEGRA_AUTH_JWKS_URL"] == f"{url}/jwks.json"
    monkeypatch.setenv("REINTEGRA_AUTH_ISSUER", "https://id.example.org/realms/reintegra")
    assert service_env(layout, issuer_service(), "x:1")["REINTEGRA_AUTH_ISSUER"] == (
        "https://id.example.org/realms/reintegra"
    )
