"""Delivery channels: Slack (bot token or incoming webhook), e-mail over SMTP, BAR."""
