"""Bearer-token verification against a real JWK set served over HTTP: each bad token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from reintegra_kit.auth.issuing import JwksServer, SigningKey, access_token_claims
from reintegra_kit.auth.tokens import (
    ClaimNames,
    InvalidTokenError,
    JwksCache,
    KeysUnavailableError,
    TokenVerifier,
)

AUDIENCE = "reintegra"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("ES256")


@pytest.fixture
def issuer(key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer([key]).start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(issuer: JwksServer, clock: Clock) -> TokenVerifier:
    keys = JwksCache(issuer=issuer.issuer, jwks_url=issuer.jwks_url, monotonic=clock)
    return TokenVerifier(issuer=issuer.issuer, audience=AUDIENCE, keys=keys, leeway_s=30)


def claims(issuer: JwksServer, **overrides: Any) -> dict[str, Any]:
    base = access_token_claims(
        issuer=issuer.issuer,
        audience=AUDIENCE,
        subject="user-1",
        roles=["agency_partner"],
        agency="hn-senaf",
        country="HN",
    )
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def refused(verifier: TokenVerifier, token: str) -> InvalidTokenError:
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(token)
    return caught.value


async def test_a_good_token_gives_the_caller(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey
) -> None:
    principal = await verifier.verify(key.sign(claims(issuer, reintegra_centre="HN-CAMR-SPS")))
    assert principal.subject == "user-1"
    assert principal.agency == "hn-senaf"
    assert principal.country == "HN"
    assert principal.centre == "HN-CAMR-SPS"
    assert principal.roles == frozenset({"agency_partner"})


async def test_keycloak_realm_roles_are_read_too(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey
) -> None:
    token = key.sign(claims(issuer, roles=None, realm_access={"roles": ["case_worker", "offline_access"]}))
    principal = await verifier.verify(token)
    assert principal.roles == frozenset({"case_worker", "offline_access"})


async def test_malformed_token_is_refused(verifier: TokenVerifier) -> None:
    for token in ("not-a-token", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30"):
        assert (await refused(verifier, token)).reason == "malformed"


async def test_expired_token_is_refused(verifier: TokenVerifier, issuer: JwksServer, key: SigningKey) -> None:
    now = int(time.time())
    token = key.sign(claims(issuer, iat=now - 7200, nbf=now - 7200, exp=now - 60))
    error = await refused(verifier, token)
    assert (error.reason, error.description) == ("expired", "token expired")


async def test_expiry_within_the_leeway_is_tolerated(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey
) -> None:
    now = int(time.time())
    token = key.sign(claims(issuer, iat=now - 3600, nbf=now - 3600, exp=now - 10))
    assert (await verifier.verify(token)).subject == "user-1"


async def test_token_not_valid_yet_is_refused(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey
) -> None:
    now = int(time.time())
    token = key.sign(claims(issuer, nbf=now + 300, exp=now + 3600))
    assert (await refused(verifier, token)).reason == "not_yet_valid"


async def test_token_issued_in_the_future_is_refused(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey
) -> None:
    now = int(time.time())
    token = key.sign(claims(issuer, iat=now + 300, nbf=None, exp=now + 3600))
    assert (await refused(verifier, token)).reason == "not_yet_valid"


async def test_wrong_audience_is_refused(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey
) -> None:
    error = await refused(verifier, key.sign(claims(issuer, aud="another-app")))
    assert error.reason == "audience"
    assert "reintegra" in error.description


async def test_wrong_issuer_is_refused(verifier: TokenVerifier, issuer: JwksServer, key: SigningKey) -> None:
    error = await refused(verifier, key.sign(claims(issuer, iss="https://evil.example.org")))
    assert error.reason == "issuer"


async def test_missing_expiry_is_refused(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey
) -> None:
    error = await refused(verifier, key.sign(claims(issuer, exp=None)))
    assert (error.reason, error.description) == ("claims", "claim 'exp' is missing")


async def test_alg_none_is_refused(verifier: TokenVerifier, issuer: JwksServer, key: SigningKey) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": key.kid}).encode())
    payload = b64(json.dumps(claims(issuer)).encode())
    for token in (f"{header}.{payload}.", f"{header}.{payload}.c2lnbmF0dXJl"):
        error = await refused(verifier, token)
        assert error.reason == "algorithm"
        assert "'none' not allowed" in error.description


async def test_hs256_signed_with_the_public_key_is_refused(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey
) -> None:
    """Algorithm confusion: an attacker signs with HMAC, using the issuer's public key as the secret."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    payload = b64(json.dumps(claims(issuer, roles=["operator"])).encode())
    for secret in (key.public_pem(), json.dumps(key.public_jwk()).encode()):
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        error = await refused(verifier, f"{header}.{payload}.{b64(signature)}")
        assert error.reason == "algorithm"


