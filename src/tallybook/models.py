"""Imports every table so that Alembic and ``Base.metadata`` see the whole schema."""

from tallybook.auth.models import ApiToken
from tallybook.chats.models import Chat, ChatMessage, Room
from tallybook.evaluations.models import Evaluation
from tallybook.exports.models import ReportExport
from tallybook.kit.db import Base
from tallybook.notifications.models import DeliveryAttempt, Notification, NotificationSetting
from tallybook.organizations.models import Organization, User
from tallybook.saferme.models import (
    Alert,
    Channel,
    FieldOption,
    FileAttachment,
    Form,
    FormField,
    Report,
    ReportImage,
    ReportRead,
    ReportSelection,
    ReportState,
    Team,
)
from tallybook.targets.models import Target, TargetSchedule
from tallybook.workflows.models import Workflow

__all__ = [
    "Alert",
    "ApiToken",
    "Base",
    "Channel",
    "Chat",
    "ChatMessage",
    "DeliveryAttempt",
    "Evaluation",
    "FieldOption",
    "FileAttachment",
    "Form",
    "FormField",
    "Notification",
    "NotificationSetting",
    "Organization",
    "Report",
    "ReportExport",
    "ReportImage",
    "ReportRead",
    "ReportSelection",
    "ReportState",
    "Room",
    "Target",
    "TargetSchedule",
    "Team",
    "User",
    "Workflow",
]
