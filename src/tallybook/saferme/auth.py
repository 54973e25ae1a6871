"""Who may call the v4 API: a user of the team, with the permission a route names.

The checks run in the documented order: 401 no or unknown token, 403 subscription
inactive, 403 ``X-TeamId`` that is not the caller's team, 403 missing permission. SaferMe
clients also send ``X-AppId`` and ``X-InstallationId``; they are accepted and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from tallybook.auth.dependencies import TokenHeader, TokenQuery, known_principals
from tallybook.auth.principal import Principal
from tallybook.kit.db import DBSession, get_database
from tallybook.kit.errors import OrganizationForbidden, PermissionDenied
from tallybook.organizations.models import User
from tallybook.saferme.schemas import NotNull
from tallybook.saferme.teams import known_team_id, team_id_of


@dataclass(frozen=True)
class TeamMember:
    """The caller of a v4 route: a user of a team (an organisation)."""

    principal: Principal
    team_id: int

    @property
    def organization_id(self) -> UUID:
        return self.principal.organization_id

    @property
    def user(self) -> User:
        return self.principal.user

    @property
    def user_number(self) -> int:
        return self.principal.user.number

    def has(self, permission: str) -> bool:
        return self.principal.has(permission)


async def _team_member(
    request: Request,
    session: DBSession,
    header: TokenHeader,
    query_token: TokenQuery,
    x_team_id: Annotated[
        str | NotNull,
        Header(
            alias="X-TeamId",
            description="The caller's team id (or organisation id); any other is 403.",
        ),
    ] = None,
) -> TeamMember:
    # async: a token seen lately and a team already known need no trip to the thread pool.
    principal = await known_principals(request).principal(header, query_token)
    team_id = known_team_id(get_database(request).engine, principal.organization_id)
    if team_id is None:
        team_id = await run_in_threadpool(team_id_of, session, principal.organization_id)
    if x_team_id is not None:
        sent = x_team_id.strip().lower()
        if sent not in (str(team_id), str(principal.organization_id)):
            raise OrganizationForbidden("X-TeamId names a team that is not yours.")
    return TeamMember(principal, team_id)


def _requires(*any_of: str) -> object:
    # async: a check of values already at hand, so no hop to the thread pool for it.
    async def dependency(member: Annotated[TeamMember, Depends(_team_member)]) -> TeamMember:
        if any_of and not any(member.has(p) for p in any_of):
            names = " or ".join(f"'{p}'" for p in any_of)
            raise PermissionDenied(f"This needs the {names} permission.")
        return member

    # Read by the v4 permission matrix test: () means any user of the team.
    dependency.v4_permissions = any_of  # type: ignore[attr-defined]
    return Depends(dependency)


TeamUser = Annotated[TeamMember, _requires()]
"""Any user of the team (the organisation of the token)."""

TeamSettingsUser = Annotated[TeamMember, _requires("settings")]
"""A user of the team with the `settings` permission."""

TeamReportingUser = Annotated[TeamMember, _requires("reporting")]
"""A user of the team with the `reporting` permission (the analytics)."""
