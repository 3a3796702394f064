"""Enforcement: one FastAPI dependency per service that authenticates the caller and applies the policy.

Usage (once, where the service's app is built)::

    authorizer = Authorizer.from_settings(settings, record_scope=my_record_scope)
    app = FastAPI(dependencies=[Depends(authorizer)])

For each request it finds the matched route's template (``request.scope["route"].path``) and:

1. lets ``/livez``, ``/readyz`` and ``/metrics`` through (open by design, listed in the policy);
2. refuses with 401 when the bearer token is missing or cannot be trusted;
3. refuses with 403 when the route has no policy entry (nothing is open by omission), when none of the
   caller's roles is granted the route's operation, or when the record is outside the granted scope;
4. otherwise stores an :class:`Access` in ``request.state.access`` (also returned): the caller, the
   operation, the granted scopes and a :class:`RecordFilter` that list routes apply to their query.

Whose record a request touches is told by the service's one **record-scope function**
(``async (request) -> RecordScope | None``): the centre, agency and country of the record that the
path names (or that the body creates), or ``None`` for a list or a record that does not exist (the
route then answers 404 itself). Handlers never check access themselves.

Every refusal is logged (``access.refused``: service, rule, operation, route template, subject,
agency, roles — no personal data of returnees, no token) and counted in
``reintegra_access_refused_total{service,rule}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter

from ..logging import get_logger
from .policy import Policy, Route, Scope, load_policy
from .tokens import (
    ClaimNames,
    InvalidTokenError,
    JwksCache,
    KeysUnavailableError,
    Principal,
    TokenVerifier,
    split_names,
)

if TYPE_CHECKING:
    from ..settings import ServiceSettings

log = get_logger(__name__)

ACCESS_REFUSED = Counter(
    "reintegra_access_refused",
    "HTTP requests refused by authentication or the access policy, by service and refusing rule.",
    ["service", "rule"],
)

REALM = "reintegra"

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An OAuth 2.0 access token (JWT) of the configured OpenID Connect provider. "
    "Locally: `uv run reintegra-stack token --role <role> --agency <agency> ...`.",
)


@dataclass(frozen=True)
class RecordScope:
    """Whose record it is: the centre, agency and country it belongs to (``None`` where it has none)."""

    centre: str | None = None
    agency: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class RecordFilter:
    """Which records the caller may see: all, or those of any of the listed centres, agencies or
    countries. A list route translates it into its query (``WHERE centre IN … OR agency IN …``)."""

    unrestricted: bool
    centres: frozenset[str] = frozenset()
    agencies: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()

    @property
    def reaches_nothing(self) -> bool:
        return not (self.unrestricted or self.centres or self.agencies or self.countries)

    def permits(self, record: RecordScope) -> bool:
        return (
            self.unrestricted
            or (record.centre is not None and record.centre in self.centres)
            or (record.agency is not None and record.agency in self.agencies)
            or (record.country is not None and record.country in self.countries)
        )


@dataclass(frozen=True)
class Access:
    """What the dependency granted for this request."""

    principal: Principal
    operation: str
    route: Route
    grants: Mapping[str, Scope]
    """role -> scope, for the caller's roles that are granted the operation"""
    filter: RecordFilter

    def permits(self, record: RecordScope) -> bool:
        return self.filter.permits(record)


RecordScopeFunction = Callable[[Request], Awaitable[RecordScope | None]]


def record_filter(principal: Principal, grants: Mapping[str, Scope]) -> RecordFilter:
    """The records ``grants`` reach for ``principal`` (a scope whose claim the token lacks reaches none)."""
    scopes = set(grants.values())

    def own(scope: Scope, value: str | None) -> frozenset[str]:
        return frozenset({value}) if scope in scopes and value is not None else frozenset()

    return RecordFilter(
        unrestricted=Scope.ALL in scopes,
        centres=own(Scope.OWN_CENTRE, principal.centre),
        agencies=own(Scope.OWN_AGENCY, principal.agency),
        countries=own(Scope.OWN_COUNTRY, principal.country),
    )


