"""SaferMe's pagination: ``Range: objects=A-B`` in, ``Content-Range`` out."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.tenants import Tenant
from tests.saferme.factories import V4, make_channel, make_state, v4_headers

TOTAL = 130


@pytest.fixture
def states(client: TestClient, tenant: Tenant) -> tuple[str, list[int]]:
    """A channel with TOTAL states; the list URL and their ids in list order."""
    channel = make_channel(client, tenant)
    ids = [make_state(client, tenant, channel["id"], f"S{i}", i)["id"] for i in range(TOTAL)]
    return f"{V4}/report_states?account_id={channel['id']}", ids


def _page(client: TestClient, tenant: Tenant, url: str, range_: str | None) -> Any:
    headers = v4_headers(tenant) if range_ is None else v4_headers(tenant, Range=range_)
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response


CASES = [
    (None, 0, 60, "report_states 0-59/130"),  # default page of 60
    ("objects=0-0", 0, 1, "report_states 0-0/130"),
    ("objects=0-99", 0, 100, "report_states 0-99/130"),
    ("objects=100-199", 100, 30, "report_states 100-129/130"),
    ("objects=10-500", 10, 100, "report_states 10-109/130"),  # at most 100
    ("objects=129-129", 129, 1, "report_states 129-129/130"),
    ("objects=130-140", 0, 0, "report_states */130"),  # out of range
    ("objects=70-", 70, 60, "report_states 70-129/130"),
    ("objects=5-2", 0, 0, "report_states */130"),  # selects nothing
]


def test_ranges(client: TestClient, tenant: Tenant, states: tuple[str, list[int]]) -> None:
    url, ids = states
    for range_, first, count, content_range in CASES:
        response = _page(client, tenant, url, range_)
        assert [s["id"] for s in response.json()] == ids[first : first + count], range_
        assert response.headers["Content-Range"] == content_range


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(first=st.integers(0, 140), length=st.integers(1, 150))
def test_any_range_is_the_slice_of_the_whole_list(
    client: TestClient, tenant: Tenant, states: tuple[str, list[int]], first: int, length: int
) -> None:
    url, ids = states
    last = first + length - 1
    response = _page(client, tenant, url, f"objects={first}-{last}")
    expected = ids[first : first + min(length, 100)]
    assert [s["id"] for s in response.json()] == expected
    if expected:
        end = first + len(expected) - 1
        assert response.headers["Content-Range"] == f"report_states {first}-{end}/{TOTAL}"
    else:
        assert response.headers["Content-Range"] == f"report_states */{TOTAL}"


def test_an_empty_list_is_star_zero(client: TestClient, tenant: Tenant) -> None:
    response = client.get(f"{V4}/notifications", headers=v4_headers(tenant))
    assert response.json() == [] and response.headers["Content-Range"] == "notifications */0"


@pytest.mark.parametrize(
    "range_",
    ["bytes=0-10", "objects=a-b", "objects", "0-10", "objects=-5", "objects=1-2,4-5", "", "0"],
)
def test_a_range_of_another_form_is_ignored(
    client: TestClient, tenant: Tenant, range_: str
) -> None:
    for name in ("B", "A"):
        make_channel(client, tenant, name=name)
    response = client.get(f"{V4}/channels", headers=v4_headers(tenant, Range=range_))
    assert response.status_code == 200
    assert [c["name"] for c in response.json()] == ["A", "B"]
    assert response.headers["Content-Range"] == "channels 0-1/2"
