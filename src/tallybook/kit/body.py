"""Reading request bodies: after the caller is known, with the rules every route shares.

FastAPI parses a declared body before it runs any dependency, so a malformed body would
be refused (400) before an unauthenticated caller (401). Routes here declare their body
as a dependency (:func:`json_body`) listed after their auth dependency instead: the body
is read only once the caller may call the route. Reading it checks, in this order:

1. the content type (415 for one the route does not take; none at all is read as JSON);
2. the size (413, counted by the body limit middleware as the bytes stream in);
3. the nesting depth (400 ``too_deep`` beyond :data:`MAX_JSON_DEPTH`), on the raw bytes,
   before any parser or recursive code sees the structure (event ingestion checks it
   after its plain path, a parser of fixed depth that refuses anything deeper);
4. the JSON itself (400 ``invalid``), then the route's model (400 ``invalid``).
"""

from __future__ import annotations

import json
import re
from email.message import Message
from typing import Any, Final, TypeVar

import orjson
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from tallybook.kit.errors import InvalidPayload, TooDeep, UnsupportedMediaType, validation_errors

MAX_JSON_DEPTH: Final = 32
"""How deep a JSON body may nest objects and arrays (``{"a": [1]}`` is 2 deep). Real
queries use a handful of levels; the limit keeps every recursive step (validation, the
query renderer, the database's parser) far from its own limits."""

JSON: Final = frozenset({"application/json"})
"""The content type every JSON route takes (any ``charset`` parameter is ignored)."""

_M = TypeVar("_M", bound=BaseModel)

_INNERMOST: Final = re.compile(rb"\[\]|\{\}")  # a pass removes only the pairs innermost before it

_ALL_BUT_QUOTES_AND_BRACKETS: Final = bytes(range(256)).translate(None, b'"[]{}')


def json_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep ``raw`` (JSON or NDJSON) nests, counted up to ``limit + 1`` at most.

    Works on the bytes, without parsing or recursion, at the speed of ``bytes`` methods:
    escaped backslashes and quotes are dropped, then every byte but quotes and brackets;
    adjacent quotes go (nothing between them matters), then what is inside the remaining
    strings. Each pass then removes the innermost ``[]``/``{}`` pairs, so the number of
    passes is the depth. A body whose brackets do not balance is not JSON; the parser
    refuses it afterwards.
    """
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in raw else raw
    kept = text.translate(None, _ALL_BUT_QUOTES_AND_BRACKETS).replace(b'""', b"")
    brackets = b"".join(kept.split(b'"')[::2]) if b'"' in kept else kept
    depth = 0
    while brackets and depth <= limit:
        shorter = _INNERMOST.sub(b"", brackets)
        if len(shorter) == len(brackets):
            break
        brackets = shorter
        depth += 1
    return depth


def value_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep a parsed JSON value nests (the same count as :func:`json_depth`), counted
    up to ``limit + 1`` at most, without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def check_depth(raw: bytes) -> None:
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise TooDeep(f"The body nests objects and arrays more than {MAX_JSON_DEPTH} levels deep.")


def media_type(request: Request) -> str | None:
    """The request's content type without parameters, lowercased; None when absent."""
    value = request.headers.get("content-type")
    if value is None or not value.strip():
        return None
    message = Message()
    message["content-type"] = value
    return message.get_content_type()


def check_media_type(request: Request, accepted: frozenset[str]) -> None:
    kind = media_type(request)
    if kind is not None and kind not in accepted:
        names = " or ".join(sorted(accepted))
        raise UnsupportedMediaType(f"This endpoint takes a body of type {names}.")


async def read_body(
    request: Request, accepted: frozenset[str] = JSON, *, nesting: bool = True
) -> bytes:
    """The raw body, once its content type and depth are allowed (413 comes from the
    body limit middleware while the bytes arrive). ``nesting=False`` leaves the depth to a
    caller whose first reader is bounded by a fixed schema, and which calls
    :func:`check_depth` before anything else reads a body that schema refused."""
    check_media_type(request, accepted)
    raw = await request.body()
    if nesting:
        check_depth(raw)
    return raw


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise InvalidPayload([{"loc": ["body"], "msg": "A JSON body is required."}])
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:  # valid JSON orjson refuses: an escaped lone surrogate, which the models then name
        return json.loads(raw)
    except ValueError:
        raise InvalidPayload([{"loc": ["body"], "msg": "The body is not valid JSON."}]) from None


async def read_json(request: Request, accepted: frozenset[str] = JSON) -> Any:
    """The body parsed as JSON, after :func:`read_body`'s checks."""
    return parse_json(await read_body(request, accepted))


def validate_body(model: type[_M], raw: Any) -> _M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidPayload(validation_errors(exc.errors(), "body")) from None


def json_body(model: type[_M]) -> Any:
    """``Annotated[Model, json_body(Model)]``: the body validated as ``model``.

    List it after the route's auth dependency (``SettingsUser`` …): FastAPI solves a
    route's dependencies in the order of its parameters. Document the body with
    ``openapi_extra=raw_json_body(Model)``.
    """

    async def dependency(request: Request) -> _M:
        return validate_body(model, await read_json(request))

    dependency.body_model = model  # type: ignore[attr-defined]  # read by the tests
    return Depends(dependency)
