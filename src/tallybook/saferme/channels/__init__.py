"""Channels (SaferMe's *accounts*) and the report states of a channel."""
