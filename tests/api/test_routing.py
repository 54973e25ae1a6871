"""No path is served by two routers, so the order in which the app matches its routers
(busiest first, see ``tallybook.app.ROUTERS``) cannot change which route answers a
request, nor the methods a 405 names. And the OpenAPI document still lists its sections
in the API's reading order, whatever order the routes are matched in."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from tallybook.app import OPENAPI_TAGS, ROUTERS
from tallybook.console.routes import router as console_router

_PARAMETER = re.compile(r"{([^}:]+)(?::([^}]+))?}")
_SAMPLES = {None: "x1", "str": "x1", "int": "1", "float": "1.5", "path": "a/b"}


def _sample(path: str) -> str:
    """A concrete path the route's template matches: each parameter filled in."""

    def fill(found: re.Match[str]) -> str:
        kind = found.group(2)
        return str(uuid.uuid4()) if kind == "uuid" else _SAMPLES[kind]

    return _PARAMETER.sub(fill, path)


def _routes(router: APIRouter) -> list[APIRoute]:
    return [route for route in router.routes if isinstance(route, APIRoute)]


def test_no_path_is_served_by_two_routers() -> None:
    routers = [*ROUTERS, console_router]
    shared: list[tuple[str, str]] = []
    for index, router in enumerate(routers):
        for route in _routes(router):
            path = _sample(route.path)
            assert route.path_regex.match(path), route.path
            for other_index, other in enumerate(routers):
                if other_index == index:
                    continue
                shared.extend(
                    (route.path, other_route.path)
                    for other_route in _routes(other)
                    if other_route.path_regex.match(path)
                )
    assert shared == []


def test_the_sample_paths_would_find_a_shared_path() -> None:
    """The check above can fail: a template in one router and a literal path in another
    that it covers are found."""
    one, other = APIRouter(), APIRouter()
    one.add_api_route("/api/v4/reports/{report_id}", lambda report_id: None)
    other.add_api_route("/api/v4/reports/search", lambda: None)
    (template,), (literal,) = _routes(one), _routes(other)
    assert template.path_regex.match(_sample(literal.path))
    assert not literal.path_regex.match(_sample(template.path))


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