async def test_token_claiming_another_algorithm_than_its_key_is_refused(
    issuer: JwksServer, clock: Clock, key: SigningKey
) -> None:
    rsa_key = SigningKey.generate("RS256")
    issuer.keys = [key, rsa_key]
    keys = JwksCache(issuer=issuer.issuer, jwks_url=issuer.jwks_url, monotonic=clock)
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=AUDIENCE, keys=keys, algorithms=("RS256", "ES256")
    )
    forged = key.sign(claims(issuer), headers={"kid": rsa_key.kid})  # ES256 signature, RSA key's kid
    assert (await refused(verifier, forged)).reason == "algorithm"


async def test_tampered_payload_is_refused(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey
) -> None:
    header, _, signature = key.sign(claims(issuer)).split(".")
    elevated = b64(json.dumps(claims(issuer, roles=["operator"], reintegra_agency="hn-sesal")).encode())
    error = await refused(verifier, f"{header}.{elevated}.{signature}")
    assert (error.reason, error.description) == ("signature", "signature does not verify")


async def test_unknown_kid_is_refused_after_one_refresh(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey, clock: Clock
) -> None:
    await verifier.verify(key.sign(claims(issuer)))
    assert issuer.jwks_requests == 1
    stranger = SigningKey.generate("ES256")
    error = await refused(verifier, stranger.sign(claims(issuer)))
    assert error.reason == "unknown_key"
    assert stranger.kid in error.description
    clock.now += 11  # past the refresh interval: the unknown kid made the cache ask the issuer again
    await refused(verifier, stranger.sign(claims(issuer)))
    assert issuer.jwks_requests == 2


async def test_unknown_kids_cannot_flood_the_issuer(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey, clock: Clock
) -> None:
    await verifier.verify(key.sign(claims(issuer)))
    clock.now += 60
    for _ in range(20):
        await refused(verifier, SigningKey.generate("ES256").sign(claims(issuer)))
    assert issuer.jwks_requests == 2  # one refresh for the first unknown kid, none for the next 19


async def test_key_rotation_accepts_the_new_key(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey, clock: Clock
) -> None:
    await verifier.verify(key.sign(claims(issuer)))
    new_key = SigningKey.generate("ES256")
    issuer.keys = [new_key, key]  # the provider publishes its next key
    clock.now += 11
    principal = await verifier.verify(new_key.sign(claims(issuer, sub="user-2")))
    assert principal.subject == "user-2"
    assert issuer.jwks_requests == 2
    issuer.keys = [new_key]  # the old key is withdrawn: after the cache's max age its tokens are refused
    clock.now += 601
    assert (await refused(verifier, key.sign(claims(issuer)))).reason == "unknown_key"


