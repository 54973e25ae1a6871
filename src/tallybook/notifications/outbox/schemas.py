"""The notification log's response: what was queued and sent, with every attempt."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from tallybook.kit.schemas import OutputModel, Timestamp


class AttemptOut(OutputModel):
    number: int
    started_at: Timestamp
    finished_at: Timestamp | None
    outcome: str | None = Field(
        description="`sent`, `retry`, `rejected` (a configuration error), `gave_up`, "
        "`cancelled`, `interrupted` (the worker stopped), or null while in progress."
    )
    error: str | None


class NotificationLogEntry(OutputModel):
    id: uuid.UUID
    target: uuid.UUID
    setting: uuid.UUID
    channel: str = Field(description="`bar`, `slack` or `email`.")
    kind: str = Field(description="`alert` (ongoing check) or `snapshot` (a closed period).")
    period_start: Timestamp
    period_end: Timestamp
    state: str = Field(description="`pending`, `sent`, `failed` or `cancelled`.")
    attempts: int
    next_attempt_at: Timestamp | None = Field(description="When pending: the next try.")
    last_error: str | None
    created_at: Timestamp
    sent_at: Timestamp | None
    card: dict[str, Any] = Field(description="What the notification says.")
    attempt_log: list[AttemptOut]
