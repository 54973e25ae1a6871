"""The console's HTTP machinery: templates, the answer headers (CSP), the session cookie
on every answer, and HTML pages for the errors the services raise."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tallybook.auth.principal import Principal
from tallybook.console.session import (
    CSRF_FIELD,
    ConsoleSession,
    principal_of,
    read_session,
    write_session,
)
from tallybook.kit.db import DBSession
from tallybook.kit.errors import PermissionDenied, TallybookError
from tallybook.notifications.channels.slack_modes import mask_secret

PREFIX = "/console"
STATIC_PATH = f"{PREFIX}/static"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

_R = TypeVar("_R", bound=Response)

# No inline script or style anywhere: the pages' JavaScript and CSS are files of the package.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["mask"] = mask_secret  # Slack secrets as the API shows them


class SignInRequired(Exception):
    """No signed-in user: the page sends the browser to the sign-in form."""


class CsrfRefused(TallybookError):
    status_code = 403
    code = "csrf_refused"


class Console:
    """One request's view of the console: the session, and the user when signed in."""

    def __init__(
        self, request: Request, session: ConsoleSession, principal: Principal | None
    ) -> None:
        self.request = request
        self.session = session
        self.principal = principal

    @property
    def user(self) -> Principal:
        if self.principal is None:
            raise SignInRequired
        return self.principal

    def require(self, permission: str) -> Principal:
        """The user, if the API would let them do this (403 page otherwise)."""
        principal = self.user
        if not principal.has(permission):
            raise PermissionDenied(f"This needs the '{permission}' permission.")
        return principal

    def can(self, permission: str) -> bool:
        return self.principal is not None and self.principal.has(permission)

    async def form(self) -> dict[str, str]:
        """The posted form, after its CSRF token was checked (403 without it)."""
        form = await self.request.form()
        values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        if not self.session.accepts(values.pop(CSRF_FIELD, None)):
            raise CsrfRefused("The form is missing its security token; reload the page.")
        return values

    def page(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return self.answer(HTMLResponse(self._render(template, context), status_code))

    def fragment(self, template: str, **context: Any) -> HTMLResponse:
        """A part of a page that its script reloads: it leaves the session's idle time
        alone, so a page left open does not keep its session alive for ever."""
        response = HTMLResponse(self._render(template, context))
        response.headers.update(SECURITY_HEADERS)
        return response

    def _render(self, template: str, context: dict[str, Any]) -> str:
        return environment.get_template(template).render(
            console=self, csrf_field=CSRF_FIELD, csrf=self.session.csrf, **context
        )

    def redirect(self, path: str) -> RedirectResponse:
        return self.answer(RedirectResponse(path, status_code=303))

    def answer(self, response: _R) -> _R:
        response.headers.update(SECURITY_HEADERS)
        write_session(self.request, response, self.session)
        return response


def _console(request: Request, db: DBSession) -> Console:
    session = read_session(request)
    return Console(request, session, principal_of(db, session))


ConsoleDep = Annotated[Console, Depends(_console)]


def _error_page(request: Request, exc: TallybookError) -> HTMLResponse:
    html = environment.get_template("error.html").render(
        console=None, status=exc.status_code, detail=exc.detail, errors=exc.errors or []
    )
    response = HTMLResponse(html, status_code=exc.status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def _sign_in_redirect(request: Request) -> RedirectResponse:
    here = request.url.path
    if request.url.query and request.method == "GET":
        here += "?" + request.url.query
    target = f"{PREFIX}/sign-in?next={quote(here, safe='/')}"
    response = RedirectResponse(target, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


class ConsoleRoute(APIRoute):
    """A console route: the services' errors become HTML pages (their status and sentence,
    nothing else), and a page that needs a user sends the browser to sign in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return _sign_in_redirect(request)
            except TallybookError as exc:
                return _error_page(request, exc)

        return guarded


def field_errors(errors: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The API's validation errors by form field: ``loc`` ``["body", "name"]`` → ``name``."""
    found: dict[str, list[str]] = {}
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p != "body"]
        found.setdefault(loc[0] if loc else "", []).append(str(error.get("msg", "")))
    return found
