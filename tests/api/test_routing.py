"""No path is served by two routers, so the order in which the app matches its routers
(busiest first, see ``tallybook.app.ROUTERS``) cannot change which route answers a
request, nor the methods a 405 names. And the OpenAPI document still lists its sections
in the API's reading order, whatever order the routes are matched in."""

from __future__ import annotations

from itertools import combinations

from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts

from tallybook.app import OPENAPI_TAGS, ROUTERS
from tallybook.console.routes import router as console_router


def _paths(router: APIRouter) -> list[str]:
    """The full path template of every route of ``router``, its nested routers' included."""
    return [context.path for context in iter_route_contexts(router.routes) if context.path]


def _could_both_match(one: str, other: str) -> bool:
    """Whether some request path matches both templates: segment by segment, a parameter
    matches any segment, a ``{…:path}`` parameter any rest, literals only themselves."""
    left, right = one.strip("/").split("/"), other.strip("/").split("/")
    for a, b in zip(left, right, strict=False):
        if a.endswith(":path}") or b.endswith(":path}"):
            return True
        if "{" not in a and "{" not in b and a != b:
            return False
    return len(left) == len(right)


def shared_paths(routers: list[APIRouter]) -> list[tuple[str, str]]:
    """Pairs of templates of two different routers that some request path matches."""
    return [
        (one, other)
        for first, second in combinations(routers, 2)
        for one in _paths(first)
        for other in _paths(second)
        if _could_both_match(one, other)
    ]


def test_no_path_is_served_by_two_routers() -> None:
    routers = [*ROUTERS, console_router]
    assert sum(len(_paths(router)) for router in routers) > 100  # the nested ones counted
    assert shared_paths(routers) == []


def test_a_path_two_routers_could_serve_is_found() -> None:
    """The check above can fail: templates that overlap only on some paths, a catch-all,
    and a nested router's routes are all seen."""
    one, other, nested, outer = APIRouter(), APIRouter(), APIRouter(), APIRouter()
    one.add_api_route("/api/v4/{kind}/search", lambda kind: None)
    other.add_api_route("/api/v4/reports/{report_id}", lambda report_id: None)
    assert shared_paths([one, other]) == [("/api/v4/{kind}/search", "/api/v4/reports/{report_id}")]
    nested.add_api_route("/v4/{anything:path}", lambda anything: None)
    outer.include_router(nested, prefix="/api")
    found = shared_paths([one, outer])
    assert found == [("/api/v4/{kind}/search", "/api/v4/{anything:path}")]
    assert shared_paths([other, one]) != []
    assert not _could_both_match("/api/v4/reports", "/api/v4/reports/{report_id}")
    assert not _could_both_match("/api/v4/forms/{form_id}", "/api/v4/reports/{report_id}")
    assert not _could_both_match("/api/x/{anything:path}", "/api/v4/{kind}/search")


def test_the_openapi_sections_keep_the_reading_order(app: FastAPI) -> None:
    document = app.openapi()
    used = {
        tag
        for operations in document["paths"].values()
        for operation in operations.values()
        for tag in operation.get("tags", [])
    }
    listed = [tag["name"] for tag in document["tags"]]
    assert listed == [tag["name"] for tag in OPENAPI_TAGS]
    assert used == set(listed)  # a section missing from the list would be shown last
