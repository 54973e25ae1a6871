"""One error hierarchy, one JSON shape, one place that turns exceptions into responses."""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("tallybook.errors")


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorBody(BaseModel):
    detail: str
    code: str
    errors: list[ErrorItem] | None = None


class TallybookError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class BadRequest(TallybookError):
    status_code = 400
    code = "bad_request"


class InvalidPayload(BadRequest):
    code = "invalid"

    def __init__(self, errors: list[dict[str, Any]], detail: str | None = None) -> None:
        super().__init__(detail or _summary(errors), errors=errors)


class TooDeep(BadRequest):
    code = "too_deep"


class NotAuthenticated(TallybookError):
    status_code = 401
    code = "not_authenticated"


class SubscriptionInactive(TallybookError):
    status_code = 403
    code = "subscription_inactive"


class OrganizationForbidden(TallybookError):
    status_code = 403
    code = "organization_forbidden"


class PermissionDenied(TallybookError):
    status_code = 403
    code = "permission_denied"


class NotFound(TallybookError):
    status_code = 404
    code = "not_found"


class NotAcceptable(TallybookError):
    status_code = 406
    code = "not_acceptable"


class Gone(TallybookError):
    status_code = 410
    code = "gone"


class PayloadTooLarge(TallybookError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(TallybookError):
    status_code = 415
    code = "unsupported_media_type"


class RangeNotSatisfiable(TallybookError):
    status_code = 416
    code = "range_not_satisfiable"


class Unavailable(TallybookError):
    """A service the answer needs (the file store) cannot be reached for now."""

    status_code = 503
    code = "unavailable"


def invalid(loc: list[str | int], msg: str) -> InvalidPayload:
    """A 400 about one field of the body."""
    return InvalidPayload([{"loc": ["body", *loc], "msg": msg}])


def _summary(errors: list[dict[str, Any]]) -> str:
    if len(errors) == 1:
        err = errors[0]
        where = ".".join(str(p) for p in err["loc"][1:]) or "body"
        return f"Invalid value for {where}: {err['msg']}"
    return f"The request has {len(errors)} invalid values; see errors."


_PYDANTIC_MESSAGES = {
    "extra_forbidden": "Unknown field.",
    "missing": "This field is required.",
    "json_invalid": "The body is not valid JSON.",
}


def _is_place(part: object) -> bool:
    """Whether a part of Pydantic's ``loc`` names a place in the input: a field or an index,
    not one of its validators (``function-before[_not_boolean(), float]``) or of a union's
    members (``list[str]``)."""
    return isinstance(part, int) or (isinstance(part, str) and "[" not in part)


def validation_errors(raw: Sequence[Any], *within: str) -> list[dict[str, Any]]:
    """Pydantic's errors, reduced to loc and a sentence; input values are never echoed.

    ``within`` leads every loc: ``"body"`` for a model validated from the request body.
    """
    errors = []
    for err in raw:
        loc = [*within, *(p for p in err.get("loc", ()) if _is_place(p))]
        kind = err.get("type", "")
        msg = _PYDANTIC_MESSAGES.get(kind, err.get("msg", "Invalid value."))
        if kind == "json_invalid":
            loc = loc[:1]
        elif kind == "nul_character":
            loc = [*loc, *err.get("ctx", {}).get("path", [])]
        elif kind in ("model_attributes_type", "dict_type", "model_type") and loc == ["body"]:
            msg = "The body must be a JSON object, sent with Content-Type: application/json."
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        errors.append({"loc": loc, "msg": msg})
    return errors


def error_response(
    scope: Scope, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The JSON answer of an error; every error answer of the app is made here.

    Under the path prefixes given to :func:`install_error_handlers` (SaferMe's v4 API,
    whose clients read an error's text from ``error``), the body also carries ``error``,
    the same sentence as ``detail``.
    """
    app = scope.get("app")
    prefixes: tuple[str, ...] = getattr(getattr(app, "state", None), "error_key_prefixes", ())
    path = scope.get("path", "")
    if any(path == p.rstrip("/") or path.startswith(p) for p in prefixes):
        body = {**body, "error": body["detail"]}
    return JSONResponse(body, status_code=status, headers=headers)


async def _tallybook_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, TallybookError)
    return error_response(request.scope, exc.status_code, exc.body(), exc.headers)


async def _request_validation(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, RequestValidationError)
    body = InvalidPayload(validation_errors(list(exc.errors()))).body()
    return error_response(request.scope, 400, body)


_HTTP_CODES = {
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "This method is not allowed on this resource."),
}


async def _http_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, StarletteHTTPException)
    code, detail = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
    return error_response(request.scope, exc.status_code, {"detail": detail, "code": code}, headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """Every method some route serves on the request's path (Starlette names only the
    first matching route's in a 405)."""
    routes = app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)
    ]


class UnhandledErrorMiddleware:
    """Turns any exception that escaped the handlers into a generic 500.

    Starlette's own last-resort handler re-raises, which makes the server print a stack
    trace; here only the exception's type and place are logged (the message of a database
    error can carry SQL or values), under an id the client is given.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            error_id = uuid.uuid4().hex[:12]
            frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else "?"
            log.error(
                "unhandled %s at %s on %s %s (error_id=%s)",
                type(exc).__name__,
                where,
                scope.get("method"),
                logged_path(scope),
                error_id,
            )
            if started:
                return
            body = {
                "detail": f"Internal error; the operators can trace it with error id {error_id}.",
                "code": "internal_error",
            }
            await error_response(scope, 500, body)(scope, receive, send)


def logged_path(scope: Scope) -> str:
    """The request's path as a log line may show it.

    Under a prefix given to :func:`install_error_handlers` as ``secret_path_prefixes`` the
    rest of the path is a credential (a signed download link is its own authorization), so
    the line shows the prefix and ``{token}``.
    """
    path = str(scope.get("path", ""))
    state = getattr(scope.get("app"), "state", None)
    prefixes: tuple[str, ...] = getattr(state, "secret_path_prefixes", ())
    for prefix in prefixes:
        if path.startswith(prefix):
            return prefix + "{token}"
    return path


def install_error_handlers(
    app: FastAPI,
    *,
    error_key_prefixes: tuple[str, ...] = (),
    secret_path_prefixes: tuple[str, ...] = (),
) -> None:
    """``error_key_prefixes``: path prefixes whose error bodies also carry ``error``;
    ``secret_path_prefixes``: path prefixes followed by a credential (:func:`logged_path`)."""
    app.state.error_key_prefixes = error_key_prefixes
    app.state.secret_path_prefixes = secret_path_prefixes
    app.add_exception_handler(TallybookError, _tallybook_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(UnhandledErrorMiddleware)


_DESCRIPTIONS = {
    400: "Invalid request: malformed or too deeply nested JSON, invalid or unknown fields "
    "(see `errors`).",
    401: "No token, or an unknown token.",
    403: "Subscription inactive, not the caller's organisation, or missing permission.",
    404: "No such resource in this organisation.",
    406: "Not acceptable: an unsupported filter type or property.",
    410: "Gone: the download link has expired, or its file has been deleted.",
    413: "The request is too large.",
    415: "The body's content type is not one this endpoint takes.",
    416: "The requested byte range is outside the file (see `Content-Range`).",
    503: "A store the answer needs cannot be reached for now; try again shortly.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the listed error statuses, all in the one error shape."""
    return {
        code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in sorted(codes)
    }
