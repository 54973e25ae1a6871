"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from tallybook import __version__, health
from tallybook.chats.endpoints import router as chats_router
from tallybook.kit.db import Database
from tallybook.kit.errors import install_error_handlers
from tallybook.kit.middleware import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    TrailingSlashMiddleware,
)
from tallybook.notifications.endpoints import router as notifications_router
from tallybook.settings import Settings
from tallybook.targets.endpoints import router as targets_router
from tallybook.workflows.endpoints import router as workflows_router

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    workflows_router,
    targets_router,
    notifications_router,
    chats_router,
)

DESCRIPTION = """
Tallybook is a self-hosted reporting backend, compatible with giosg's Conversational
Reporting API. Authenticate with `Authorization: Token <key>` (or `Bearer <key>`, or
`?token=<key>`). Every error is JSON: `{"detail", "code", "errors"?}`.
"""


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or Settings()
    database = database or Database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = FastAPI(
        title="Tallybook",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    def limit_for(path: str) -> int:
        if path.rstrip("/").endswith("/chats/import"):
            return settings.import_max_bytes
        return settings.max_request_bytes

    # Added last runs first: the slash is trimmed before anything looks at the path.
    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(TrailingSlashMiddleware)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, less its 422 responses: Tallybook answers invalid input with 400."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict):
                operation.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
