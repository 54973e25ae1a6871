"""The two ways a Slack setting delivers, and the rules for setting and switching them.

Token mode posts with the Web API (`token`, `channel`, optional `user`); webhook mode posts to
an incoming webhook (`incoming_webhook_url`, optional `icon_url`). A setting is in exactly one
mode: the other mode's fields are null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tallybook.kit.errors import InvalidPayload, invalid
from tallybook.notifications.channels.urls import outbound_url_problem
from tallybook.notifications.models import NotificationSetting

MASK = "****"
_MIN_SECRET_TO_SHOW_TAIL = 12


def mask_secret(secret: str) -> str:
    """`****` and the last four characters; a secret too short to spare four is all mask."""
    if len(secret) < _MIN_SECRET_TO_SHOW_TAIL:
        return MASK
    return MASK + secret[-4:]


@dataclass(frozen=True)
class SlackMode:
    name: str
    fields: tuple[str, ...]
    required: tuple[str, ...]


TOKEN_MODE = SlackMode("token", ("token", "channel", "user"), ("token", "channel"))
WEBHOOK_MODE = SlackMode("webhook", ("incoming_webhook_url", "icon_url"), ("incoming_webhook_url",))
MODES = (TOKEN_MODE, WEBHOOK_MODE)
SLACK_FIELDS = TOKEN_MODE.fields + WEBHOOK_MODE.fields
SECRETS = ("token", "incoming_webhook_url")
URLS = ("incoming_webhook_url", "icon_url")

ONE_MODE = (
    "A Slack setting uses either token mode (token and channel, optionally user) or webhook "
    "mode (incoming_webhook_url, optionally icon_url), never both"
)

Values = dict[str, Any]


def fields_for_create(values: Values, *, allow_private: bool) -> Values:
    """All Slack columns of a new setting; nulls count as not sent."""
    given = {name: value for name, value in values.items() if value is not None}
    given = _drop_masked_echoes(None, given)
    used = [mode for mode in MODES if any(name in given for name in mode.fields)]
    if len(used) != 1:
        raise _mode_error(f"{ONE_MODE}; this payload {'mixes the two' if used else 'has neither'}.")
    _require_all(used[0], given, f"{used[0].name.capitalize()} mode needs {_listed(used[0])}.")
    _check_urls(given, allow_private)
    return {name: given.get(name) for name in SLACK_FIELDS}


def fields_for_update(
    setting: NotificationSetting, values: Values, *, allow_private: bool
) -> Values:
    """The Slack columns a PATCH changes: fields of the current mode one by one, or a switch
    to the other mode when its full set is sent (which clears the current mode's fields)."""
    values = _drop_masked_echoes(setting, values)
    current = current_mode(setting)
    other = WEBHOOK_MODE if current is TOKEN_MODE else TOKEN_MODE
    switch = {name: values[name] for name in other.fields if values.get(name) is not None}
    if not switch:
        return _same_mode_changes(current, values, allow_private)
    if any(values.get(name) is not None for name in current.fields):
        raise _mode_error(
            f"{ONE_MODE}; this request sends fields of both. To switch mode, send the full set "
            "of the other mode alone."
        )
    _require_all(
        other,
        switch,
        f"To switch this Slack setting from {current.name} mode to {other.name} mode, "
        f"send {_listed(other)} in the same request.",
    )
    _check_urls(switch, allow_private)
    return {**dict.fromkeys(current.fields), **{name: switch.get(name) for name in other.fields}}


def current_mode(setting: NotificationSetting) -> SlackMode:
    return TOKEN_MODE if setting.token is not None else WEBHOOK_MODE


def _same_mode_changes(mode: SlackMode, values: Values, allow_private: bool) -> Values:
    # A null for a field of the other mode changes nothing: that field is already null.
    changes = {name: values[name] for name in mode.fields if name in values}
    nulled = [name for name in mode.required if name in changes and changes[name] is None]
    if nulled:
        raise InvalidPayload(
            [
                {"loc": ["body", name], "msg": f"This field cannot be null in {mode.name} mode."}
                for name in nulled
            ]
        )
    _check_urls(changes, allow_private)
    return changes


def _drop_masked_echoes(setting: NotificationSetting | None, values: Values) -> Values:
    """Drops a secret sent back exactly as it was shown (masked): it means "unchanged"."""
    kept = dict(values)
    for name in SECRETS:
        value = kept.get(name)
        if not isinstance(value, str) or not value.startswith(MASK):
            continue
        stored = getattr(setting, name) if setting is not None else None
        if stored is None or value != mask_secret(stored):
            raise invalid(
                [name],
                "This is a masked value, not a secret: send the full secret, or the value "
                "as it was returned (or nothing) to keep the stored one.",
            )
        del kept[name]
    return kept


def _require_all(mode: SlackMode, given: Values, detail: str) -> None:
    missing = [name for name in mode.required if name not in given]
    if missing:
        errors = [{"loc": ["body", name], "msg": "This field is required."} for name in missing]
        raise InvalidPayload(errors, detail=detail)


def _check_urls(values: Values, allow_private: bool) -> None:
    errors = []
    for name in URLS:
        value = values.get(name)
        problem = outbound_url_problem(value, allow_private=allow_private) if value else None
        if problem:
            errors.append({"loc": ["body", name], "msg": problem})
    if errors:
        raise InvalidPayload(errors)


def _listed(mode: SlackMode) -> str:
    return " and ".join(mode.required)


def _mode_error(sentence: str) -> InvalidPayload:
    return InvalidPayload([{"loc": ["body"], "msg": sentence}], detail=sentence)
