"""Every delivery channel, by channel type: the one list to extend with a new channel.

The type is stored as ``NotificationSetting.channel_type`` and ``Notification.channel_type``
(columns ``notification_settings.kind`` and ``notifications.channel``).
"""

from __future__ import annotations

from enum import StrEnum

from tallybook.notifications.channels.bar import BarChannel
from tallybook.notifications.channels.base import Channel
from tallybook.notifications.channels.email import EmailChannel
from tallybook.notifications.channels.slack import SlackChannel


class ChannelType(StrEnum):
    BAR = "bar"
    SLACK = "slack"
    EMAIL = "email"


CHANNELS: dict[ChannelType, Channel] = {
    ChannelType.BAR: BarChannel(),
    ChannelType.SLACK: SlackChannel(),
    ChannelType.EMAIL: EmailChannel(),
}


def channel_for(channel_type: str) -> Channel:
    """The channel of a setting's or an outbox row's channel type."""
    return CHANNELS[ChannelType(channel_type)]
