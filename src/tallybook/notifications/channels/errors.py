"""How a channel says a delivery failed; the outbox decides what happens next."""

from __future__ import annotations


class DeliveryError(Exception):
    """A failed delivery. ``str(error)`` is stored on the setting and in the log, so it must
    never contain a secret (token, webhook URL, SMTP password) or a message body."""


class ConfigurationProblem(DeliveryError):
    """The setting cannot work as configured (Slack ``invalid_auth``, ``channel_not_found``,
    ``not_in_channel``, ``is_archived``, ``token_revoked``; SMTP 5xx; a webhook URL that
    resolves to a private address). Not retried; three in a row switch the setting off."""


class TransientProblem(DeliveryError):
    """Worth retrying (network errors, timeouts, 5xx, SMTP 4xx, Slack 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, when the service said (Slack 429)


def unexpected(error: Exception) -> DeliveryError:
    """A bug or an unexpected library error: retried; only the error's type is kept."""
    if isinstance(error, DeliveryError):
        return error
    return TransientProblem(f"Unexpected error ({type(error).__name__}).")
