"""Report exports: start one, watch it complete, download it (through the API's signed
link). The same service and validation as ``/api/v5/…/reportexports``; like the API it
needs the ``settings`` permission, and a user sees their own exports."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from tallybook.chats import service as chats
from tallybook.console.web import Console, ConsoleDep, ConsoleRoute, field_errors
from tallybook.exports import service
from tallybook.exports.links import signer_for
from tallybook.exports.models import ReportExport
from tallybook.exports.schemas import ReportExportCreate
from tallybook.kit.body import validate_body
from tallybook.kit.db import DBSession, utcnow
from tallybook.kit.errors import InvalidPayload
from tallybook.kit.ids import parse_id
from tallybook.kit.pagination import PageParams
from tallybook.kit.signing import Signer

router = APIRouter(route_class=ConsoleRoute)

LISTED = 20
ROOMS = 200
_COUNT = re.compile(r"[0-9]{1,18}")
"""A message count the form hands on as a number; anything else goes as text, for the
API's model to refuse."""


def _links(request: Request) -> service.Links:
    """The API's download links (the same signer and base URL as its endpoints)."""
    state = request.app.state
    signer: Signer | None = getattr(state, "download_signer", None)
    if signer is None:
        signer = state.download_signer = signer_for(state.settings.signing_key())
    base = state.settings.public_url or str(request.base_url)
    return service.Links(base.rstrip("/"), signer)


def _row(export: ReportExport, links: service.Links, now: datetime) -> dict[str, Any]:
    if export.is_failed:
        state = "failed"
    elif export.completed_at is None:
        state = "in progress"
    else:
        state = "completed" if links.url(export, now) else "expired"
    return {"export": export, "state": state, "url": links.url(export, now)}


def _defaults() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {
        "type": "logs",
        "format": "csv",
        "room_id": "",
        "starting_at": f"{today - timedelta(days=14):%Y-%m-%d}",
        "ending_at": f"{today + timedelta(days=1):%Y-%m-%d}",
        "min_message_count": "",
        "is_real_conversation": "",
    }


def _page(
    console: Console,
    session: Session,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> HTMLResponse:
    principal = console.require("settings")
    request = console.request
    rooms, _, _ = chats.list_rooms(session, principal, PageParams(None, ROOMS, request))
    rows, _, _ = service.list_exports(
        session, principal, principal.user, PageParams(None, LISTED, request)
    )
    links, now = _links(request), datetime.now(UTC)
    return console.page(
        "exports.html",
        status_code=status_code,
        rooms=rooms,
        exports=[_row(r, links, now) for r in rows],
        values=values,
        errors=errors,
    )


@router.get("/exports", response_class=HTMLResponse)
def exports_page(console: ConsoleDep, session: DBSession) -> HTMLResponse:
    return _page(console, session, _defaults(), {})


def _body(form: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": form.get("type", ""),
        "format": form.get("format", ""),
        "room_id": form.get("room_id", ""),
        "starting_at": _day(form.get("starting_at", "")),
        "ending_at": _day(form.get("ending_at", "")),
    }
    if form.get("min_message_count", "").strip():
        count = form["min_message_count"].strip()
        body["min_message_count"] = int(count) if _COUNT.fullmatch(count) else count
    real = form.get("is_real_conversation", "")
    if real in ("true", "false"):
        body["is_real_conversation"] = real == "true"
    return body


def _day(raw: str) -> str:
    """A date input's ``YYYY-MM-DD`` is midnight UTC, as the API reads a date-only value."""
    raw = raw.strip()
    return f"{raw}T00:00:00Z" if len(raw) == 10 else raw


@router.post("/exports", response_model=None)
async def start_export(console: ConsoleDep, session: DBSession) -> HTMLResponse | RedirectResponse:
    principal = console.require("settings")
    form = await console.form()
    try:
        data = validate_body(ReportExportCreate, _body(form))
        export = service.create_export(session, principal, principal.user, data)
    except InvalidPayload as exc:
        session.rollback()
        values = {**_defaults(), **form}
        return _page(console, session, values, field_errors(exc.errors or []), 400)
    return console.redirect(f"/console/exports?started={export.id}")


@router.get("/exports/{export_id}/status", response_class=HTMLResponse)
def export_status(console: ConsoleDep, session: DBSession, export_id: str) -> HTMLResponse:
    """One export's row, which the page's script reloads until the export is done."""
    principal = console.require("settings")
    export = service.get_export(
        session, principal, principal.user, parse_id(export_id, "report export")
    )
    row = _row(export, _links(console.request), utcnow())
    return console.fragment("_export_status.html", row=row)
