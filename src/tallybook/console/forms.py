"""Posted forms as the API's JSON bodies, so the API's models validate them with the same
messages (``kit.body.validate_body``)."""

from __future__ import annotations

from typing import Any

import orjson

from tallybook.kit.errors import InvalidPayload

TARGET_FIELDS = (
    "name",
    "reporting_bound",
    "reporting_threshold",
    "reporting_field",
    "reporting_period",
    "notification_period",
    "target_active_from",
    "target_active_until",
)
OPTIONAL = ("notification_period", "target_active_from", "target_active_until")
SETTING_FIELDS = {
    "slack": ("incoming_webhook_url", "icon_url", "token", "channel", "user"),
    "email": ("email",),
    "bar": ("channel_id",),
}


def target_body(form: dict[str, str]) -> dict[str, Any]:
    """A target's form as the body of ``POST``/``PATCH …/targets``: every field sent, an
    empty optional field as null (the period follows the reporting period, no limit)."""
    body: dict[str, Any] = {}
    for name in TARGET_FIELDS:
        value = form.get(name, "").strip()
        if value or name not in OPTIONAL:
            body[name] = value
        else:
            body[name] = None
    body["are_notifications_active"] = form.get("are_notifications_active") == "on"
    body["reporting_query"] = _json_field(form.get("reporting_query", ""), "reporting_query")
    return body


def setting_body(channel_type: str, form: dict[str, str], *, creating: bool) -> dict[str, Any]:
    """A notification setting's form as the API's body: empty fields are left out (on an
    edit they stay as they are; the masked Slack secrets come back unchanged)."""
    body: dict[str, Any] = {"name": form.get("name", "").strip()}
    for name in SETTING_FIELDS.get(channel_type, ()):
        value = form.get(name, "").strip()
        if value:
            body[name] = value
    if channel_type == "email":
        body["is_bundleable"] = form.get("is_bundleable") == "on"
    if creating or form.get("has_active") == "1":  # the edit form has the checkbox
        body["is_notification_active"] = form.get("is_notification_active") == "on"
    return body


def _json_field(raw: str, name: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidPayload(
            [{"loc": ["body", name], "msg": "This must be a JSON object (the event query)."}]
        ) from None
