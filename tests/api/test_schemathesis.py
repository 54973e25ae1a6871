"""Schemathesis over the whole OpenAPI document with every check (issue 9, item 13).

The run is what `st run --checks all` does (examples, coverage, fuzzing and stateful
phases, through schemathesis' own engine), against one organisation with real objects:
the org, its token, a workflow, a target, a room, a chat and a BAR, Slack and e-mail
setting exist before it starts and their ids fill the path parameters, so success paths
are exercised and not just 404s. DELETE operations get objects of their own, so that
deleting them does not leave the other operations only 404s.

It is bounded and reproducible: a fixed seed, derandomised generation, no example
database, `MAX_EXAMPLES` per operation in fuzzing and `STATEFUL_STEPS` in the stateful
phase.

Every failure must be one that docs/api.md lists under "Where the OpenAPI document cannot
say it": `DELIBERATE` names each by check and operation with its one-line reason. Anything
else fails the test with schemathesis' own description of the request.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from fastapi.testclient import TestClient
from PIL import Image
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from tallybook.app import create_app
from tallybook.events.store import open_event_store
from tallybook.kit.db import Database, utcnow
from tallybook.kit.migrate import upgrade
from tallybook.settings import Settings
from tallybook.worker.loop import Worker
from tests.fixtures.tenants import Tenant, make_tenant

SEED = 9013
MAX_EXAMPLES = 5
STATEFUL_STEPS = 2

ORG = "/api/objectives/v1/orgs/{org_id}"
WORKFLOW = f"{ORG}/workflows/{{workflow_id}}"
TARGET = f"{WORKFLOW}/targets/{{target_id}}"
V5 = "/api/v5/orgs/{org_id}"
CHATS = f"{V5}/rooms/{{room_id}}/chats"
STORE = "/events/v2/store/{source}"
STORE_V1 = "/events/v1/store/{source}"
FETCH = "/api/events/v2/orgs/{org_id}/fetch"
WORKFLOW_REPORTING = "/api/reporting/workflow/v1/orgs/{org_id}/workflows/{workflow_id}"
EXPORTS = f"{V5}/users/{{user_id}}/reportexports"
V4 = "/api/v4"

POSITIVE = "positive_data_acceptance"
NEGATIVE = "negative_data_rejection"
SETTINGS = f"{TARGET}/notifications"

DELIBERATE: dict[tuple[str, str], str] = {
    # (check, operation): why — each one a row of docs/api.md, "Where the OpenAPI document
    # cannot say it".
    (POSITIVE, f"POST {WORKFLOW}/targets"): "reporting_field among the aggregations; instants",
    (POSITIVE, f"PATCH {TARGET}"): "the merged target is validated whole; instants",
    (POSITIVE, f"POST {SETTINGS}/bar"): "channel_id must be a chat of the organisation",
    (POSITIVE, f"PATCH {SETTINGS}/bar/{{setting_id}}"): "channel_id must be a chat of the org",
    (POSITIVE, f"POST {SETTINGS}/email"): "e-mail validity is email-validator's; target",
    (POSITIVE, f"PATCH {SETTINGS}/email/{{setting_id}}"): "e-mail validity is email-validator's",
    (POSITIVE, f"POST {SETTINGS}/slack"): "one Slack mode, https public URLs; target",
    (POSITIVE, f"POST {FETCH}"): "interval order and length, IANA time zone, instants",
    (POSITIVE, f"POST {STORE}"): "organisation must exist, 24 h ahead, instants, surrogates",
    (POSITIVE, f"POST {STORE_V1}"): "organisation must exist, 24 h ahead, instants, surrogates",
    (POSITIVE, f"POST {WORKFLOW_REPORTING}/step/{{step_index}}"): "interval order; filter values",
    (POSITIVE, f"POST {WORKFLOW_REPORTING}/source_data"): "interval order; filter values",
    (POSITIVE, f"POST {WORKFLOW_REPORTING}/step/{{step_index}}/download"): "the same",
    (POSITIVE, f"POST {WORKFLOW_REPORTING}/source_data/download"): "the same",
    (POSITIVE, f"POST {WORKFLOW_REPORTING}/query"): "the same",
    (POSITIVE, f"GET {V5}/rooms"): "a cursor is one this server signed",
    (POSITIVE, f"GET {CHATS}"): "a cursor is one this server signed",
    (POSITIVE, f"GET {CHATS}/{{chat_id}}/messages"): "a cursor is one this server signed",
    (POSITIVE, f"GET {TARGET}/evaluations"): "a cursor is one this server signed",
    (POSITIVE, f"GET {SETTINGS}/log"): "a cursor is one this server signed",
    (POSITIVE, f"POST {CHATS}"): "a client id already stored; ended_at after created_at; instants",
    (POSITIVE, f"POST {CHATS}/{{chat_id}}/messages"): "instants in the supported range",
    (POSITIVE, f"POST {CHATS}/import"): "NDJSON lines are not a JSON Schema document",
    (NEGATIVE, f"POST {V5}/rooms"): "booleans read laxly (0/1, 'true'): giosg's clients",
    (NEGATIVE, f"POST {CHATS}"): "booleans read laxly (0/1, 'true'): giosg's clients",
    ("allow_header_conformance", f"POST {CHATS}/import"): "GET …/chats/{chat_id} matches 'import'",
    (POSITIVE, f"POST {EXPORTS}"): "format fits type; range order; room of the org; instants",
    (POSITIVE, f"GET {EXPORTS}"): "a cursor is one this server signed",
    (POSITIVE, f"POST {V4}/forms"): "choice fields need options, other fields have none",
    (POSITIVE, f"POST {V4}/channels"): "form_id must be a form of the team",
    (POSITIVE, f"PATCH {V4}/channels/{{channel_id}}"): "form_id must be a form of the team",
    (POSITIVE, f"POST {V4}/report_states"): "account_id must be a channel of the team",
    (POSITIVE, f"POST {V4}/reports"): "channel, state and form_fields of the team; instants",
    (POSITIVE, f"PATCH {V4}/reports/{{report_id}}"): "a state of its channel; its form's fields",
    (POSITIVE, f"POST {V4}/reports/{{report_id}}/reads"): "not before the report; instants",
    (POSITIVE, f"POST {V4}/notifications"): "user and report of the team; instants",
    (POSITIVE, f"POST {V4}/file_attachments"): "the file must be an image Pillow can read",
    (POSITIVE, f"GET {V4}/reports/search"): "instants in the supported range",
    (POSITIVE, f"GET {V4}/channels"): "updated_after: instants in the supported range",
    (POSITIVE, f"GET {V4}/forms"): "updated_after: instants in the supported range",
    (POSITIVE, f"GET {V4}/report_states"): "updated_after: instants in the supported range",
    ("allow_header_conformance", f"GET {V4}/reports/search"): "PATCH …/{report_id} matches it",
    **{
        (POSITIVE, f"GET {V4}/analytics/{name}"): "end_date after start_date; instants; IANA zone"
        for name in (
            "reports_images",
            "reports_over_time",
            "reports_per_state",
            "reports_per_user",
            "reports_per_day_hour",
            "reports_per_week_day",
            "reports_read",
            "user_awareness",
        )
    },
    (POSITIVE, f"GET {V4}/analytics/reports_per_field_selection"): (
        "end_date after start_date; instants; a Category, DropDown or Radio field of the team"
    ),
}
"""The failures docs/api.md documents as deliberate, by check name and operation."""


@dataclass(frozen=True)
class Finding:
    check: str
    operation: str
    code: str
    message: str


class World:
    """One SQLite-backed app and one organisation with an object of each kind."""

    def __init__(self, root: Path) -> None:
        settings = Settings(
            data_dir=root,
            secret_key="schemathesis-secret",
            outbound_allow_private=True,
            _env_file=None,
        )
        self.database = Database(settings)
        upgrade(self.database.engine)
        self.event_store = open_event_store(settings)
        self.app = create_app(settings, self.database, self.event_store)
        self.tenant: Tenant = make_tenant(self.database)
        self.client = TestClient(self.app)
        self.ids: dict[str, str] = {"org_id": str(self.tenant.org_id)}
        self.doomed: dict[str, str] = {}
        self.settings: dict[str, str] = {}
        self.doomed_settings: dict[str, str] = {}

    def post(self, url: str, body: Any) -> str:
        response = self.client.post(url, json=body, headers=self.tenant.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def seed(self) -> None:
        base = self.tenant.objectives
        target = {
            "name": "t",
            "reporting_bound": "LOWER",
            "reporting_threshold": 1,
            "reporting_query": {"vendor": "v", "aggregations": ["count"]},
            "reporting_field": "count",
            "reporting_period": "P1D",
        }
        room = self.post(f"{self.tenant.v5}/rooms", {"name": "room"})
        chats = f"{self.tenant.v5}/rooms/{room}/chats"
        chat = self.post(chats, {"created_at": "2021-04-01T10:00:00Z"})
        self.post(
            f"{chats}/{chat}/messages",
            {
                "type": "msg",
                "created_at": "2021-04-01T10:00:01Z",
                "sender_type": "visitor",
                "message": "hello",
            },
        )
        for ids in (self.ids, self.doomed):
            # interaction: the type workflow source data answers for (others are 406)
            workflow = self.post(f"{base}/workflows", {"name": "wf", "type": "interaction"})
            targets = f"{base}/workflows/{workflow}/targets"
            ids.update(workflow_id=workflow, target_id=self.post(targets, target))
        # The doomed target lives in the real workflow, so deleting the doomed workflow
        # (its own target with it) leaves it for DELETE …/targets/{target_id}.
        doomed_target = self.post(f"{base}/workflows/{self.ids['workflow_id']}/targets", target)
        self.doomed["target_in_real_workflow"] = doomed_target
        bodies = {
            "bar": {"channel_id": chat},
            "slack": {"token": "xoxb-schemathesis-0000", "channel": "C0SCHEMA"},
            "email": {"email": "reports@example.com"},
        }
        for kind, body in bodies.items():
            notifications = f"{base}/workflows/{self.ids['workflow_id']}/targets/{{}}/notifications"
            url = notifications.format(self.ids["target_id"])
            self.settings[kind] = self.post(f"{url}/{kind}", body)
            self.doomed_settings[kind] = self.post(f"{url}/{kind}", body)
        self.ids.update(room_id=room, chat_id=chat)
        self.ids.update(self.an_export(room))
        self.seed_v4()

    def an_export(self, room: str) -> dict[str, str]:
        """A completed export of the room: its user, its id and its download token."""
        exports = f"{self.tenant.v5}/users/{self.tenant.user_id}/reportexports"
        body = {
            "type": "logs",
            "format": "csv",
            "room_id": room,
            "starting_at": "2021-04-01T00:00:00Z",
            "ending_at": "2021-04-02T00:00:00Z",
        }
        export = self.post(exports, body)
        Worker(self.database, self.event_store, self.app.state.settings).export(utcnow())
        url = self.client.get(f"{exports}/{export}", headers=self.tenant.headers).json()["url"]
        return {
            "user_id": str(self.tenant.user_id),
            "export_id": export,
            "token": url.rsplit("/", 1)[-1],
        }

    def seed_v4(self) -> None:
        """A form, a channel with a state, an image, a report and an alert of the v4 API."""
        field = {"label": "Kind", "field_type": "DropDown", "data": {"options": [{"label": "a"}]}}
        made = self.client.post(
            f"{V4}/forms",
            json={"form": {"name": "f", "fields": [field]}},
            headers=self.tenant.headers,
        )
        assert made.status_code == 201, made.text
        form = str(made.json()["id"])
        for ids in (self.ids, self.doomed):
            ids["channel_id"] = self.post(f"{V4}/channels", {"channel": {"name": "c"}})
        channel = self.ids["channel_id"]
        state = self.post(
            f"{V4}/report_states", {"report_state": {"account_id": channel, "name": "New"}}
        )
        image = io.BytesIO()
        Image.new("RGB", (8, 8)).save(image, "PNG")
        uploaded = self.client.post(
            f"{V4}/file_attachments",
            headers=self.tenant.headers,
            files={"file": ("a.png", image.getvalue(), "image/png")},
        )
        assert uploaded.status_code == 201, uploaded.text
        report = self.post(f"{V4}/reports", {"report": {"account_id": channel}})
        user = self.tenant.user_number
        for ids in (self.ids, self.doomed):
            alert = {"notification": {"user_id": user, "report_id": report}}
            ids["alert_id"] = self.post(f"{V4}/notifications", alert)
        self.ids.update(
            form_id=form,
            field_id=str(made.json()["fields"][0]["id"]),  # the analytics' choice field
            state_id=state,
            report_id=report,
            attachment_id=str(uploaded.json()["id"]),
            style="thumb",
        )

    def config(self) -> SchemathesisConfig:
        ids, doomed = self.ids, self.doomed
        operations: list[dict[str, Any]] = [
            {
                "include-method": "DELETE",
                "include-path": WORKFLOW,
                "parameters": {"workflow_id": doomed["workflow_id"]},
            },
            {
                "include-method": "DELETE",
                "include-path": TARGET,
                "parameters": {"target_id": doomed["target_in_real_workflow"]},
            },
        ]
        for path, name in (
            (f"{V4}/channels/{{channel_id}}", "channel_id"),
            (f"{V4}/notifications/{{alert_id}}", "alert_id"),
        ):
            operations.append(
                {
                    "include-method": "DELETE",
                    "include-path": path,
                    "parameters": {name: doomed[name]},
                }
            )
        for kind in ("bar", "slack", "email"):
            path = f"{TARGET}/notifications/{kind}/{{setting_id}}"
            operations += [
                {
                    "include-method": "DELETE",
                    "include-path": path,
                    "parameters": {"setting_id": self.doomed_settings[kind]},
                },
                {
                    "include-method": ["GET", "PATCH"],
                    "include-path": path,
                    "parameters": {"setting_id": self.settings[kind]},
                },
            ]
        return SchemathesisConfig.from_dict(
            {
                "seed": SEED,
                # A slow answer on a loaded machine is not a finding (the default is 10 s).
                "request-timeout": 60,
                "headers": self.tenant.headers,
                "parameters": dict(ids),
                "operations": operations,
                "cache": {"enabled": False},
                "generation": {
                    "max-examples": MAX_EXAMPLES,
                    "deterministic": True,
                    "database": "none",
                },
                "checks": {
                    "enabled": True,
                    # A body past the size limit is refused, as negative data should be.
                    "negative_data_rejection": {
                        "expected-statuses": [400, 401, 403, 404, 405, 406, 413, 415]
                    },
                },
                "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
            }
        )


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> bytes:
    lines = value if isinstance(value, list) else [value]
    return b"\n".join(orjson.dumps(line) for line in lines)


def run(world: World) -> Iterator[Finding]:
    """Every failure schemathesis reports."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app, config=world.config())
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.failure_info is not None:
                        failure = node.failure_info.failure
                        operation = failure.operation or event.recorder.label
                        sample = node.failure_info.code_sample
                        yield Finding(node.name, operation, failure.code, f"{failure}\n{sample}")
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                yield Finding("after_run", failure.operation or "", failure.code, str(failure))
        elif isinstance(event, events.NonFatalError):
            raise AssertionError(f"schemathesis could not run {event.label}: {event.info}")
        elif isinstance(event, events.FatalError):
            raise event.exception


def unexpected(findings: list[Finding]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"{finding.code} {finding.check} on {finding.operation}\n{finding.message}")
    return "\n\n".join(lines)


@pytest.mark.slow
def test_schemathesis_finds_only_the_documented_deviations() -> None:
    with tempfile.TemporaryDirectory(prefix="tallybook-schemathesis-") as root:
        world = World(Path(root))
        try:
            world.seed()
            findings = list(run(world))
        finally:
            world.client.close()
            world.event_store.close()
            world.database.close()
    report = os.environ.get("TALLYBOOK_SCHEMATHESIS_REPORT")
    if report:
        Path(report).write_text("\n\n".join(unexpected([f]) for f in findings))
    new = [f for f in findings if (f.check, f.operation) not in DELIBERATE]
    assert not new, unexpected(list({(f.check, f.operation): f for f in new}.values()))
