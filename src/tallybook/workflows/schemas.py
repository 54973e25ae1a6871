from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from tallybook.kit.schemas import OutputModel, ReadOnly, ResourceReadOnly, Timestamp

WorkflowType = Literal["web_navigation", "interaction", "voice_video", "chat", "user_generated"]
Name = Field(min_length=1, max_length=255)


class WorkflowCreate(ResourceReadOnly):
    name: str = Name
    description: str | None = Field(default=None, max_length=10_000)
    type: WorkflowType = "user_generated"
    created_by_user: ReadOnly
    updated_by_user: ReadOnly


class WorkflowUpdate(ResourceReadOnly):
    """Partial: only the fields sent are changed (defaults here are never applied)."""

    name: str = Field(default="", min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    type: WorkflowType = "user_generated"
    created_by_user: ReadOnly
    updated_by_user: ReadOnly


class Workflow(OutputModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    created_by_user: uuid.UUID | None
    updated_by_user: uuid.UUID | None
    name: str
    description: str | None
    type: WorkflowType
    modified_at: Timestamp
    created_at: Timestamp
