from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from tallybook.kit.db import get_database
from tallybook.kit.errors import ErrorBody

router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The stores are reachable",
    responses={503: {"model": ErrorBody, "description": "A store is not reachable."}},
)
def readyz(request: Request) -> object:
    try:
        with get_database(request).engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        body = {"detail": "The relational store is not reachable.", "code": "not_ready"}
        return JSONResponse(body, status_code=503)
    try:
        request.app.state.event_store.ping()
    except Exception:
        body = {"detail": "The event store is not reachable.", "code": "not_ready"}
        return JSONResponse(body, status_code=503)
    return {"status": "ok"}
