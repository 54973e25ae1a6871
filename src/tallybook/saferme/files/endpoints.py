from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from tallybook.files.web import Files
from tallybook.kit.body import check_media_type
from tallybook.kit.db import DBSession
from tallybook.kit.errors import BadRequest, PayloadTooLarge, error_responses
from tallybook.saferme.auth import TeamUser
from tallybook.saferme.files import service
from tallybook.saferme.files.schemas import FileAttachment
from tallybook.saferme.ids import parse_int_id
from tallybook.saferme.web import V4_ERRORS, BaseUrl

router = APIRouter(
    prefix="/api/v4/file_attachments", tags=["v4: file attachments"], responses=V4_ERRORS
)

MULTIPART = frozenset({"multipart/form-data"})


@dataclass(frozen=True)
class Upload:
    raw: bytes
    filename: str | None


async def _upload(request: Request) -> Upload:
    """The ``file`` part of a multipart body, read after the caller is known."""
    check_media_type(request, MULTIPART)
    limit: int = request.app.state.settings.attachment_max_bytes
    try:
        form = await request.form(max_files=1, max_fields=20)
    except (MultiPartException, StarletteHTTPException):
        raise BadRequest("The body is not a multipart form with one file.") from None
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise BadRequest("Send the image as the multipart field `file`.")
        raw = await part.read(limit + 1)
    finally:
        await form.close()
    if len(raw) > limit:
        raise PayloadTooLarge(f"The file is larger than the limit of {limit} bytes.")
    return Upload(raw, part.filename)


_MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "",
    response_model=FileAttachment,
    status_code=status.HTTP_201_CREATED,
    summary="Upload an image (PNG, JPEG or GIF); its renditions are made at once",
    responses=error_responses(413, 415),
    openapi_extra=_MULTIPART_BODY,
)
def upload(
    session: DBSession,
    member: TeamUser,
    upload: Annotated[Upload, Depends(_upload)],
    files: Files,
    base_url: BaseUrl,
) -> object:
    return service.upload(session, member, files, base_url, upload.raw, upload.filename)


@router.get("/{attachment_id}", response_model=FileAttachment, summary="Get a file attachment")
def get_attachment(
    session: DBSession, member: TeamUser, attachment_id: str, base_url: BaseUrl
) -> object:
    return service.get_attachment(
        session, member, base_url, parse_int_id(attachment_id, "file attachment")
    )


@router.get(
    "/{attachment_id}/{style}",
    response_class=StreamingResponse,
    summary="Download the original, thumb or medium file",
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/gif": {}}}},
)
def download(
    session: DBSession,
    member: TeamUser,
    attachment_id: str,
    style: str,
    files: Files,
) -> StreamingResponse:
    key, size, kind = service.rendition_file(
        session, member, files, parse_int_id(attachment_id, "file attachment"), style
    )
    headers = {"Cache-Control": "private, max-age=3600", "Content-Length": str(size)}
    return StreamingResponse(files.read(key), media_type=kind, headers=headers)
