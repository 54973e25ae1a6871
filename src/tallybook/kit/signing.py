"""Tokens signed with the installation's secret key (HMAC-SHA256), for every purpose.

A token is ``<payload>.<signature>``, both base64url without padding. Each purpose (cursor
pages, download links, …) signs with its own key derived from the secret, so that a
signature made for one purpose never stands for another. The signature is checked, in
constant time, before the payload is read: a forged payload never reaches a parser.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

SIGNATURE_BYTES = 16  # HMAC-SHA256 truncated to 128 bits: compact, still unforgeable


class BadSignature(ValueError):
    """The token was not signed by this installation for this purpose."""


def derive_key(secret: str, purpose: bytes) -> bytes:
    """The key for one purpose, derived from the installation's secret."""
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


@dataclass(frozen=True)
class Signer:
    key: bytes

    @classmethod
    def for_purpose(cls, secret: str, purpose: bytes) -> Signer:
        return cls(derive_key(secret, purpose))

    def sign(self, raw: bytes) -> str:
        """``raw`` as a signed token."""
        return f"{b64encode(raw)}.{b64encode(self._signature(raw))}"

    def unsign(self, token: str) -> bytes:
        """The payload of a token this signer made; ``BadSignature`` otherwise."""
        payload, _, signature = token.partition(".")
        try:
            raw = b64decode(payload)
            valid = hmac.compare_digest(b64decode(signature), self._signature(raw))
        except (ValueError, binascii.Error):  # not base64url, or not ASCII
            valid = False
        if not valid:
            raise BadSignature
        return raw

    def _signature(self, raw: bytes) -> bytes:
        return hmac.new(self.key, raw, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
