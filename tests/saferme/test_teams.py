"""The team id of an organisation: made on its first v4 request, the same ever after, even
when that first request fails (its transaction, team row included, rolls back)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.fixtures.tenants import Tenant
from tests.saferme.factories import V4, created, v4_headers


def _team_of(client: TestClient, tenant: Tenant) -> int:
    form = created(
        client.post(f"{V4}/forms", json={"form": {"name": "F"}}, headers=v4_headers(tenant))
    )
    team: int = form["team_id"]
    return team


def test_a_team_made_by_a_request_that_failed_is_not_remembered(
    client: TestClient, new_tenant: Callable[..., Tenant]
) -> None:
    first, second = new_tenant(), new_tenant()
    # The first v4 request of `first` makes its team row, then fails: the row rolls back.
    refused = client.post(f"{V4}/forms", json={"form": {}}, headers=v4_headers(first))
    assert refused.status_code == 400, refused.text
    # On SQLite `second` may now get the id `first` had in that transaction.
    second_team = _team_of(client, second)
    first_team = _team_of(client, first)
    assert first_team != second_team
    assert _team_of(client, first) == first_team  # and later requests agree
    for tenant, team in ((first, first_team), (second, second_team)):
        listed = client.get(f"{V4}/channels", headers=v4_headers(tenant, **{"X-TeamId": str(team)}))
        assert listed.status_code == 200, listed.text
    other = client.get(
        f"{V4}/channels", headers=v4_headers(first, **{"X-TeamId": str(second_team)})
    )
    assert other.status_code == 403, other.text
