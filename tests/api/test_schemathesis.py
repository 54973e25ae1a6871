"""Property-based run over the whole OpenAPI schema (bounded): no 5xx, and every response
matches what the schema documents for it (status code, content type, body)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tallybook.app import create_app
from tallybook.events.store import open_event_store
from tallybook.kit.db import Database
from tallybook.kit.migrate import upgrade
from tallybook.settings import Settings
from tests.fixtures.tenants import Tenant, make_tenant

MAX_EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class World:
    """One SQLite-backed app with a tenant that owns a workflow, a target and a room."""

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
        self.ids: dict[str, str] = {}

    def seed(self) -> None:
        from fastapi.testclient import TestClient

        client = TestClient(self.app)
        headers = self.tenant.headers
        base = self.tenant.objectives
        wf = client.post(f"{base}/workflows", json={"name": "wf"}, headers=headers).json()
        target = client.post(
            f"{base}/workflows/{wf['id']}/targets",
            json={
                "name": "t",
                "reporting_bound": "LOWER",
                "reporting_threshold": 1,
                "reporting_query": {"vendor": "v", "aggregations": ["count"]},
                "reporting_field": "count",
                "reporting_period": "P1D",
            },
            headers=headers,
        ).json()
        self.ids = {"workflow_id": wf["id"], "target_id": target["id"]}
        room = client.post(f"{self.tenant.v5}/rooms", json={"name": "room"}, headers=headers)
        if room.status_code == 201:
            self.ids["room_id"] = room.json()["id"]


_world: World | None = None


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> bytes:
    lines = value if isinstance(value, list) else [value]
    return b"\n".join(orjson.dumps(line) for line in lines)


def world() -> World:
    global _world
    if _world is None:
        _world = World(Path(tempfile.mkdtemp(prefix="tallybook-schemathesis-")))
        _world.seed()
    return _world


def _operations() -> list[tuple[str, str]]:
    spec = create_app(Settings(data_dir=Path(tempfile.mkdtemp()), _env_file=None)).openapi()
    return [
        (path, method.upper())
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete")
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "method"), _operations())
def test_api_conforms_to_its_schema(path: str, method: str) -> None:
    w = world()
    operation = schemathesis.openapi.from_asgi("/openapi.json", w.app)[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        params = case.path_parameters or {}
        if "org_id" in params:
            params["org_id"] = str(w.tenant.org_id)
        for name, value in w.ids.items():
            # Half the time address real objects, so success paths are exercised too.
            if name in params and uuid.uuid5(uuid.NAMESPACE_OID, repr(case.body)).int % 2:
                params[name] = value
        case.call_and_validate(headers=w.tenant.headers, checks=CHECKS)

    check()
