"""Builders for v4 tests: everything is made through the API, as a SaferMe client would."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from tests.fixtures.tenants import Tenant

V4 = "/api/v4"


def v4_headers(tenant: Tenant, **more: str) -> dict[str, str]:
    """SaferMe's own way to send a token, and the app id its clients add."""
    return {
        "Authorization": f"Token token={tenant.token}",
        "X-AppId": "com.thundermaps.saferme",
        **more,
    }


def created(response: Any) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


STANDARD_FIELDS: list[dict[str, Any]] = [
    {
        "label": "Category",
        "field_type": "Category",
        "mandatory": True,
        "data": {"options": [{"label": "Hazard"}, {"label": "Incident"}, {"label": "Near miss"}]},
    },
    {
        "label": "Severity",
        "field_type": "DropDown",
        "data": {"options": [{"label": "Low"}, {"label": "High"}]},
    },
    {
        "label": "Resolved",
        "field_type": "Radio",
        "data": {"options": [{"label": "Yes"}, {"label": "No"}]},
    },
    {
        "label": "Checks",
        "field_type": "CheckBox",
        "data": {"options": [{"label": "Fenced"}, {"label": "Signed"}, {"label": "Reported"}]},
    },
    {"label": "Photos", "field_type": "Image"},
    {"label": "Notes", "field_type": "ShortTextBox"},
    {"label": "When", "field_type": "DateAndTime"},
    {"label": "Score", "field_type": "IntegerRange"},
]


@dataclass
class FormInfo:
    body: dict[str, Any]
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Label → the field as the API shows it."""

    @property
    def id(self) -> int:
        return int(self.body["id"])

    def key(self, label: str) -> str:
        return str(self.fields[label]["key"])

    def options(self, label: str) -> list[str]:
        """The option values of a choice field, in display order."""
        data = json.loads(self.fields[label]["data"])
        return [option["value"] for option in data["options"]]


def make_form(
    client: TestClient, tenant: Tenant, fields: list[dict[str, Any]] | None = None
) -> FormInfo:
    body = created(
        client.post(
            f"{V4}/forms",
            headers=v4_headers(tenant),
            json={"form": {"name": "Hazard form", "fields": fields or STANDARD_FIELDS}},
        )
    )
    return FormInfo(body, {f["label"]: f for f in body["fields"]})


def make_channel(
    client: TestClient, tenant: Tenant, form_id: int | None = None, name: str = "Hazards"
) -> dict[str, Any]:
    channel: dict[str, Any] = {"name": name, "description": "Hazards on site"}
    if form_id is not None:
        channel["form_id"] = form_id
    response = client.post(f"{V4}/channels", headers=v4_headers(tenant), json={"channel": channel})
    return dict(created(response))


def make_state(
    client: TestClient, tenant: Tenant, channel_id: int, name: str, position: int
) -> dict[str, Any]:
    body = {"report_state": {"account_id": channel_id, "name": name, "position": position}}
    response = client.post(f"{V4}/report_states", headers=v4_headers(tenant), json=body)
    return dict(created(response))


@dataclass
class Setup:
    """A channel with the standard form and three states."""

    form: FormInfo
    channel: dict[str, Any]
    states: list[dict[str, Any]]

    @property
    def channel_id(self) -> int:
        return int(self.channel["id"])


def make_setup(client: TestClient, tenant: Tenant) -> Setup:
    form = make_form(client, tenant)
    channel = make_channel(client, tenant, form.id)
    states = [
        make_state(client, tenant, channel["id"], name, position)
        for position, name in enumerate(("New", "In progress", "Resolved"), 1)
    ]
    return Setup(form, channel, states)


def report_body(setup: Setup, **overrides: Any) -> dict[str, Any]:
    """A valid report of the setup's channel (only the mandatory Category filled in)."""
    report: dict[str, Any] = {
        "account_id": setup.channel_id,
        "form_fields": [
            {"key": setup.form.key("Category"), "value": setup.form.options("Category")[0]}
        ],
    }
    report.update(overrides)
    return {"report": report}


def make_report(client: TestClient, tenant: Tenant, setup: Setup, **overrides: Any) -> Any:
    response = client.post(
        f"{V4}/reports", headers=v4_headers(tenant), json=report_body(setup, **overrides)
    )
    return created(response)


def image_bytes(
    size: tuple[int, int],
    image_format: str = "JPEG",
    *,
    mode: str = "RGB",
    orientation: int | None = None,
) -> bytes:
    """An image of ``size`` (as stored: before any EXIF rotation)."""
    image = Image.new(mode, size, "red" if mode != "1" else 1)
    out = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, image_format, exif=exif.tobytes())
    else:
        image.save(out, image_format)
    return out.getvalue()


def upload(
    client: TestClient,
    tenant: Tenant,
    data: bytes,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
) -> Any:
    return client.post(
        f"{V4}/file_attachments",
        headers=v4_headers(tenant),
        files={"file": (filename, data, content_type)},
    )
