"""The OpenAPI document: FastAPI's, less its 422s, plus bodies that routes parse themselves.

Routes read their body themselves, after their auth dependencies (`kit.body`);
`raw_json_body(Model)` documents such a body as if FastAPI had parsed it.
"""

from __future__ import annotations

import json
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from tallybook.kit.errors import _DESCRIPTIONS

_REF = "#/components/schemas/{model}"

NO_NUL: Final = "^[^\\x00]*$"
"""The pattern of every text in a request body: NUL is 400 everywhere (``kit.schemas``)."""
_documented: dict[str, type[BaseModel]] = {}


def raw_json_body(model: type[BaseModel], also: tuple[str, ...] = ()) -> dict[str, Any]:
    """``openapi_extra`` for a route that validates ``model`` from the raw body itself
    (``kit.body``); ``also`` names more content types read as the same JSON."""
    _documented[model.__name__] = model
    ref = {"$ref": _REF.format(model=model.__name__)}
    content = {kind: {"schema": ref} for kind in ("application/json", *also)}
    error = {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}}
    return {
        "requestBody": {"required": True, "content": content},
        # Every body is read with the same rules (kit.body): too large, wrong content type.
        "responses": {
            str(code): {"description": _DESCRIPTIONS[code], "content": error} for code in (413, 415)
        },
    }


class RequestJsonSchema(GenerateJsonSchema):
    """Request bodies' JSON Schema: a text without a pattern of its own gets
    :data:`NO_NUL`, so the document says what ``StorableText`` refuses."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        json_schema = super().str_schema(schema)
        json_schema.setdefault("pattern", NO_NUL)
        return json_schema


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict):
                operation.get("responses", {}).pop("422", None)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for name, model in _documented.items():
        body = model.model_json_schema(ref_template=_REF, schema_generator=RequestJsonSchema)
        for def_name, definition in body.pop("$defs", {}).items():
            components.setdefault(def_name, definition)
        components.setdefault(name, body)
    app.openapi_schema = json.loads(json.dumps(schema))
    return app.openapi_schema
