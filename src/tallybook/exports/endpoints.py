from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response, status
from fastapi.responses import StreamingResponse

from tallybook.auth.dependencies import SettingsUser
from tallybook.exports import service
from tallybook.exports.links import DOWNLOAD_PATH, signer_for
from tallybook.exports.models import ReportExport as ExportRow
from tallybook.exports.schemas import ReportExport, ReportExportCreate
from tallybook.exports.service import Links
from tallybook.exports.types import MEDIA_TYPES
from tallybook.files.web import Files
from tallybook.kit.body import json_body
from tallybook.kit.db import DBSession, utcnow
from tallybook.kit.errors import RangeNotSatisfiable, error_responses
from tallybook.kit.ids import parse_id
from tallybook.kit.numbers import digits_value
from tallybook.kit.openapi import raw_json_body
from tallybook.kit.pagination import CursorPage, PageQuery
from tallybook.kit.signing import Signer
from tallybook.kit.tabular.names import attachment
from tallybook.organizations.models import User

router = APIRouter(
    prefix="/api/v5/orgs/{org_id}/users/{user_id}/reportexports",
    tags=["Report exports"],
    responses=error_responses(400, 401, 403, 404),
)
downloads = APIRouter(tags=["Report exports"])


def _owner(session: DBSession, principal: SettingsUser, user_id: Annotated[str, Path()]) -> User:
    return service.owner(session, principal, _maybe_id(user_id))


Owner = Annotated[User, Depends(_owner)]
"""The path's user, once the caller may use their exports (after ``SettingsUser``)."""


def _maybe_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _signer(request: Request) -> Signer:
    state = request.app.state
    signer: Signer | None = getattr(state, "download_signer", None)
    if signer is None:
        signer = state.download_signer = signer_for(state.settings.signing_key())
    return signer


def _links(request: Request) -> Links:
    base = request.app.state.settings.public_url or str(request.base_url)
    return Links(base.rstrip("/"), _signer(request))


def _view(export: ExportRow, links: Links, now: datetime) -> ReportExport:
    fields = {name: getattr(export, name) for name in ReportExport.model_fields if name != "url"}
    return ReportExport.model_validate({**fields, "url": links.url(export, now)})


@router.post(
    "",
    response_model=ReportExport,
    status_code=status.HTTP_201_CREATED,
    summary="Start exporting a report",
    description="Answers at once with the export in its incomplete state; a worker makes "
    "the file. Poll the export until `completed_at` is set, then download `url`.",
    openapi_extra=raw_json_body(ReportExportCreate),
)
def create_export(
    request: Request,
    session: DBSession,
    principal: SettingsUser,
    owner: Owner,
    data: Annotated[ReportExportCreate, json_body(ReportExportCreate)],
) -> object:
    export = service.create_export(session, principal, owner, data)
    return _view(export, _links(request), utcnow())


@router.get(
    "",
    response_model=CursorPage[ReportExport],
    summary="List a user's report exports, newest first",
)
def list_exports(
    request: Request, session: DBSession, principal: SettingsUser, owner: Owner, page: PageQuery
) -> object:
    rows, next_link, previous_link = service.list_exports(session, principal, owner, page)
    links, now = _links(request), utcnow()
    results = [_view(row, links, now) for row in rows]
    return {"next": next_link, "previous": previous_link, "results": results}


@router.get("/{export_id}", response_model=ReportExport, summary="Retrieve a report export")
def get_export(
    request: Request, session: DBSession, principal: SettingsUser, owner: Owner, export_id: str
) -> object:
    export = service.get_export(session, principal, owner, parse_id(export_id, "report export"))
    return _view(export, _links(request), utcnow())


_FILE_CONTENT = {
    media_type: {"schema": {"type": "string", "format": "binary"}}
    for media_type in MEDIA_TYPES.values()
}


_DOWNLOAD: dict[str, Any] = {
    "summary": "Download a report export's file (the signed link is the credential)",
    "description": "No token is needed: the link is signed and expires with the export. "
    "A single `Range: bytes=…` is answered with 206 (several ranges: the whole file). "
    "403 a link that was altered or not made here; 410 an expired link or a deleted file; "
    "503 the file store (S3) cannot be reached for now.",
    "response_class": Response,
    "responses": {
        200: {"description": "The file.", "content": _FILE_CONTENT},
        206: {"description": "The requested byte range of the file.", "content": _FILE_CONTENT},
        **error_responses(403, 404, 410, 416, 503),
    },
}


@downloads.get(DOWNLOAD_PATH + "/{token}", operation_id="download_report_export", **_DOWNLOAD)
@downloads.head(DOWNLOAD_PATH + "/{token}", operation_id="download_report_export_head", **_DOWNLOAD)
def download(
    request: Request,
    session: DBSession,
    files: Files,
    token: str,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    found = service.open_download(session, files, _signer(request), token, utcnow())
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": attachment(found.filename_stem, found.format),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    wanted = byte_range(range_header, found.size)
    status_code, start, length = status.HTTP_200_OK, 0, found.size
    if wanted is not None:
        start, end = wanted
        length = end - start + 1
        status_code = status.HTTP_206_PARTIAL_CONTENT
        headers["Content-Range"] = f"bytes {start}-{end}/{found.size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status_code, headers=headers, media_type=found.media_type)
    return StreamingResponse(
        service.stream(files, found, start, length),
        status_code=status_code,
        headers=headers,
        media_type=found.media_type,
    )


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte of a single ``bytes=`` range (RFC 9110 §14.1.2); None to send
    the whole file (no range, several ranges, or one this parser does not understand, which
    a server may ignore); 416 when it starts past the end."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None or (not match[1] and not match[2]):
        return None
    first, last = _position(match[1]), _position(match[2])
    if first is None:  # the last N bytes
        assert last is not None
        if last == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(size - last, 0), size - 1
    if last is not None and last < first:
        return None  # not a valid range: ignored
    if first >= size:
        raise _unsatisfiable(size)
    return first, size - 1 if last is None else min(last, size - 1)


def _position(digits: str) -> int | None:
    """A range's position; None when absent (one of more than 18 digits is past the end
    of any file: ``digits_value``)."""
    return digits_value(digits) if digits else None


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The range is outside the file, which has {size} bytes.",
        headers={"Content-Range": f"bytes */{size}"},
    )
