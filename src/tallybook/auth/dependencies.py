"""Who may call: named, annotated dependencies that each route's signature declares.

The checks run in the documented order: 401 no or unknown token, 403 subscription
inactive, 403 organisation in the path is not the caller's, 403 missing permission.
A 404 comes later, from the query that is itself scoped to the organisation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, APIKeyQuery

from tallybook.auth.principal import KnownPrincipals, Principal
from tallybook.kit.errors import (
    OrganizationForbidden,
    PermissionDenied,
)

# Declared for OpenAPI; the values are read from the request so all four forms work.
_header_scheme = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    description="`Token <key>`, `Token token=<key>` or `Bearer <key>`.",
)
_query_scheme = APIKeyQuery(name="token", auto_error=False)


def known_principals(request: Request) -> KnownPrincipals:
    principals: KnownPrincipals = request.app.state.principals
    return principals


async def authenticate(
    request: Request,
    header: Annotated[str | None, Depends(_header_scheme)] = None,
    query_token: Annotated[str | None, Depends(_query_scheme)] = None,
) -> Principal:
    # async: a token seen lately is answered from memory, with no session and no trip to
    # the thread pool; a route that needs the database still declares its own session.
    return await known_principals(request).principal(header, query_token)


Authenticated = Annotated[Principal, Depends(authenticate)]

TokenHeader = Annotated[str | None, Depends(_header_scheme)]
TokenQuery = Annotated[str | None, Depends(_query_scheme)]


# The checks after the token lookup are async: they do no I/O, and a sync dependency costs
# a trip to the thread pool and back (0.1-1 ms per request on a busy machine).
async def _org_member(principal: Authenticated, org_id: Annotated[str, Path()]) -> Principal:
    if org_id.lower() != str(principal.organization_id):
        raise OrganizationForbidden("You do not have access to this organisation.")
    return principal


def _requires(*any_of: str) -> object:
    async def dependency(principal: Annotated[Principal, Depends(_org_member)]) -> Principal:
        if not any(principal.has(p) for p in any_of):
            names = " or ".join(f"'{p}'" for p in any_of)
            raise PermissionDenied(f"This needs the {names} permission.")
        return principal

    dependency.permissions = any_of  # type: ignore[attr-defined]  # read by the auth matrix test
    return Depends(dependency)


ReportingUser = Annotated[Principal, _requires("reporting")]
"""A member of the path's organisation with the `reporting` permission."""

SettingsUser = Annotated[Principal, _requires("settings")]
"""A member of the path's organisation with the `settings` permission."""

ChatReader = Annotated[Principal, _requires("reporting", "settings")]
"""A member allowed to read chat data (`reporting` or `settings`)."""
