"""The console's session: a signed cookie holding the token's hash, a CSRF nonce and when
the user was last seen (idle expiry). One signing mechanism: ``kit.signing``.

The cookie carries the hash of the API token the user signed in with, never the token, so
revoking the token ends every console session made with it. The CSRF nonce lives in the
same HttpOnly cookie (a page cannot read it) and is written into every form; a POST whose
form does not carry it is refused.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, replace

import orjson
from fastapi import Request, Response
from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.auth.repository import principal_by_key_hash
from tallybook.auth.tokens import hash_key
from tallybook.kit.signing import BadSignature, Signer

COOKIE = "tallybook_console"
COOKIE_PATH = "/console"
IDLE_SECONDS = 60 * 60  # an hour without a request ends a session
CSRF_FIELD = "csrf_token"
_PURPOSE = b"tallybook/console-session/v1"


@dataclass(frozen=True)
class ConsoleSession:
    """What the cookie says: ``key_hash`` is None until the user signs in."""

    csrf: str
    key_hash: str | None = None
    seen: int = 0

    @classmethod
    def anonymous(cls) -> ConsoleSession:
        return cls(csrf=secrets.token_urlsafe(24))

    def signed_in(self, token: str) -> ConsoleSession:
        # A new nonce at sign-in: one an attacker planted before it is worth nothing.
        return ConsoleSession(secrets.token_urlsafe(24), hash_key(token.strip()), _now())

    def accepts(self, submitted: str | None) -> bool:
        return submitted is not None and hmac.compare_digest(submitted.encode(), self.csrf.encode())


def _now() -> int:
    return int(time.time())


def _signer(request: Request) -> Signer:
    state = request.app.state
    signer: Signer | None = getattr(state, "console_signer", None)
    if signer is None:
        signer = state.console_signer = Signer.for_purpose(state.settings.signing_key(), _PURPOSE)
    return signer


def read_session(request: Request) -> ConsoleSession:
    """The request's session; a missing, forged or idle one is a fresh anonymous session."""
    token = request.cookies.get(COOKIE)
    if not token:
        return ConsoleSession.anonymous()
    try:
        data = orjson.loads(_signer(request).unsign(token))
        found = ConsoleSession(str(data["c"]), data["k"], int(data["t"]))
    except (BadSignature, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return ConsoleSession.anonymous()
    if found.key_hash is not None and _now() - found.seen > IDLE_SECONDS:
        return ConsoleSession.anonymous()
    return found


def principal_of(session: Session, console: ConsoleSession) -> Principal | None:
    """The signed-in user, while the token exists and the subscription is active."""
    if console.key_hash is None:
        return None
    found = principal_by_key_hash(session, console.key_hash)
    if found is None or not found[1].subscription_active:
        return None
    return Principal(*found)


def write_session(request: Request, response: Response, console: ConsoleSession) -> None:
    """Set the cookie, renewed on each answer so the idle time counts from the last one."""
    if console.key_hash is not None:
        console = replace(console, seen=_now())
    raw = orjson.dumps({"c": console.csrf, "k": console.key_hash, "t": console.seen})
    response.set_cookie(
        COOKIE,
        _signer(request).sign(raw),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def is_https(request: Request) -> bool:
    public_url: str | None = request.app.state.settings.public_url
    if public_url:
        return public_url.startswith("https:")
    return request.url.scheme == "https"
