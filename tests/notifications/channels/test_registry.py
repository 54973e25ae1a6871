"""Every channel type has its channel in the registry."""

from __future__ import annotations

from tallybook.notifications.channels.registry import CHANNELS, ChannelType


def test_every_channel_type_has_a_channel() -> None:
    assert set(CHANNELS) == set(ChannelType)
    for channel in CHANNELS.values():
        assert set(channel.address_fields) <= set(channel.setting_fields)
