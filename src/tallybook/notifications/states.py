"""A notification's states and an attempt's outcomes, as stored.

They sit below ``models.py`` (which uses them as column defaults) so that the tables, the
outbox and the metrics can all name them; the transitions between them are
``outbox/states.py``.
"""

from __future__ import annotations

from enum import StrEnum


class NotificationState(StrEnum):
    """``notifications.state``."""

    PENDING = "pending"  # queued, or waiting for a retry; being delivered while leased
    SENT = "sent"
    FAILED = "failed"  # refused by the channel, or retried for too long
    CANCELLED = "cancelled"  # the setting or the target's notifications were switched off


class AttemptOutcome(StrEnum):
    """``delivery_attempts.outcome``; null while the attempt is in progress."""

    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"  # a configuration error
    GAVE_UP = "gave_up"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the worker stopped mid-delivery