async def test_a_token_verified_once_is_not_verified_again_until_it_expires(
    issuer: JwksServer, key: SigningKey, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    wall = Clock()
    wall.now = time.time()
    keys = JwksCache(issuer=issuer.issuer, jwks_url=issuer.jwks_url, monotonic=clock)
    verifier = TokenVerifier(issuer=issuer.issuer, audience=AUDIENCE, keys=keys, leeway_s=30, wall_clock=wall)
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token = key.sign(claims(issuer, exp=int(wall.now) + 60))
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert len(decoded) == 1  # the signature was checked once
    wall.now += 60 + 30 + 1  # past its expiry and the leeway: refused as without the cache
    error = await refused(verifier, token)
    assert (error.reason, error.description) == ("expired", "token expired")


async def test_a_verified_token_is_refused_once_its_key_is_withdrawn(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey, clock: Clock
) -> None:
    token = key.sign(claims(issuer))
    await verifier.verify(token)
    issuer.keys = [SigningKey.generate("ES256")]  # the provider withdraws the key that signed it
    clock.now += 601  # past the key set's max age
    assert (await refused(verifier, token)).reason == "unknown_key"


async def test_rsa_keys_verify_rs256_and_ps256(issuer: JwksServer, clock: Clock) -> None:
    for alg in ("RS256", "PS256"):
        rsa_key = SigningKey.generate(alg)
        issuer.keys = [rsa_key]
        keys = JwksCache(issuer=issuer.issuer, jwks_url=issuer.jwks_url, monotonic=clock)
        verifier = TokenVerifier(issuer=issuer.issuer, audience=AUDIENCE, keys=keys)
        assert (await verifier.verify(rsa_key.sign(claims(issuer)))).subject == "user-1"


async def test_jwks_url_is_discovered_from_the_issuer(
    issuer: JwksServer, key: SigningKey, clock: Clock
) -> None:
    keys = JwksCache(issuer=issuer.issuer, monotonic=clock)
    verifier = TokenVerifier(issuer=issuer.issuer, audience=AUDIENCE, keys=keys)
    assert (await verifier.verify(key.sign(claims(issuer)))).agency == "hn-senaf"
    assert keys.jwks_url == issuer.jwks_url


async def test_unreachable_jwks_means_keys_unavailable(issuer: JwksServer, key: SigningKey) -> None:
    url = issuer.jwks_url
    issuer.stop()
    keys = JwksCache(issuer=issuer.issuer, jwks_url=url)
    verifier = TokenVerifier(issuer=issuer.issuer, audience=AUDIENCE, keys=keys)
    with pytest.raises(KeysUnavailableError, match="cannot fetch the signing keys"):
        await verifier.verify(key.sign(claims(issuer)))


async def test_claims_of_the_wrong_shape_are_refused(
    verifier: TokenVerifier, issuer: JwksServer, key: SigningKey
) -> None:
    for bad, name in (
        ({"reintegra_agency": "HN SENAF"}, "reintegra_agency"),
        ({"reintegra_country": "Honduras"}, "reintegra_country"),
        ({"roles": "case_worker"}, "roles"),
    ):
        error = await refused(verifier, key.sign(claims(issuer, **bad)))
        assert error.reason == "claims"
        assert name in error.description


async def test_claim_names_are_configurable(issuer: JwksServer, key: SigningKey, clock: Clock) -> None:
    keys = JwksCache(issuer=issuer.issuer, jwks_url=issuer.jwks_url, monotonic=clock)
    names = ClaimNames(agency="org", country="ctry", centre="site", roles=("groups",))
    verifier = TokenVerifier(issuer=issuer.issuer, audience=AUDIENCE, keys=keys, claims=names)
    token = key.sign(claims(issuer, org=["iom-hn"], ctry="HN", site="HN-CAMR-SPS", groups=["auditor"]))
    principal = await verifier.verify(token)
    assert (principal.agency, principal.centre, principal.roles) == (
        "iom-hn",
        "HN-CAMR-SPS",
        frozenset({"auditor"}),
    )


@pytest.mark.parametrize("algorithms", [("HS256",), ("none",), ("RS256", "HS512"), ()])
def test_symmetric_and_none_algorithms_cannot_be_configured(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        TokenVerifier(
            issuer="https://id.example.org",
            audience=AUDIENCE,
            keys=JwksCache(issuer="https://id.example.org"),
            algorithms=algorithms,
        )


def test_pyjwt_itself_refuses_hmac_with_a_pem_key(key: SigningKey) -> None:
    """Defence in depth, independent of our allow-list."""
    with pytest.raises(jwt.InvalidKeyError):
        jwt.encode({"sub": "x"}, key.public_pem(), algorithm="HS256")
