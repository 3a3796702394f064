"""The local OpenID Connect issuer: one signing key in ``.local/issuer/``, its JWK set on 127.0.0.1:8100.

``python -m reintegra_stack.issuer`` serves ``/.well-known/openid-configuration``, ``/jwks.json`` and
``/readyz`` (``reintegra-stack up`` starts it); ``reintegra-stack token`` signs tokens with the same key.
Services verify these tokens exactly as they verify a production provider's: this is a real issuer
for one machine, not a way around authentication.

Environment: ``REINTEGRA_ISSUER_PORT`` (default 8100), ``REINTEGRA_ISSUER_KEY_FILE`` (default
``<repo>/.local/issuer/signing-key.pem``, created on first use with mode 0600).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from reintegra_kit.auth.issuing import JwksServer, SigningKey

HOST = "127.0.0.1"
DEFAULT_PORT = 8100
AUDIENCE = "reintegra"


def port() -> int:
    value = os.environ.get("REINTEGRA_ISSUER_PORT", str(DEFAULT_PORT))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"REINTEGRA_ISSUER_PORT must be a port number, got {value!r}")
    return int(value)


def issuer_url() -> str:
    return f"http://{HOST}:{port()}"


def key_file(repo_root: Path) -> Path:
    given = os.environ.get("REINTEGRA_ISSUER_KEY_FILE", "").strip()
    return Path(given) if given else repo_root / ".local" / "issuer" / "signing-key.pem"


def service_auth_env() -> dict[str, str]:
    """What services need to accept this issuer's tokens."""
    url = issuer_url()
    return {
        "REINTEGRA_AUTH_ISSUER": url,
        "REINTEGRA_AUTH_AUDIENCE": AUDIENCE,
        "REINTEGRA_AUTH_JWKS_URL": f"{url}/jwks.json",
    }


def _stop(signum: int, _: Any) -> None:
    raise SystemExit(0)


def main() -> None:
    from .processes import find_repo_root

    try:
        key = SigningKey.load_or_create(key_file(find_repo_root()))
        server = JwksServer([key], host=HOST, port=port())
    except (OSError, ValueError) as exc:
        print(f"reintegra-issuer: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"reintegra-issuer: serving {server.issuer}/jwks.json (key {key.kid})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
