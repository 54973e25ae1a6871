"""Imports every table so that Alembic and ``Base.metadata`` see the whole schema."""

from tallybook.auth.models import ApiToken
from tallybook.chats.models import Chat, ChatMessage, Room
from tallybook.evaluations.models import Evaluation
from tallybook.exports.models import ReportExport
from tallybook.kit.db import Base
from tallybook.notifications.models import DeliveryAttempt, Notification, NotificationSetting
from tallybook.organizations.models import Organization, User
from tallybook.targets.models import Target, TargetSchedule
from tallybook.workflows.models import Workflow

__all__ = [
    "ApiToken",
    "Base",
    "Chat",
    "ChatMessage",
    "DeliveryAttempt",
    "Evaluation",
    "Notification",
    "NotificationSetting",
    "Organization",
    "ReportExport",
    "Room",
    "Target",
    "TargetSchedule",
    "User",
    "Workflow",
]