class Authorizer:
    """The FastAPI dependency that enforces ``policy`` for ``service``."""

    def __init__(
        self,
        policy: Policy,
        verifier: TokenVerifier | None,
        service: str,
        record_scope: RecordScopeFunction | None = None,
    ) -> None:
        self.policy = policy
        self.verifier = verifier
        self.service = service
        self.record_scope = record_scope
        # FastAPI reads the signature of ``__call__``: the bearer scheme appears in the OpenAPI document
        # (the Authorize button of /docs) while missing credentials stay ours to refuse (401).
        # ``verifier=None``: no identity provider configured. The app can be built (to describe its
        # API: OpenAPI, AsyncAPI) but refuses every protected request; serving refuses to start.

    @classmethod
    def for_service(
        cls,
        settings: ServiceSettings,
        *,
        record_scope: RecordScopeFunction | None = None,
        policy: Policy | None = None,
    ) -> Authorizer:
        """:meth:`from_settings` when an issuer is configured; otherwise an authorizer that refuses
        every protected request (503 ``auth_not_configured``), for building an app only to describe it.
        A process that serves requires the issuer (:func:`require_identity_provider`)."""
        if settings.auth_issuer:
            return cls.from_settings(settings, record_scope=record_scope, policy=policy)
        return cls(
            policy or load_policy(settings.auth_policy_file), None, settings.service_name, record_scope
        )

    @classmethod
    def from_settings(
        cls,
        settings: ServiceSettings,
        *,
        record_scope: RecordScopeFunction | None = None,
        policy: Policy | None = None,
    ) -> Authorizer:
        """The service's authorizer from its ``REINTEGRA_AUTH_*`` settings; there is no way to turn it
        off: without an issuer and an audience the service refuses to start (:class:`SettingsError`)."""
        from ..settings import SettingsError  # the settings module imports this package

        missing = [
            f"REINTEGRA_AUTH_{name.upper()}: required (the OpenID Connect provider whose tokens to accept)"
            for name in ("issuer", "audience")
            if not getattr(settings, f"auth_{name}")
        ]
        if missing:
            raise SettingsError(missing)
        keys = JwksCache(issuer=settings.auth_issuer, jwks_url=settings.auth_jwks_url)
        verifier = TokenVerifier(
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            keys=keys,
            algorithms=split_names(settings.auth_algorithms),
            leeway_s=settings.auth_leeway_s,
            claims=ClaimNames(
                agency=settings.auth_agency_claim,
                country=settings.auth_country_claim,
                centre=settings.auth_centre_claim,
                roles=split_names(settings.auth_roles_claims),
            ),
        )
        return cls(
            policy or load_policy(settings.auth_policy_file),
            verifier,
            settings.service_name,
            record_scope,
        )

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Access | None:
        route = request.scope.get("route")
        template = getattr(route, "path", None)
        method = request.method.upper()
        if isinstance(template, str) and self.policy.is_open(template):
            return None
        where = f"{method} {template}"
        if credentials is None or not credentials.credentials:
            self._refuse_401("missing_token", "a bearer token is required", where, None)
        assert credentials is not None
        if self.verifier is None:
            self._count("auth_not_configured")
            log.error("access.not_configured", service=self.service, route=where)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail="this service has no identity provider configured (REINTEGRA_AUTH_ISSUER): "
                "it cannot verify tokens",
            )
        try:
            principal = await self.verifier.verify(credentials.credentials)
        except InvalidTokenError as exc:
            self._refuse_401(f"token_{exc.reason}", exc.description, where, exc)
        except KeysUnavailableError as exc:
            self._count("keys_unavailable")
            log.error("access.keys_unavailable", service=self.service, route=where, error=str(exc))
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail="cannot verify tokens now: the identity provider's keys are unavailable",
                headers={"Retry-After": "10"},
            ) from None

        entry = self.policy.route(self.service, method, template) if isinstance(template, str) else None
        if entry is None:
            self._refuse_403(
                "no_policy_entry",
                f"no policy entry for {self.service} {where}: routes are closed unless the policy lists them",
                where,
                principal,
                None,
            )
        assert entry is not None
        grants = self.policy.grants(principal.roles, entry.operation)
        if not grants:
            granted = sorted(self.policy.operations[entry.operation].grants)
            self._refuse_403(
                "role_not_granted",
                f"operation {entry.operation!r} ({where}) is not granted to your roles "
                f"({', '.join(sorted(principal.roles)) or 'none'}); it is granted to: "
                f"{', '.join(granted) or 'nobody'}",
                where,
                principal,
                entry.operation,
            )
        reach = record_filter(principal, grants)
        if reach.reaches_nothing:
            needs = ", ".join(f"{role}: {scope.value}" for role, scope in grants.items())
            self._refuse_403(
                "missing_scope_claim",
                f"operation {entry.operation!r} is granted on {needs}, but your token does not say "
                "which centre, agency or country is yours",
                where,
                principal,
                entry.operation,
            )
        access = Access(principal, entry.operation, entry, grants, reach)
        if not reach.unrestricted:
            await self._check_record(request, access, where)
        request.state.access = access
        return access

    async def _check_record(self, request: Request, access: Access, where: str) -> None:
        if self.record_scope is None:
            if access.route.addresses_one_record:
                self._refuse_403(
                    "no_record_scope",
                    f"{self.service} declares no record-scope function, so {where} is allowed only "
                    "to roles granted it on all records",
                    where,
                    access.principal,
                    access.operation,
                )
            return
        record = await self.record_scope(request)
        if record is not None and not access.permits(record):
            granted = ", ".join(f"{role}: {scope.value}" for role, scope in access.grants.items())
            p = access.principal
            yours = ", ".join(
                f"{name} {value}"
                for name, value in (("centre", p.centre), ("agency", p.agency), ("country", p.country))
                if value is not None
            )
            self._refuse_403(
                "outside_scope",
                f"the record is outside your scope: {access.operation!r} is granted to you on "
                f"{granted} (yours: {yours or 'none'})",
                where,
                p,
                access.operation,
            )

    # -- refusals ------------------------------------------------------------------------------

    def _count(self, rule: str) -> None:
        ACCESS_REFUSED.labels(service=self.service, rule=rule).inc()

    def _refuse_401(self, rule: str, description: str, where: str, exc: Exception | None) -> None:
        self._count(rule)
        log.warning("access.refused", service=self.service, status=401, rule=rule, route=where)
        challenge = f'Bearer realm="{REALM}"'
        if rule != "missing_token":  # RFC 6750 3.1: no error code when no credentials were sent
            challenge += f', error="invalid_token", error_description="{_quote(description)}"'
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"{description} (rule {rule})",
            headers={"WWW-Authenticate": challenge},
        ) from exc

    def _refuse_403(
        self, rule: str, message: str, where: str, principal: Principal, operation: str | None
    ) -> None:
        self._count(rule)
        fields: dict[str, Any] = {
            "service": self.service,
            "status": 403,
            "rule": rule,
            "route": where,
            "operation": operation,
            "subject": principal.subject,
            "agency": principal.agency,
            "roles": sorted(principal.roles),
        }
        log.warning("access.refused", **fields)
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{message} (rule {rule})")


def require_identity_provider(settings: ServiceSettings) -> None:
    """Refuse to serve (:class:`SettingsError`, exit status 2) without an OpenID Connect provider:
    there is no switch that serves without authentication."""
    from ..settings import SettingsError

    if not settings.auth_issuer or not settings.auth_audience:
        raise SettingsError(
            [
                "REINTEGRA_AUTH_ISSUER and REINTEGRA_AUTH_AUDIENCE: required to serve (the OpenID Connect "
                "provider whose tokens to accept; locally `reintegra-stack up` starts one and sets them)"
            ]
        )


def _quote(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")


async def current_access(request: Request) -> Access:
    """The :class:`Access` the authorizer granted to this request (for list routes to filter with).

    A route that asks for it on an app without the authorizer fails loudly rather than show everything.
    Async although it awaits nothing: FastAPI runs a plain ``def`` dependency in its thread pool, a
    thread hand-off on every request for what is an attribute read.
    """
    access = getattr(request.state, "access", None)
    if not isinstance(access, Access):
        raise RuntimeError("no access decision on this request: is the Authorizer installed on the app?")
    return access


CurrentAccess = Annotated[Access, Depends(current_access)]
