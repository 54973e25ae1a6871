from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.exports.factories import ExportApi
from tests.fixtures.tenants import Tenant


@pytest.fixture
def exports(client: TestClient, tenant: Tenant) -> ExportApi:
    return ExportApi(client, tenant)


@pytest.fixture
def room_id(exports: ExportApi) -> str:
    return exports.room()
