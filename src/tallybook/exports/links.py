"""Signed download links: the link itself is the credential, valid until ``expires_at``.

A link is ``<base>/api/v5/downloads/reportexports/<token>``; the token is signed
(``kit.signing``, a key of its own) and holds the organisation, the export and the
instant the link expires, so a link cannot be altered to reach another file or to live
longer. It is the same for every read of the export, so clients may compare links.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from tallybook.kit.signing import BadSignature, Signer

PURPOSE = b"tallybook/report-export-download/v1"
DOWNLOAD_PATH = "/api/v5/downloads/reportexports"


@dataclass(frozen=True)
class LinkClaims:
    organization_id: uuid.UUID
    export_id: uuid.UUID
    expires_at: datetime  # to the millisecond


class InvalidLink(ValueError):
    """The token is not one this installation signed for a download."""


def signer_for(secret: str) -> Signer:
    return Signer.for_purpose(secret, PURPOSE)


def make_token(signer: Signer, claims: LinkClaims) -> str:
    raw = orjson.dumps(
        {
            "o": claims.organization_id.hex,
            "e": claims.export_id.hex,
            "x": _millis(claims.expires_at),
        }
    )
    return signer.sign(raw)


def read_token(signer: Signer, token: str) -> LinkClaims:
    try:
        data = orjson.loads(signer.unsign(token))
        return LinkClaims(
            uuid.UUID(data["o"]),
            uuid.UUID(data["e"]),
            _EPOCH + timedelta(milliseconds=int(data["x"])),
        )
    except (BadSignature, ValueError, KeyError, TypeError, OverflowError, OSError):
        raise InvalidLink from None


def same_instant(a: datetime, b: datetime) -> bool:
    """Equal to the millisecond (what a link carries)."""
    return _millis(a) == _millis(b)


def download_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}{DOWNLOAD_PATH}/{token}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def _millis(instant: datetime) -> int:
    return (instant - _EPOCH) // _MILLISECOND
