"""The FastAPI application factory."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from tallybook import __version__, health, metrics
from tallybook.auth.principal import KnownPrincipals
from tallybook.chats.endpoints import router as chats_router
from tallybook.console.routes import router as console_router
from tallybook.evaluations.endpoints import router as evaluations_router
from tallybook.events.endpoints import BROWSER_PATHS
from tallybook.events.endpoints import router as events_router
from tallybook.events.store import EventStore, open_event_store
from tallybook.exports.endpoints import downloads as export_downloads_router
from tallybook.exports.endpoints import router as exports_router
from tallybook.exports.links import DOWNLOAD_PATH
from tallybook.files.registry import open_file_store
from tallybook.files.store import FileStore
from tallybook.funnels.endpoints import router as funnels_router
from tallybook.kit import collector
from tallybook.kit.db import Database
from tallybook.kit.errors import install_error_handlers
from tallybook.kit.memory import Remembered
from tallybook.kit.middleware import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    CorsMiddleware,
    TrailingSlashMiddleware,
)
from tallybook.kit.openapi import build_openapi
from tallybook.notifications.outbox.endpoints import router as notification_log_router
from tallybook.notifications.settings.endpoints import router as notifications_router
from tallybook.saferme import web as v4
from tallybook.saferme.endpoints import ROUTERS as V4_ROUTERS
from tallybook.settings import Settings
from tallybook.targets.endpoints import router as targets_router
from tallybook.workflows.endpoints import router as workflows_router

ROUTERS: tuple[APIRouter, ...] = (
    # Every request is matched against the routes in this order, one by one, so the
    # routers of the busiest routes come first: events are sent and queried far more often
    # than anything else is asked, and SaferMe clients create reports in bulk. No path is
    # served by two routers (tests/api/test_routing.py), so the order changes how soon a
    # route is found, never which one answers.
    events_router,
    *V4_ROUTERS,
    health.router,
    metrics.router,
    workflows_router,
    targets_router,
    notifications_router,
    notification_log_router,
    evaluations_router,
    chats_router,
    exports_router,
    export_downloads_router,
    funnels_router,
)

OPENAPI_TAGS: list[dict[str, str]] = [
    {"name": name}
    for name in (
        "Operations",
        "Conversational Reporting: workflows",
        "Conversational Reporting: business targets",
        "Conversational Reporting: notification settings",
        "Conversational Reporting: history",
        "Chats: rooms, chats and messages",
        "Report exports",
        "Generic Reporting events",
        "Workflow reporting",
        "v4: channels and report states",
        "v4: forms",
        "v4: file attachments",
        "v4: reports and reads",
        "v4: notifications (alerts)",
        "v4: analytics",
    )
]
"""The sections of the API documentation in reading order, not in ROUTERS' matching order."""


DESCRIPTION = """
Tallybook is a self-hosted reporting backend, compatible with giosg's Conversational
Reporting API and SaferMe's API v4. Authenticate with `Authorization: Token <key>` (or
`Token token=<key>`, `Bearer <key>`, or `?token=<key>`). Every error is JSON:
`{"detail", "code", "errors"?}` (under `/api/v4/` also `error`, the same sentence).
"""


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    event_store: EventStore | None = None,
    *,
    run_worker: bool = False,
    files: FileStore | None = None,
) -> FastAPI:
    """The app; stores passed in stay the caller's to close, those made here close with it.

    With ``run_worker`` the background worker runs in a thread of this process for the
    app's lifetime (the embedded mode: DuckDB allows one process to open its file).
    """
    settings = settings or Settings()
    owned: list[Database | EventStore | FileStore] = []
    if database is None:
        database = Database(settings)
        owned.append(database)
    if event_store is None:
        event_store = open_event_store(settings)
        owned.append(event_store)
    if files is None:
        files = open_file_store(settings)
        owned.append(files)
    measured = metrics.Metrics(database)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if run_worker:
            from tallybook.worker.loop import Worker  # only the serving process needs it

            runner = Worker(database, event_store, settings, metrics=measured, files=files)
            thread = threading.Thread(
                target=runner.run_forever, args=(stop,), name="worker", daemon=True
            )
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=settings.delivery_timeout + 5)
        for resource in owned:
            resource.close()

    app = FastAPI(
        title="Tallybook",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    # Who a token is and whether an organisation may send events: remembered for a few
    # seconds per process (TALLYBOOK_AUTH_CACHE_SECONDS), so a client's next requests skip
    # those queries.
    app.state.principals = KnownPrincipals(database, Remembered(settings.auth_cache_seconds))
    app.state.subscriptions = Remembered[uuid.UUID, bool](settings.auth_cache_seconds)
    app.state.event_store = event_store
    app.state.files = files
    app.state.metrics = measured
    install_error_handlers(
        app, error_key_prefixes=(v4.PREFIX,), secret_path_prefixes=(DOWNLOAD_PATH + "/",)
    )
    for router in ROUTERS:
        app.include_router(router)
    # The web console: HTML pages on the same services, signed in by a session cookie.
    app.include_router(console_router)

    def limit_for(path: str) -> int:
        if path.rstrip("/").endswith("/chats/import"):
            return settings.import_max_bytes
        if path.rstrip("/") == v4.UPLOAD_PATH:
            return settings.attachment_max_bytes + v4.MULTIPART_ALLOWANCE
        return settings.max_request_bytes

    # Added last runs first: the slash is trimmed before anything looks at the path.
    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    app.add_middleware(AccessLogMiddleware, observe=measured.observe_request)
    # Outside the others, so that every answer of a public path (413s too) is readable.
    app.add_middleware(
        CorsMiddleware, public_paths=BROWSER_PATHS, origins=settings.cors_origin_list
    )
    app.add_middleware(TrailingSlashMiddleware)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app


def create_app_from_environment() -> FastAPI:
    """The app of one of ``tallybook serve --workers N``'s processes (uvicorn imports it by
    name in each): settings read again from the environment, stores of its own, no worker
    thread (the operator runs ``tallybook worker`` processes beside them)."""
    from tallybook.kit.logging import configure

    settings = Settings()
    configure(settings.log_level)
    app = create_app(settings)
    collector.settle()
    return app
