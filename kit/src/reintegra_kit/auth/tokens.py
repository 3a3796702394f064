"""OAuth 2.0 bearer tokens (JWT) from any OpenID Connect provider, verified against its JWKS.

Verification is PyJWT's (signature, ``iss``, ``aud``, ``exp``/``nbf``/``iat`` with a leeway); this module
only fetches and caches the provider's keys and turns the claims into a :class:`Principal`. Symmetric
algorithms (HS*) and ``none`` are never accepted, whatever the configuration says: the allow-list is
checked before any key is looked up, and each key is bound to the algorithm it is used with.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from reintegra_contracts.topics import AGENCY_CODE_PATTERN

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""The only algorithms a deployment may allow; HS* (shared secrets) and ``none`` are never among them."""

DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")
MAX_TOKEN_BYTES = 16_384
VERIFIED_TOKENS_KEPT = 4096  # distinct callers' tokens remembered as verified (least recently used go)
_AGENCY = re.compile(AGENCY_CODE_PATTERN)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CENTRE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class InvalidTokenError(Exception):
    """The bearer token is missing or cannot be trusted. ``reason`` is a short code (a metrics label and
    the refusal rule); the message says what is wrong without echoing the token."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description


class KeysUnavailableError(Exception):
    """The provider's keys cannot be fetched (and none are cached): tokens cannot be checked now."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, from the token's claims."""

    subject: str
    agency: str | None
    country: str | None
    centre: str | None
    roles: frozenset[str]


@dataclass(frozen=True)
class ClaimNames:
    """Where the provider puts what the policy needs; dotted names reach into objects
    (``realm_access.roles`` is Keycloak's list of realm roles). Roles are gathered from every listed claim."""

    subject: str = "sub"
    agency: str = "reintegra_agency"
    country: str = "reintegra_country"
    centre: str = "reintegra_centre"
    roles: tuple[str, ...] = ("roles", "realm_access.roles")


def _claim(claims: Mapping[str, Any], dotted: str) -> Any:
    value: Any = claims
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def principal_from_claims(claims: Mapping[str, Any], names: ClaimNames) -> Principal:
    """The caller of verified ``claims``; a claim of the wrong shape makes the token invalid."""
    subject = _claim(claims, names.subject)
    if not isinstance(subject, str) or not subject:
        raise InvalidTokenError("claims", f"claim {names.subject!r} (subject) is missing")

    def attribute(name: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = _claim(claims, name)
        if value is None or value == "":
            return None
        if isinstance(value, list) and len(value) == 1:  # a single-valued user attribute as a list
            value = value[0]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise InvalidTokenError("claims", f"claim {name!r} is not {what}")
        return value

    roles: set[str] = set()
    for name in names.roles:
        value = _claim(claims, name)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
            raise InvalidTokenError("claims", f"claim {name!r} is not a list of role names")
        roles.update(value)
    return Principal(
        subject=subject,
        agency=attribute(names.agency, _AGENCY, "an agency code"),
        country=attribute(names.country, _COUNTRY, "a two-letter country code"),
        centre=attribute(names.centre, _CENTRE, "a centre code"),
        roles=frozenset(roles),
    )


@dataclass
class JwksCache:
    """The provider's public keys, fetched over HTTP(S) and kept by ``kid``.

    Refreshed when older than ``max_age_s`` and when a token names a ``kid`` not seen yet (key
    rotation), but never more often than every ``min_refresh_interval_s``, so a stream of tokens with
    made-up key ids cannot turn into a stream of requests to the provider. Without ``jwks_url`` the
    address comes from the issuer's ``/.well-known/openid-configuration``.
    """

    issuer: str
    jwks_url: str = ""
    max_age_s: float = 600.0
    min_refresh_interval_s: float = 10.0
    timeout_s: float = 5.0
    monotonic: Callable[[], float] = time.monotonic
    transport: httpx.AsyncBaseTransport | None = None
    _keys: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _fetched_at: float | None = field(default=None, init=False, repr=False)
    _attempted_at: float | None = field(default=None, init=False, repr=False)
    _last_error: str = field(default="", init=False, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    fetches: int = field(default=0, init=False)
    """How many times the key set was fetched (observable in tests and logs)."""

    async def key(self, kid: str) -> dict[str, Any] | None:
        """The JWK with ``kid``, refreshing the set once if it is unknown or stale; ``None`` if unknown."""
        stale = self._fetched_at is None or self.monotonic() - self._fetched_at > self.max_age_s
        if kid not in self._keys or stale:
            await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:
            now = self.monotonic()
            if self._attempted_at is not None and now - self._attempted_at < self.min_refresh_interval_s:
                if not self._keys and self._last_error:  # rate limit: the last attempt was a moment ago
                    raise KeysUnavailableError(self._last_error)
                return
            self._attempted_at = now
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                self._last_error = f"cannot fetch the signing keys: {type(exc).__name__}: {exc}"
                if self._keys:
                    return  # keep serving the keys we have; try again after the interval
                raise KeysUnavailableError(self._last_error) from None
            self._keys = keys
            self._fetched_at = now
            self._last_error = ""

    async def _fetch(self) -> dict[str, dict[str, Any]]:
        async with httpx.AsyncClient(timeout=self.timeout_s, transport=self.transport) as http:
            url = self.jwks_url or await self._discover(http)
            response = await http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        self.fetches += 1
        if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
            raise ValueError(f"{url} is not a JWK set (no 'keys' list)")
        keys: dict[str, dict[str, Any]] = {}
        for jwk_data in document["keys"]:
            if not isinstance(jwk_data, Mapping) or not isinstance(jwk_data.get("kid"), str):
                continue  # keys without kid cannot be chosen safely
            if jwk_data.get("use", "sig") != "sig" or jwk_data.get("kty") == "oct":
                continue  # encryption keys and shared secrets are never signature keys here
            keys[jwk_data["kid"]] = dict(jwk_data)
        return keys

    async def _discover(self, http: httpx.AsyncClient) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = await http.get(url)
        response.raise_for_status()
        config = response.json()
        if not isinstance(config, Mapping) or config.get("issuer") != self.issuer:
            raise ValueError(f"{url} names another issuer than {self.issuer!r}")
        jwks_uri = config.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError(f"{url} gives no jwks_uri")
        self.jwks_url = jwks_uri
        return jwks_uri


class TokenVerifier:
    """Verifies bearer tokens of one issuer and audience and returns the caller."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: JwksCache,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway_s: float = 30.0,
        claims: ClaimNames | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        refused = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if refused or not algorithms:
            raise ValueError(
                f"algorithms {', '.join(refused) or '(none given)'} not allowed: use some of "
                + ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
            )
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.algorithms = tuple(algorithms)
        self.leeway_s = leeway_s
        self.claims = claims or ClaimNames()
        self.wall_clock = wall_clock
        self._jwk_cache: dict[tuple[str, str, str], jwt.PyJWK] = {}
        # Tokens verified already (a client sends the same one until it expires): the signature is
        # checked once, not on every request (it was most of an authorised request's CPU). A hit is
        # trusted only while the token has not expired and its signing key is still the issuer's,
        # unchanged (a key removed from the set refuses its tokens at once, as without the cache).
        self._verified: OrderedDict[str, tuple[Principal, float, str, dict[str, Any]]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The caller of ``token``; :class:`InvalidTokenError` (with a reason) when it cannot be trusted."""
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidTokenError("malformed", "token too large")
        hit = self._verified.get(token)
        if hit is not None:
            principal, expires, kid, jwk_data = hit
            if self.wall_clock() > expires + self.leeway_s:
                del self._verified[token]
                raise InvalidTokenError("expired", "token expired")
            if await self.keys.key(kid) == jwk_data:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]  # its key changed or was withdrawn: verified afresh (and refused)
        principal, expires, kid, jwk_data = await self._verify(token)
        self._verified[token] = (principal, expires, kid, jwk_data)
        if len(self._verified) > VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float, str, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise InvalidTokenError("malformed", "token is not a JWT (header.payload.signature)") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise InvalidTokenError(
                "algorithm", f"algorithm {alg!r} not allowed (allowed: {', '.join(self.algorithms)})"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("unknown_key", "token header has no key id (kid)")
        key, jwk_data = await self._key(kid, alg)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("expired", "token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidTokenError(
                "not_yet_valid", "token not valid yet (nbf or iat in the future)"
            ) from None
        except jwt.InvalidAudienceError:
            raise InvalidTokenError(
                "audience", f"token is not meant for audience {self.audience!r}"
            ) from None
        except jwt.InvalidIssuerError:
            raise InvalidTokenError("issuer", f"token was not issued by {self.issuer!r}") from None
        except jwt.InvalidSignatureError:
            raise InvalidTokenError("signature", "signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidTokenError("claims", f"claim {exc.claim!r} is missing") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidTokenError(
                "algorithm", f"algorithm {alg!r} does not match the signing key"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise InvalidTokenError("malformed", f"token rejected: {type(exc).__name__}") from None
        return principal_from_claims(claims, self.claims), float(claims["exp"]), kid, jwk_data

    async def _key(self, kid: str, alg: str) -> tuple[jwt.PyJWK, dict[str, Any]]:
        jwk_data = await self.keys.key(kid)
        if jwk_data is None:
            raise InvalidTokenError("unknown_key", f"signing key {kid!r} is not one of the issuer's keys")
        cache_key = (kid, alg, json.dumps(jwk_data, sort_keys=True))
        cached = self._jwk_cache.get(cache_key)
        if cached is not None:
            return cached, jwk_data
        if jwk_data.get("alg", alg) != alg:
            raise InvalidTokenError("algorithm", f"key {kid!r} is for {jwk_data['alg']}, token uses {alg}")
        try:
            key = jwt.PyJWK(jwk_data, algorithm=alg)
        except (jwt.PyJWKError, jwt.InvalidKeyError, KeyError, ValueError):
            raise InvalidTokenError("algorithm", f"key {kid!r} cannot verify {alg} signatures") from None
        if len(self._jwk_cache) > 64:
            self._jwk_cache.clear()
        self._jwk_cache[cache_key] = key
        return key, jwk_data


def split_names(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"RS256, ES256"`` -> ``("RS256", "ES256")`` (comma-separated settings)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(a.strip() for a in items if a.strip())
