"""The benchmarks' token issuer and secrets: every HTTP route needs a bearer token (kit
``reintegra_kit.auth``), and reception seals personal data under a key-encryption key and a
blind-index secret it will not start without.

One issuer per run, private to it — a signing key made at start and its JWK set served on a free
loopback port (:class:`reintegra_kit.testing.auth.TestIssuer`) — never the stack's issuer or its key.
Services the benchmark starts get :meth:`BenchIssuer.env` (the issuer, and reception's two secrets,
random for the run as its databases are fresh) and verify its tokens exactly as a production
provider's (no bypass); the load generators send :meth:`BenchIssuer.staff` headers: a centre's
staff member with every case role (register, record consent, complete assessments).

Importable as ``bench._auth`` (``python -m bench``) and as ``_auth`` (the ``bench/*.py`` scripts).
"""

from __future__ import annotations

import base64
import os

from reintegra_kit.testing.auth import HN_CENTRE, STAFF_ROLES, TestIssuer

TOKEN_TTL_S = 24 * 3600
"""Long enough for the longest run (a fault storm of hours); tokens are made once per run."""


class BenchIssuer:
    """A started issuer; :meth:`stop` it at the end of the run."""

    def __init__(self) -> None:
        self._issuer = TestIssuer()
        self._secrets = {
            name: base64.b64encode(os.urandom(32)).decode()
            for name in ("REINTEGRA_KEY_ENCRYPTION_KEY", "REINTEGRA_BLIND_INDEX_SECRET")
        }

    def env(self) -> dict[str, str]:
        """``REINTEGRA_AUTH_*`` for a service process, so that it trusts this issuer, and reception's
        secrets (the other services ignore them)."""
        return {**self._issuer.env(), **self._secrets}

    def staff(self, centre: str = HN_CENTRE, country: str = "HN") -> dict[str, str]:
        """``{"Authorization": "Bearer …"}`` of a centre's staff member with every case role."""
        token = self._issuer.token(*STAFF_ROLES, centre=centre, country=country, ttl_s=TOKEN_TTL_S)
        return {"Authorization": f"Bearer {token}"}

    def stop(self) -> None:
        self._issuer.stop()
