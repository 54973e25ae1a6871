"""The console's pages and forms over the app's HTTP client (SQLite and PostgreSQL):
sign-in and the session cookie, CSRF, the permission matrix, tenancy 404s, and the target
and notification forms writing through the same services as the API."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from tallybook.console.session import COOKIE, IDLE_SECONDS
from tallybook.evaluations.repository import NewEvaluation, add_evaluations
from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tallybook.kit.signing import Signer
from tallybook.targets.bounds import TargetBound, TargetStatus
from tests.console.factories import (
    csrf_of,
    make_target,
    post_form,
    sign_in,
    target_form,
)
from tests.events.factories import event
from tests.fixtures.tenants import Tenant, add_user
from tests.targets.factories import make_workflow


def test_pages_need_a_signed_in_user(client: TestClient) -> None:
    client.cookies.clear()
    answer = client.get("/console/targets?workflow=x", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=/console/targets%3Fworkflow%3Dx"


def test_sign_in_sets_a_signed_http_only_cookie(client: TestClient, tenant: Tenant) -> None:
    sign_in(client, tenant)
    answer = client.get("/console/targets")
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it (test below)
    assert tenant.token not in cookie  # the cookie holds the token's hash only


def test_cookie_is_secure_over_https(client: TestClient, tenant: Tenant) -> None:
    answer = client.get("https://testserver/console/sign-in")
    assert "Secure" in answer.headers["set-cookie"]


def test_a_wrong_token_is_refused_on_the_form(client: TestClient) -> None:
    client.cookies.clear()
    csrf = csrf_of(client.get("/console/sign-in").text)
    answer = post_form(client, "/console/sign-in", csrf, {"token": "tb_nope", "next": "/"})
    assert answer.status_code == 401
    assert "That token is not valid" in answer.text
    assert client.get("/console/targets", follow_redirects=False).status_code == 303


def test_sign_in_goes_only_to_console_paths(client: TestClient, tenant: Tenant) -> None:
    client.cookies.clear()
    csrf = csrf_of(client.get("/console/sign-in").text)
    data = {"token": tenant.token, "next": "//evil.example/console/x"}
    answer = post_form(client, "/console/sign-in", csrf, data)
    assert answer.headers["location"] == "/console"


def test_sign_out_ends_the_session(client: TestClient, tenant: Tenant) -> None:
    csrf = sign_in(client, tenant)
    assert post_form(client, "/console/sign-out", csrf, {}).status_code == 303
    assert client.get("/console/targets", follow_redirects=False).status_code == 303


def test_an_idle_session_expires(client: TestClient, tenant: Tenant, app: object) -> None:
    sign_in(client, tenant)
    signer = Signer.for_purpose(
        app.state.settings.signing_key(),  # type: ignore[attr-defined]
        b"tallybook/console-session/v1",
    )
    current = orjson.loads(signer.unsign(client.cookies[COOKIE]))
    stale = {**current, "t": int(time.time()) - IDLE_SECONDS - 5}
    client.cookies.set(COOKIE, signer.sign(orjson.dumps(stale)), path="/console")
    assert client.get("/console/targets", follow_redirects=False).status_code == 303
    fresh = {**current, "t": int(time.time()) - IDLE_SECONDS + 60}
    client.cookies.set(COOKIE, signer.sign(orjson.dumps(fresh)), path="/console")
    assert client.get("/console/targets", follow_redirects=False).status_code == 200


def test_a_forged_cookie_is_no_session(client: TestClient, tenant: Tenant) -> None:
    sign_in(client, tenant)
    payload, _, signature = client.cookies[COOKIE].partition(".")
    client.cookies.set(COOKIE, f"{payload}.{signature[::-1]}", path="/console")
    assert client.get("/console/targets", follow_redirects=False).status_code == 303


def test_every_page_sends_a_strict_content_security_policy(
    client: TestClient, tenant: Tenant
) -> None:
    sign_in(client, tenant)
    workflow_id, target_id = make_target(client, tenant)
    for path in (
        "/console/sign-in",
        "/console/targets",
        f"/console/workflows/{workflow_id}/targets/{target_id}",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        # no inline script or style for the policy to refuse
        assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text), path
        assert " style=" not in answer.text, path
        for form in re.findall(r'<form method="post".*?</form>', answer.text, re.S):
            assert 'name="csrf_token"' in form, path  # every form carries the CSRF token


@pytest.mark.parametrize("method", ["with no token", "with another session's token"])
def test_a_form_without_the_csrf_token_is_refused(
    client: TestClient, tenant: Tenant, method: str
) -> None:
    csrf = sign_in(client, tenant)
    workflow_id, target_id = make_target(client, tenant)
    data = target_form(name="Changed by a forged form")
    if method == "with no token":
        answer = client.post(f"/console/workflows/{workflow_id}/targets/{target_id}", data=data)
    else:
        other = csrf[::-1]
        answer = post_form(
            client, f"/console/workflows/{workflow_id}/targets/{target_id}", other, data
        )
    assert answer.status_code == 403
    assert "security token" in answer.text
    api = client.get(
        f"{tenant.objectives}/workflows/{workflow_id}/targets/{target_id}",
        headers=tenant.headers,
    )
    assert api.json()["name"] == "At least 5 leads a day"


def test_overview_lists_targets_with_their_current_value(
    client: TestClient, tenant: Tenant
) -> None:
    workflow_id, target_id = make_target(client, tenant)
    other_workflow, _ = make_target(client, tenant, name="Another target")
    sign_in(client, tenant)
    page = client.get("/console/targets").text
    assert f"/console/workflows/{workflow_id}/targets/{target_id}" in page
    assert "Another target" in page
    assert "0 / 5" in page  # no events yet: the /test value against the threshold
    assert "✗ not reached" in page
    filtered = client.get(f"/console/targets?workflow={other_workflow}").text
    assert "Another target" in filtered
    assert "At least 5 leads a day" not in filtered


def test_create_a_target_through_the_form(client: TestClient, tenant: Tenant) -> None:
    workflow_id = make_workflow(client, tenant)
    csrf = sign_in(client, tenant)
    answer = post_form(
        client, "/console/targets/new", csrf, {"workflow": workflow_id, **target_form()}
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    target_id = location.rsplit("/", 1)[1]
    api = client.get(
        f"{tenant.objectives}/workflows/{workflow_id}/targets/{target_id}",
        headers=tenant.headers,
    ).json()
    assert api["name"] == "At least 7 leads a day"
    assert api["reporting_threshold"] == 7
    assert api["are_notifications_active"] is True
    assert "At least 7 leads a day" in client.get(location).text


def test_the_form_shows_the_apis_validation_messages(client: TestClient, tenant: Tenant) -> None:
    workflow_id = make_workflow(client, tenant)
    csrf = sign_in(client, tenant)
    answer = post_form(
        client,
        "/console/targets/new",
        csrf,
        {"workflow": workflow_id, **target_form(reporting_period="daily")},
    )
    assert answer.status_code == 400
    message = _api_message(client, tenant, workflow_id, {"reporting_period": "daily"})
    assert str(escape(message)) in answer.text  # as the template escapes it
    assert 'id="reporting_period" name="reporting_period" value="daily"' in answer.text
    assert 'aria-invalid="true"' in answer.text
    targets = client.get(
        f"{tenant.objectives}/workflows/{workflow_id}/targets", headers=tenant.headers
    ).json()
    assert targets == []  # nothing half-written


def _api_message(
    client: TestClient, tenant: Tenant, workflow_id: str, change: dict[str, object]
) -> str:
    """The message the API gives for one bad field of an otherwise valid target."""
    body = {
        **orjson.loads(orjson.dumps(target_form())),
        "reporting_threshold": 7,
        "are_notifications_active": True,
        "reporting_query": orjson.loads(target_form()["reporting_query"]),
        **change,
    }
    for empty in ("notification_period", "target_active_from", "target_active_until"):
        body[empty] = None
    answer = client.post(
        f"{tenant.objectives}/workflows/{workflow_id}/targets", json=body, headers=tenant.headers
    )
    assert answer.status_code == 400, answer.text
    message: str = answer.json()["errors"][0]["msg"]
    return message


def test_edit_a_target_and_see_a_validation_error(client: TestClient, tenant: Tenant) -> None:
    workflow_id, target_id = make_target(client, tenant)
    csrf = sign_in(client, tenant)
    path = f"/console/workflows/{workflow_id}/targets/{target_id}"
    refused = post_form(client, path, csrf, target_form(reporting_query="{not json"))
    assert refused.status_code == 400
    assert "This must be a JSON object" in refused.text
    saved = post_form(client, path, csrf, target_form(name="Renamed", reporting_threshold="12.5"))
    assert saved.status_code == 303
    api = client.get(
        f"{tenant.objectives}/workflows/{workflow_id}/targets/{target_id}", headers=tenant.headers
    ).json()
    assert (api["name"], api["reporting_threshold"]) == ("Renamed", 12.5)


def test_notification_settings_add_pause_edit_delete(client: TestClient, tenant: Tenant) -> None:
    workflow_id, target_id = make_target(client, tenant)
    csrf = sign_in(client, tenant)
    base = f"/console/workflows/{workflow_id}/targets/{target_id}"
    api = f"{tenant.objectives}/workflows/{workflow_id}/targets/{target_id}/notifications"

    refused = post_form(
        client,
        f"{base}/notifications",
        csrf,
        {"channel_type": "slack", "name": "Sales", "incoming_webhook_url": "ftp://x"},
    )
    assert refused.status_code == 400
    assert client.get(api, headers=tenant.headers).json()["slack"] == []

    added = post_form(
        client,
        f"{base}/notifications",
        csrf,
        {
            "channel_type": "slack",
            "name": "Sales",
            "has_active": "1",
            "is_notification_active": "on",
            "incoming_webhook_url": "https://hooks.example.com/services/T0/B0/secret1234",
        },
    )
    assert added.status_code == 303
    slack = client.get(api, headers=tenant.headers).json()["slack"]
    assert [(s["name"], s["is_notification_active"]) for s in slack] == [("Sales", True)]
    setting = f"{base}/notifications/slack/{slack[0]['id']}"

    assert post_form(client, setting, csrf, {"action": "pause"}).status_code == 303
    assert (
        client.get(api, headers=tenant.headers).json()["slack"][0]["is_notification_active"]
        is False
    )
    page = client.get(base).text
    assert "paused" in page and "Resume" in page
    assert "secret1234" not in page.replace("****1234", "")  # the secret stays masked

    edited = post_form(
        client,
        setting,
        csrf,
        {
            "action": "save",
            "name": "Sales team",
            "has_active": "1",
            "is_notification_active": "on",
            "incoming_webhook_url": slack[0]["incoming_webhook_url"],
        },
    )
    assert edited.status_code == 303
    after = client.get(api, headers=tenant.headers).json()["slack"][0]
    assert (after["name"], after["is_notification_active"]) == ("Sales team", True)
    assert after["incoming_webhook_url"] == slack[0]["incoming_webhook_url"]  # unchanged

    email = post_form(
        client,
        f"{base}/notifications",
        csrf,
        {"channel_type": "email", "email": "not an address"},
    )
    assert email.status_code == 400
    assert post_form(client, setting, csrf, {"action": "delete"}).status_code == 303
    assert client.get(api, headers=tenant.headers).json()["slack"] == []


def test_another_organisations_ids_are_404_pages(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    workflow_id, target_id = make_target(client, tenant)
    api_settings = f"{tenant.objectives}/workflows/{workflow_id}/targets/{target_id}/notifications"
    email = client.post(
        f"{api_settings}/email", json={"email": "lead@example.com"}, headers=tenant.headers
    ).json()
    stranger = new_tenant()
    csrf = sign_in(client, stranger)
    path = f"/console/workflows/{workflow_id}/targets/{target_id}"
    setting = f"{path}/notifications/email/{email['id']}"
    for answer in (
        client.get(path),
        client.get(f"{path}/current"),
        post_form(client, path, csrf, target_form(name="Taken over")),
        post_form(client, f"{path}/delete", csrf, {}),
        post_form(
            client,
            f"{path}/notifications",
            csrf,
            {"channel_type": "email", "email": "x@example.com"},
        ),
        post_form(client, setting, csrf, {"action": "pause"}),
        post_form(client, setting, csrf, {"action": "delete"}),
        client.get(f"/console/workflows/{workflow_id}"),
        client.get("/console/workflows/not-a-uuid/targets/" + target_id),
    ):
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert "Not found" in answer.text
    assert "At least 5 leads a day" not in client.get("/console/targets").text
    api = client.get(
        f"{tenant.objectives}/workflows/{workflow_id}/targets/{target_id}", headers=tenant.headers
    )
    assert api.json()["name"] == "At least 5 leads a day"
    kept = client.get(api_settings, headers=tenant.headers).json()["email"]
    assert [(e["id"], e["is_notification_active"]) for e in kept] == [(email["id"], True)]


def test_names_are_escaped(client: TestClient, tenant: Tenant) -> None:
    workflow_id, target_id = make_target(client, tenant, name="<script>alert(1)</script>")
    sign_in(client, tenant)
    for path in ("/console/targets", f"/console/workflows/{workflow_id}/targets/{target_id}"):
        page = client.get(path).text
        assert "<script>alert" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


def test_permissions_follow_the_api(client: TestClient, tenant: Tenant, database: object) -> None:
    workflow_id, target_id = make_target(client, tenant)
    reporter = add_user(database, tenant, permissions=["reporting"])  # type: ignore[arg-type]
    sign_in(client, reporter)
    page = client.get("/console/targets").text
    assert "At least 5 leads a day" in page
    assert 'href="/console/exports"' not in page  # exports need `settings`, as in the API
    assert client.get("/console/exports").status_code == 403

    setter = add_user(database, tenant, permissions=["settings"])  # type: ignore[arg-type]
    client.cookies.clear()
    form = client.get("/console/sign-in")
    post_form(
        client, "/console/sign-in", csrf_of(form.text), {"token": setter.token, "next": "/console"}
    )
    for path in ("/console/targets", f"/console/workflows/{workflow_id}/targets/{target_id}"):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "reporting" in answer.text
    home = client.get("/console", follow_redirects=False)
    assert home.headers["location"] == "/console/exports"


def test_an_inactive_subscription_cannot_sign_in(
    client: TestClient, new_tenant: Callable[..., Tenant]
) -> None:
    inactive = new_tenant(active=False)
    client.cookies.clear()
    csrf = csrf_of(client.get("/console/sign-in").text)
    answer = post_form(client, "/console/sign-in", csrf, {"token": inactive.token, "next": "/"})
    assert answer.status_code == 401


def test_static_files_are_served_and_unknown_ones_are_404(client: TestClient) -> None:
    script = client.get("/console/static/console.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/console/static/console.css").status_code == 200
    assert client.get("/console/static/..%2Fweb.py").status_code == 404


def _count_statements(monkeypatch: pytest.MonkeyPatch, store: EventStore) -> list[str]:
    """Each statement the event store runs from now on (one round trip each)."""
    sent: list[str] = []
    for name in ("execute", "execute_batches"):
        original = getattr(store, name)

        def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            sent.append(str(args[0]))
            return _original(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    return sent


def test_one_event_store_round_trip_per_chart(
    client: TestClient, tenant: Tenant, event_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_id, target_id = make_target(client, tenant)
    make_target(client, tenant, name="Another target")
    sign_in(client, tenant)
    sent = _count_statements(monkeypatch, event_store)
    assert client.get("/console/targets").status_code == 200
    assert len(sent) == 2  # one current value (bar) per target; the trends are evaluations
    sent.clear()
    assert client.get(f"/console/workflows/{workflow_id}/targets/{target_id}").status_code == 200
    assert len(sent) == 1  # the current period; the closed ones are evaluations
    sent.clear()
    explorer = client.get("/console/explorer", params={"vendor": "com.example.shop"})
    assert explorer.status_code == 200
    assert len(sent) == 1
    sent.clear()
    assert client.get(f"/console/workflows/{workflow_id}").status_code == 200
    funnel = [statement for statement in sent if "per_session" in statement]
    assert len(funnel) == 1  # the whole funnel chart; the rest is the step table's reads
    assert all("LIMIT" in statement.upper() for statement in sent if statement not in funnel)


def test_an_unknown_console_page_is_an_html_404(client: TestClient, tenant: Tenant) -> None:
    sign_in(client, tenant)
    answer = client.get("/console/no-such-page")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_reloaded_parts_do_not_renew_the_session(client: TestClient, tenant: Tenant) -> None:
    workflow_id, target_id = make_target(client, tenant)
    sign_in(client, tenant)
    part = client.get(f"/console/workflows/{workflow_id}/targets/{target_id}/current")
    assert part.status_code == 200
    assert '<p class="big">0 <span class="muted">/ 5</span>' in part.text  # the /test value
    assert "set-cookie" not in part.headers  # only the user's own requests count as activity
    assert "set-cookie" in client.get("/console/targets").headers


def test_values_and_periods_are_the_apis(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    """The current value is the API's /test, the periods its /evaluations."""
    workflow_id, target_id = make_target(client, tenant)
    now = datetime.now(UTC)
    stored = client.post(
        "/events/v2/store/trusted",
        json={"events": [event(tenant, timestamp=now.isoformat()) for _ in range(3)]},
        headers=tenant.headers,
    )
    assert stored.status_code == 200, stored.text
    days = [
        (now - timedelta(days=n)).replace(hour=0, minute=0, second=0, microsecond=0)
        for n in (3, 2, 1)
    ]
    with database.unit_of_work() as session:
        add_evaluations(
            session,
            [
                NewEvaluation(
                    tenant.org_id,
                    uuid.UUID(target_id),
                    start,
                    start + timedelta(days=1),
                    value,
                    True,
                    5.0,
                    TargetBound.LOWER,
                    TargetStatus.REACHED if value >= 5 else TargetStatus.NOT_REACHED,
                    value >= 5,
                    now,
                )
                for start, value in zip(days, (7.0, 4.0, 5.5), strict=True)
            ],
        )
    api = f"{tenant.objectives}/workflows/{workflow_id}/targets/{target_id}"
    test = client.get(f"{api}/test", headers=tenant.headers).json()
    assert test["value"] == 3
    periods = client.get(f"{api}/evaluations", headers=tenant.headers).json()["results"]
    assert [p["value"] for p in periods] == [5.5, 4.0, 7.0]  # latest first
    sign_in(client, tenant)
    overview = client.get("/console/targets").text
    assert "3 / 5" in overview
    assert 'aria-label="The last 3 periods: 7, 4, 5.50; 2 reached"' in overview
    page = client.get(f"/console/workflows/{workflow_id}/targets/{target_id}").text
    assert '<p class="big">3 <span class="muted">/ 5</span>' in page
    cells = re.findall(r'<td class="num">([^<]+?)(?: <span|</td>)', page)
    assert cells[0::2] == ["5.50", "4", "7"]  # value column, latest first as the API
    assert page.count('class="col reached"') == 2
    assert page.count('class="col missed"') == 1
