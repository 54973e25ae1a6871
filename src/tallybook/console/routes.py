"""The console's router: sign-in and sign-out, the static files, and every page's routes.

Mounted by ``app.py`` beside the API's routers (not among them: it authenticates by its
session cookie and is no part of the OpenAPI document)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tallybook.console import analytics, explorer, exports, targets, workflows
from tallybook.console.session import ConsoleSession, principal_of
from tallybook.console.web import (
    PREFIX,
    STATIC,
    ConsoleDep,
    ConsoleRoute,
)
from tallybook.kit.db import DBSession
from tallybook.kit.errors import NotFound

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

_MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_STATIC_FILES = {
    path.name: (path.read_bytes(), _MEDIA_TYPES[path.suffix])
    for path in STATIC.iterdir()
    if path.suffix in _MEDIA_TYPES
}


@router.get("", response_class=RedirectResponse)
def home(console: ConsoleDep) -> RedirectResponse:
    if console.principal is None:
        return console.redirect(f"{PREFIX}/sign-in")
    if console.can("reporting"):
        return console.redirect(f"{PREFIX}/targets")
    return console.redirect(f"{PREFIX}/exports")


@router.get("/static/{name}")
def static(name: str) -> Response:
    found = _STATIC_FILES.get(name)
    if found is None:
        raise NotFound("No such file.")
    content, media_type = found
    return Response(
        content,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def _safe_next(raw: str) -> str:
    """Where to go after signing in: a console path only, never another site."""
    if raw.startswith(f"{PREFIX}/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return PREFIX


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(console: ConsoleDep, next: str = PREFIX) -> HTMLResponse:
    return console.page("sign_in.html", next=_safe_next(next), error=None)


@router.post("/sign-in", response_model=None)
async def sign_in(console: ConsoleDep, session: DBSession) -> HTMLResponse | RedirectResponse:
    form = await console.form()
    token = form.get("token", "").strip()
    candidate = console.session.signed_in(token) if token else None
    if candidate is None or principal_of(session, candidate) is None:
        return console.page(
            "sign_in.html",
            status_code=401,
            next=_safe_next(form.get("next", PREFIX)),
            error="That token is not valid, or its organisation has no active subscription.",
        )
    console.session = candidate
    return console.redirect(_safe_next(form.get("next", PREFIX)))


@router.post("/sign-out", response_model=None)
async def sign_out(console: ConsoleDep) -> RedirectResponse:
    await console.form()
    console.session = ConsoleSession.anonymous()
    return console.redirect(f"{PREFIX}/sign-in")


router.include_router(targets.router)
router.include_router(workflows.router)
router.include_router(explorer.router)
router.include_router(exports.router)
router.include_router(analytics.router)


@router.get("/{path:path}", response_class=HTMLResponse)
def unknown_page(path: str) -> HTMLResponse:
    """Any other console path: a 404 page (not the API's JSON)."""
    raise NotFound("No such page in the console.")
