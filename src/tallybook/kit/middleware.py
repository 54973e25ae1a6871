"""ASGI middlewares: request log lines, body size limits, optional trailing slashes, CORS."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tallybook.kit.errors import PayloadTooLarge, error_response, logged_path
from tallybook.kit.numbers import digits_value

log = logging.getLogger("tallybook.http")


class TrailingSlashMiddleware:
    """``/path/`` is served as ``/path`` (giosg's clients send both), without a redirect."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/") or "/")
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"].rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Answers 413 when a body is larger than its route's limit, declared or streamed.

    A streamed body (chunked, no Content-Length) is counted as it arrives: the read that
    crosses the limit raises :class:`PayloadTooLarge`, which the error handlers answer
    wherever the body was being read; a response not yet started is answered here.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and digits_value(declared.decode()) > limit:
            await _too_large(scope, limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(_too_large_detail(limit))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge:
            if not started:
                await _too_large(scope, limit)(scope, receive, send)


def _too_large_detail(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes."


def _too_large(scope: Scope, limit: int) -> ASGIApp:
    return error_response(scope, 413, PayloadTooLarge(_too_large_detail(limit)).body())


PUBLIC_CORS_HEADERS: Final = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Content-Type, Accept, Accept-Language, Content-Language, "
    "X-Requested-With",
    "Access-Control-Max-Age": "86400",
}
"""A preflight's answer on a public path: any origin may POST, without credentials."""


class CorsMiddleware:
    """Cross-origin use of the API.

    ``public_paths`` (browser ingestion) are open to every origin without credentials:
    each answer carries ``Access-Control-Allow-Origin: *`` and the routes there answer
    their own preflights. Every other path is open only to ``origins`` (an operator's
    ``TALLYBOOK_CORS_ORIGINS``; none by default), through Starlette's CORS middleware.
    """

    def __init__(self, app: ASGIApp, *, public_paths: frozenset[str], origins: list[str]) -> None:
        self.app = app
        self.public_paths = public_paths
        self.restricted: ASGIApp = (
            CORSMiddleware(
                app,
                allow_origins=origins,
                allow_methods=sorted(METHODS - {"HEAD", "OPTIONS"}),
                allow_headers=["Authorization", "Content-Type", "X-AppId", "X-InstallationId"],
                max_age=600,
            )
            if origins
            else app
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.public_paths:
            await self.restricted(scope, receive, send)
            return

        async def public_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Access-Control-Allow-Origin"] = "*"
            await send(message)

        await self.app(scope, receive, public_send)


Observer = Callable[[str, str, int, float], None]
"""Told of each request: method, route template, status and seconds."""


class AccessLogMiddleware:
    """One line per request: method, path (never the query string: it may hold a token; a
    download link's token cut off, ``logged_path``), status and duration; and the same, by
    route template, to ``observe`` (metrics)."""

    def __init__(self, app: ASGIApp, observe: Observer | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            seconds = time.perf_counter() - start
            method = str(scope.get("method"))
            log.info(
                "request",
                extra={
                    "method": method,
                    "path": logged_path(scope),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            if self.observe is not None:
                known = method if method in METHODS else "other"
                self.observe(known, _route_of(scope), status, seconds)


def _route_of(scope: Scope) -> str:
    """The matched route's template (``/api/v5/orgs/{org_id}/…``), so that ids never become
    labels; ``unmatched`` for a path no route serves, and for a request answered before
    routing (a body refused by its declared length)."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods labelled by name; any other (the HTTP parser accepts any token) is ``other``."""
