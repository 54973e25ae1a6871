"""The optional filters SaferMe's entity lists take (channels, forms, report states):
``team_id`` and ``updated_after`` (reference/saferme: "if present filter entries by
team_id", "only return entries updated after given date")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import Depends, Query
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, false

from tallybook.kit.errors import InvalidPayload, validation_errors
from tallybook.kit.schemas import InputTimestamp
from tallybook.saferme.auth import TeamUser
from tallybook.saferme.ids import ID_QUERY, query_int_id
from tallybook.saferme.schemas import NotNull

_INSTANT: Final = TypeAdapter(InputTimestamp)


@dataclass(frozen=True)
class ListFilter:
    other_team: bool
    """``team_id`` names another team than the caller's: the list is empty."""
    updated_after: datetime | None
    """Only the entries changed after this instant (strictly)."""

    def apply(self, stmt: Select[Any], updated_at: Any) -> Select[Any]:
        """``stmt`` narrowed to what the filter lets through (``updated_at``: the column)."""
        if self.other_team:
            return stmt.where(false())
        if self.updated_after is not None:
            return stmt.where(updated_at > self.updated_after)
        return stmt


EVERY: Final = ListFilter(other_team=False, updated_after=None)
"""No filter: every entry of the list."""


def list_filter(
    member: TeamUser,
    team_id: Annotated[
        str | NotNull, Query(description="The caller's team id.", json_schema_extra=ID_QUERY)
    ] = None,
    updated_after: Annotated[
        str | NotNull,
        Query(
            description="Only entries changed after this ISO 8601 date-time.",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
) -> ListFilter:
    team = query_int_id(team_id, "team_id", "team")
    after = None
    if updated_after is not None:
        try:
            after = _INSTANT.validate_python(updated_after)
        except ValidationError as exc:
            errors = validation_errors(exc.errors(), "query", "updated_after")
            raise InvalidPayload(errors) from None
    return ListFilter(team is not None and team != member.team_id, after)


ListQuery = Annotated[ListFilter, Depends(list_filter)]
"""The ``team_id`` and ``updated_after`` query parameters of a v4 entity list."""
