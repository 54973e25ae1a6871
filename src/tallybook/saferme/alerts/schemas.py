from __future__ import annotations

from pydantic import Field, StrictBool

from tallybook.kit.schemas import InputModel, InputTimestamp, OutputModel, ReadOnly, Timestamp
from tallybook.saferme.ids import IntId
from tallybook.saferme.schemas import NotNull


class AlertCreate(InputModel):
    user_id: IntId = Field(description="The user alerted (a user number of the team).")
    report_id: IntId = Field(description="The report the alert is about.")
    created_at: InputTimestamp | None = Field(
        default=None, description="For importing history; default now."
    )
    read: StrictBool = Field(default=False, description="For importing history: already opened.")
    id: ReadOnly
    archived: ReadOnly
    archived_at: ReadOnly


class AlertCreateBody(InputModel):
    notification: AlertCreate


class AlertUpdate(InputModel):
    read: StrictBool | NotNull = None
    archived: StrictBool | NotNull = None
    id: ReadOnly
    user_id: ReadOnly
    report_id: ReadOnly
    created_at: ReadOnly
    archived_at: ReadOnly


class AlertUpdateBody(InputModel):
    notification: AlertUpdate


class Notification(OutputModel):
    id: int
    archived_at: Timestamp | None
    archived: bool
    created_at: Timestamp
    read: bool
    report_id: int
    user_id: int
