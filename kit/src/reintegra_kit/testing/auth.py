"""A real token issuer for tests: a signing key, its JWK set served over HTTP on loopback, and tokens
for a role at an agency, country or centre — verified by the services exactly as a production
provider's tokens (no bypass).

In a test (fixtures of :mod:`reintegra_kit.testing.pytest_plugin`)::

    def test_x(auth: TestIssuer) -> None:
        headers = auth.headers("case_worker", centre="HN-CAMR-SPS", country="HN")
        env = auth.env()            # REINTEGRA_AUTH_* for a service process
        settings = Settings(**auth.settings())   # the same, for a service built in-process
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..auth import Authorizer, JwksCache, Policy, RecordScopeFunction, TokenVerifier, load_policy
from ..auth.issuing import JwksServer, SigningKey, access_token_claims
from ..auth.policy import parse_policy

AUDIENCE = "reintegra"

HN_CENTRE = "HN-CAMR-SPS"
"""The reception centre most tests register arrivals at (San Pedro Sula, Honduras)."""

STAFF_ROLES = (
    "reception_officer",
    "case_worker",
    "protection_officer",
    "mental_health_professional",
    "referral_coordinator",
    "directory_manager",
)
"""The roles of a centre's staff member who does every step of a case (tests of whole flows)."""


class TestIssuer:
    """A started issuer: ``issuer``, ``jwks_url``, and tokens signed by its key."""

    __test__ = False  # not a test class

    def __init__(self, audience: str = AUDIENCE, algorithm: str = "ES256") -> None:
        self.key = SigningKey.generate(algorithm)
        self.audience = audience
        self.server = JwksServer([self.key]).start()

    @property
    def issuer(self) -> str:
        return self.server.issuer

    @property
    def jwks_url(self) -> str:
        return self.server.jwks_url

    def stop(self) -> None:
        self.server.stop()

    def settings(self) -> dict[str, Any]:
        """Keyword arguments of a service's settings that accept this issuer's tokens."""
        return {"auth_issuer": self.issuer, "auth_audience": self.audience, "auth_jwks_url": self.jwks_url}

    def env(self) -> dict[str, str]:
        """The same as environment variables, for a service process."""
        return {f"REINTEGRA_{name.upper()}": value for name, value in self.settings().items()}

    def authorizer(
        self,
        service: str,
        *,
        policy: Policy | None = None,
        record_scope: RecordScopeFunction | None = None,
    ) -> Authorizer:
        """An authorizer of ``service`` that trusts this issuer (``policy``: the kit's by default)."""
        verifier = TokenVerifier(
            issuer=self.issuer,
            audience=self.audience,
            keys=JwksCache(issuer=self.issuer, jwks_url=self.jwks_url),
        )
        return Authorizer(policy or load_policy(), verifier, service, record_scope)

    def token(
        self,
        *roles: str,
        agency: str | None = None,
        country: str | None = None,
        centre: str | None = None,
        subject: str | None = None,
        ttl_s: int = 3600,
        **claims: Any,
    ) -> str:
        """A signed access token for ``roles`` (``claims`` override or add any claim)."""
        body = access_token_claims(
            issuer=self.issuer,
            audience=self.audience,
            subject=subject,
            roles=roles,
            agency=agency,
            country=country,
            centre=centre,
            ttl_s=ttl_s,
        )
        return self.key.sign({**body, **claims})

    def headers(
        self,
        *roles: str,
        agency: str | None = None,
        country: str | None = None,
        centre: str | None = None,
        **claims: Any,
    ) -> dict[str, str]:
        """``{"Authorization": "Bearer …"}`` for ``roles`` at ``agency``/``country``/``centre``."""
        token = self.token(*roles, agency=agency, country=country, centre=centre, **claims)
        return {"Authorization": f"Bearer {token}"}

    def staff(
        self, centre: str = HN_CENTRE, country: str = "HN", roles: Iterable[str] = STAFF_ROLES
    ) -> dict[str, str]:
        """Headers of a centre's staff member with every case role (a whole flow in one test)."""
        return self.headers(*roles, centre=centre, country=country)

    def everyone(
        self, centre: str = HN_CENTRE, country: str = "HN", agency: str = "hn-senaf"
    ) -> dict[str, str]:
        """Headers of a caller holding every role of the kit's policy, at one centre, country and agency
        (a fuzzer that must reach every route; its scope still limits which records it sees)."""
        return self.headers(*load_policy().roles, centre=centre, country=country, agency=agency)

    def agency(self, agency: str, country: str = "HN") -> dict[str, str]:
        """Headers of an agency partner (sees and answers only the referrals sent to ``agency``)."""
        return self.headers("agency_partner", agency=agency, country=country)


def policy_for(service: str, routes: Iterable[str], role: str = "operator", scope: str = "all") -> Policy:
    """A policy granting ``role`` (on ``scope``) one operation for each of ``routes`` of ``service``
    (``"GET /v1/things/{thing_id}"``): for the kit's own tests of apps that are not services."""
    roles = ("reception_officer", "case_worker", "agency_partner", "me_analyst", "operator")
    return parse_policy(
        {
            "version": 1,
            "open": {"paths": ["/livez", "/readyz", "/metrics"]},
            "roles": {r: r.replace("_", " ") for r in {*roles, role}},
            "operations": {"test.any": {"description": "Anything.", "grants": {role: scope}}},
            "routes": {service: dict.fromkeys(routes, "test.any")},
        },
        source=f"<test policy of {service}>",
    )
