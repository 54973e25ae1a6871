"""Starting, reading and listing report exports (seed 004): the resource, its validation,
the cursor list. What the worker makes of them is in tests/worker/test_exports*.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.exports.factories import END, START, ExportApi, logs, stats
from tests.fixtures.tenants import Tenant

ATTRIBUTES = {
    "id",
    "starting_at",
    "ending_at",
    "room_id",
    "type",
    "format",
    "is_real_conversation",
    "min_message_count",
    "created_at",
    "created_by_user_id",
    "updated_at",
    "completed_at",
    "expires_at",
    "is_failed",
    "url",
    "error",
}


def test_start_answers_201_with_the_incomplete_export(exports: ExportApi, room_id: str) -> None:
    created = exports.start(
        logs(
            room_id,
            format="xlsx",
            starting_at="2024-03-01T02:00:00+02:00",
            is_real_conversation=True,
            min_message_count=2,
        )
    )
    assert set(created) == ATTRIBUTES
    assert created["starting_at"] == "2024-03-01T00:00:00.000Z"
    assert created["ending_at"] == "2024-04-01T00:00:00.000Z"
    assert (created["type"], created["format"], created["room_id"]) == ("logs", "xlsx", room_id)
    assert (created["is_real_conversation"], created["min_message_count"]) == (True, 2)
    assert created["created_by_user_id"] == str(exports.tenant.user_id)
    for incomplete in ("completed_at", "expires_at", "is_failed", "url", "error"):
        assert created[incomplete] is None
    assert created["created_at"].endswith("Z") and created["updated_at"].endswith("Z")
    assert exports.get(created["id"]) == created


def test_logs_options_default_and_stats_have_none(exports: ExportApi, room_id: str) -> None:
    plain = exports.start(logs(room_id, format="txt"))
    assert (plain["is_real_conversation"], plain["min_message_count"]) == (None, 0)
    daily = exports.start(stats(room_id, format="xlsx"))
    assert (daily["is_real_conversation"], daily["min_message_count"]) == (None, None)
    explicit_nulls = exports.start(
        stats(room_id, is_real_conversation=None, min_message_count=None)
    )
    assert explicit_nulls["type"] == "stats"


def _room_of_another_org(exports: ExportApi, new_tenant: Callable[..., Tenant]) -> str:
    return ExportApi(exports.client, new_tenant()).room()


INVALID: list[tuple[str, Callable[[str], dict[str, Any]], list[Any], str]] = [
    ("txt stats", lambda r: stats(r, format="txt"), ["format"], "csv or xlsx"),
    ("pdf logs", lambda r: logs(r, format="pdf"), ["format"], ""),
    ("unknown type", lambda r: logs(r, type="chats"), ["type"], ""),
    (
        "real filter on stats",
        lambda r: stats(r, is_real_conversation=False),
        ["is_real_conversation"],
        "logs",
    ),
    ("count on stats", lambda r: stats(r, min_message_count=0), ["min_message_count"], "logs"),
    ("negative count", lambda r: logs(r, min_message_count=-1), ["min_message_count"], ""),
    ("count as text", lambda r: logs(r, min_message_count="3"), ["min_message_count"], ""),
    ("count as boolean", lambda r: logs(r, min_message_count=True), ["min_message_count"], ""),
    ("count as float", lambda r: logs(r, min_message_count=1.5), ["min_message_count"], ""),
    ("real as text", lambda r: logs(r, is_real_conversation="yes"), ["is_real_conversation"], ""),
    ("empty range", lambda r: logs(r, ending_at=START), ["ending_at"], "after starting_at"),
    (
        "reversed range",
        lambda r: logs(r, starting_at=END, ending_at=START),
        ["ending_at"],
        "after starting_at",
    ),
    ("date as number", lambda r: logs(r, starting_at=0), ["starting_at"], "ISO 8601"),
    ("year 3000", lambda r: logs(r, ending_at="3000-01-01T00:00:00Z"), ["ending_at"], "range"),
    ("room not a uuid", lambda r: logs("room-1"), ["room_id"], ""),
    ("unknown room", lambda r: logs(str(uuid.uuid4())), ["room_id"], "room of this organisation"),
    ("unknown field", lambda r: logs(r, user_id=str(uuid.uuid4())), ["user_id"], "Unknown"),
]


@pytest.mark.parametrize(
    ("payload", "loc", "words"),
    [pytest.param(make, loc, words, id=name) for name, make, loc, words in INVALID],
)
def test_invalid_payloads_are_400_naming_the_field(
    exports: ExportApi,
    room_id: str,
    payload: Callable[[str], dict[str, Any]],
    loc: list[Any],
    words: str,
) -> None:
    response = exports.post(payload(room_id))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid"
    assert ["body", *loc] in [error["loc"] for error in body["errors"]]
    assert words in body["detail"]
    assert loc[0] in body["detail"] or len(body["errors"]) > 1
    assert exports.page()["results"] == []  # nothing half-written


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "created_at",
        "created_by_user_id",
        "updated_at",
        "completed_at",
        "expires_at",
        "is_failed",
        "url",
        "error",
    ],
)
def test_read_only_attributes_are_400(exports: ExportApi, room_id: str, field: str) -> None:
    response = exports.post(logs(room_id, **{field: None}))
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        {"loc": ["body", field], "msg": "This field is read-only."}
    ]


def test_missing_attributes_are_each_named(exports: ExportApi) -> None:
    response = exports.post({})
    assert response.status_code == 400
    locs = {tuple(error["loc"]) for error in response.json()["errors"]}
    assert locs == {
        ("body", field) for field in ("type", "format", "room_id", "starting_at", "ending_at")
    }


@pytest.mark.parametrize("body", [b"[]", b'"logs"', b"{", b""])
def test_a_body_that_is_not_an_object_is_400(exports: ExportApi, body: bytes) -> None:
    response = exports.client.post(
        exports.url(),
        content=body,
        headers={**exports.tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    if body in (b"[]", b'"logs"'):  # valid JSON, not an object: said so, no class named
        (error,) = response.json()["errors"]
        assert error == {
            "loc": ["body"],
            "msg": "The body must be a JSON object, sent with Content-Type: application/json.",
        }


def test_a_room_of_another_organisation_is_400(
    exports: ExportApi, new_tenant: Callable[..., Tenant]
) -> None:
    response = exports.post(logs(_room_of_another_org(exports, new_tenant)))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"loc": ["body", "room_id"], "msg": "must be a room of this organisation"}
    ]


def test_list_is_a_cursor_page_newest_first(exports: ExportApi, room_id: str) -> None:
    made = [exports.start(logs(room_id, format=f))["id"] for f in ("csv", "xlsx", "txt")]
    made.append(exports.start(stats(room_id))["id"])
    page = exports.page()
    assert set(page) == {"next", "previous", "results"}
    assert [e["id"] for e in page["results"]] == made[::-1]
    assert page["next"] is None and page["previous"] is None

    seen, url = [], None
    while True:
        page = exports.page(url, page_size=3) if url is None else exports.page(url)
        seen += [e["id"] for e in page["results"]]
        if page["next"] is None:
            break
        assert page["next"].startswith("http")
        url = page["next"]
    assert seen == made[::-1]


def test_unknown_and_malformed_export_ids_are_404(exports: ExportApi) -> None:
    assert exports.get(str(uuid.uuid4()), status=404)["code"] == "not_found"
    assert exports.get("not-a-uuid", status=404)["code"] == "not_found"
