"""The OpenAPI document: FastAPI's, less its 422s, plus bodies that routes parse themselves.

Routes read their body themselves, after their auth dependencies (`kit.body`);
`raw_json_body(Model)` documents such a body as if FastAPI had parsed it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from tallybook.kit.errors import _DESCRIPTIONS

_REF = "#/components/schemas/{model}"
_documented: dict[str, type[BaseModel]] = {}


def raw_json_body(model: type[BaseModel], also: tuple[str, ...] = ()) -> dict[str, Any]:
    """``openapi_extra`` for a route that validates ``model`` from the raw body itself
    (``kit.body``); ``also`` names more content types read as the same JSON."""
    _documented[model.__name__] = model
    ref = {"$ref": _REF.format(model=model.__name__)}
    content = {kind: {"schema": ref} for kind in ("application/json", *also)}
    unsupported = {
        "description": _DESCRIPTIONS[415],
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}},
    }
    return {
        "requestBody": {"required": True, "content": content},
        "responses": {"415": unsupported},
    }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict):
                operation.get("responses", {}).pop("422", None)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for name, model in _documented.items():
        body = model.model_json_schema(ref_template=_REF)
        for def_name, definition in body.pop("$defs", {}).items():
            components.setdefault(def_name, definition)
        components.setdefault(name, body)
    app.openapi_schema = json.loads(json.dumps(schema))
    return app.openapi_schema
