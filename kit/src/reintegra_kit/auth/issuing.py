"""A minimal OpenID Connect issuer for local runs and tests: signing keys, a JWK set served over HTTP,
and signed access tokens.

It is a real issuer (asymmetric keys, a JWKS, standard claims), not a bypass: services verify its tokens
exactly as they verify Keycloak's. ``reintegra-stack up`` runs one on 127.0.0.1:8100 and
``reintegra-stack token`` prints tokens signed with its key; the kit's tests start their own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class SigningKey:
    """A private key, the algorithm it signs with and its key id (the RFC 7638 thumbprint)."""

    private_key: PrivateKey
    algorithm: str

    @classmethod
    def generate(cls, algorithm: str = "ES256") -> SigningKey:
        if algorithm == "ES256":
            return cls(ec.generate_private_key(ec.SECP256R1()), algorithm)
        if algorithm in {"RS256", "PS256"}:
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm)
        raise ValueError(f"cannot generate a key for {algorithm!r} (ES256, RS256 or PS256)")

    @classmethod
    def load_or_create(cls, path: Path, algorithm: str = "ES256") -> SigningKey:
        """The key kept in ``path`` (PEM, PKCS#8), generated there (mode 0600) the first time."""
        if path.is_file():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(loaded, ec.EllipticCurvePrivateKey):
                return cls(loaded, "ES256")
            if isinstance(loaded, rsa.RSAPrivateKey):
                return cls(loaded, algorithm if algorithm.startswith(("RS", "PS")) else "RS256")
            raise ValueError(f"{path} holds neither an EC nor an RSA private key")
        key = cls.generate(algorithm)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.pem())
        tmp.replace(path)
        return key

    def pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def _public_members(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            members: dict[str, Any] = ECAlgorithm.to_jwk(public, as_dict=True)
            return {k: members[k] for k in ("kty", "crv", "x", "y")}
        members = RSAAlgorithm.to_jwk(public, as_dict=True)
        return {k: members[k] for k in ("kty", "n", "e")}

    @property
    def kid(self) -> str:
        members = self._public_members()
        canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()

    def public_jwk(self) -> dict[str, Any]:
        return {**self._public_members(), "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        return jwt.encode(
            dict(claims),
            self.private_key,
            algorithm=self.algorithm,
            headers={"kid": self.kid, **(headers or {})},
        )


def access_token_claims(
    *,
    issuer: str,
    audience: str,
    subject: str | None = None,
    roles: Sequence[str] = (),
    agency: str | None = None,
    country: str | None = None,
    centre: str | None = None,
    ttl_s: int = 3600,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of an access token as Reintegra reads them (claim names: the kit's defaults)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject or str(uuid.uuid4()),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "jti": str(uuid.uuid4()),
        "roles": list(roles),
    }
    for name, value in (
        ("reintegra_agency", agency),
        ("reintegra_country", country),
        ("reintegra_centre", centre),
    ):
        if value is not None:
            claims[name] = value
    return claims


def jwks_document(keys: Iterable[SigningKey]) -> dict[str, Any]:
    return {"keys": [k.public_jwk() for k in keys]}


def openid_configuration(issuer: str) -> dict[str, Any]:
    """The discovery document of a token-verifying-only issuer (no authorization endpoint)."""
    return {
        "issuer": issuer,
        "jwks_uri": issuer.rstrip("/") + "/jwks.json",
        "id_token_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["token"],
    }


class JwksServer:
    """Serves ``/.well-known/openid-configuration``, ``/jwks.json`` and ``/readyz`` over HTTP from a thread.

    ``keys`` may be replaced at any time (key rotation). ``requests`` counts JWKS fetches.
    """

    def __init__(self, keys: Sequence[SigningKey], host: str = "127.0.0.1", port: int = 0) -> None:
        self.keys: list[SigningKey] = list(keys)
        self.jwks_requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "reintegra-issuer"
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path == "/jwks.json":
                    server.jwks_requests += 1
                    self._json(200, jwks_document(server.keys))
                elif self.path == "/.well-known/openid-configuration":
                    self._json(200, openid_configuration(server.issuer))
                elif self.path in {"/readyz", "/livez"}:
                    self._json(200, {"status": "ok"})
                else:
                    self._json(404, {"detail": "not found"})

            def _json(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "max-age=300")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet; the stack logs requests elsewhere if needed

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        bound_host = self.httpd.server_address[0]
        self.host = bound_host.decode() if isinstance(bound_host, bytes) else bound_host
        self.port = int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks.json"

    def start(self) -> JwksServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="jwks-server", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
