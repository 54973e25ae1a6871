"""API tokens: random keys, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "tb_"  # noqa: S105 - a visible prefix, not a secret


def new_key() -> str:
    # 32 random bytes = 256 bits, well above the 160 bits the design asks for.
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # The keys carry 256 bits of entropy, so a fast unsalted hash cannot be brute-forced;
    # a slow KDF would only slow down every request.
    return hashlib.sha256(key.encode()).hexdigest()


def key_from_header(authorization: str | None) -> str | None:
    """The key from ``Token <key>``, ``Token token=<key>`` or ``Bearer <key>``."""
    if not authorization:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    rest = rest.strip()
    if scheme.lower() not in ("token", "bearer") or not rest:
        return None
    if scheme.lower() == "token" and rest.startswith("token="):
        rest = rest[len("token=") :].strip().strip('"')
    return rest or None
