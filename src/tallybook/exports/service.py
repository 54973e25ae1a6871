from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.chats.models import Room
from tallybook.exports import repository
from tallybook.exports.links import (
    InvalidLink,
    LinkClaims,
    download_url,
    make_token,
    read_token,
    same_instant,
)
from tallybook.exports.models import ReportExport
from tallybook.exports.schemas import ReportExportCreate
from tallybook.exports.types import MEDIA_TYPES, ExportFormat, ExportType
from tallybook.files.store import FileMissing, FileStore, FileStoreUnavailable
from tallybook.kit.db import utcnow
from tallybook.kit.errors import (
    Gone,
    NotFound,
    PermissionDenied,
    TallybookError,
    Unavailable,
    invalid,
)
from tallybook.kit.pagination import PageParams, PageResult
from tallybook.kit.signing import Signer
from tallybook.organizations.models import User

NOT_YOURS = (
    "You may only use your own report exports; a manager of the organisation may use "
    "anyone's in it."
)
FILE_GONE = "This report export's file is no longer available; start a new export."


class LinkRefused(TallybookError):
    """A download link this installation did not sign, or signed for another file."""

    status_code = 403
    code = "invalid_link"


@dataclass(frozen=True)
class Links:
    """What the API needs to show a download link: where it points and how it is signed."""

    base_url: str
    signer: Signer

    def url(self, export: ReportExport, now: datetime) -> str | None:
        """The export's link while it can be downloaded; None otherwise."""
        if not _downloadable(export, now):
            return None
        assert export.expires_at is not None
        claims = LinkClaims(export.organization_id, export.id, export.expires_at)
        return download_url(self.base_url, make_token(self.signer, claims))


def _downloadable(export: ReportExport, now: datetime) -> bool:
    return (
        export.completed_at is not None
        and export.is_failed is False
        and export.expires_at is not None
        and export.expires_at > now
        and export.file_key is not None
    )


def owner(session: Session, principal: Principal, user_id: uuid.UUID | None) -> User:
    """The user whose exports the path names (None: an id that is not a UUID): the caller,
    or for a manager anyone of the organisation. Another user is 403 for anyone else, so
    that whether a user exists is told to managers only; 404 for a manager when none."""
    if user_id == principal.user.id:
        return principal.user
    if not principal.user.is_manager:
        raise PermissionDenied(NOT_YOURS)
    user = (
        None
        if user_id is None
        else repository.get_user(session, principal.organization_id, user_id)
    )
    if user is None:
        raise NotFound("No such user in this organisation.")
    return user


def create_export(
    session: Session, principal: Principal, user: User, data: ReportExportCreate
) -> ReportExport:
    if not repository.room_exists(session, principal.organization_id, data.room_id):
        raise invalid(["room_id"], "must be a room of this organisation")
    logs = ExportType(data.type) is ExportType.LOGS
    now = utcnow()
    export = ReportExport(
        organization_id=principal.organization_id,
        user_id=user.id,
        created_by_user_id=principal.user.id,
        room_id=data.room_id,
        type=data.type,
        format=data.format,
        starting_at=data.starting_at,
        ending_at=data.ending_at,
        is_real_conversation=data.is_real_conversation,
        min_message_count=(data.min_message_count or 0) if logs else None,
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
        attempts=0,
    )
    session.add(export)
    session.flush()
    return export


def get_export(
    session: Session, principal: Principal, user: User, export_id: uuid.UUID
) -> ReportExport:
    export = repository.get_export(session, principal.organization_id, user.id, export_id)
    if export is None:
        raise NotFound("No such report export for this user.")
    return export


def list_exports(
    session: Session, principal: Principal, user: User, params: PageParams
) -> PageResult:
    return repository.list_exports(session, principal.organization_id, user.id, params)


@dataclass(frozen=True)
class Download:
    key: str
    size: int
    media_type: str
    filename_stem: str
    format: ExportFormat


def open_download(
    session: Session, files: FileStore, signer: Signer, token: str, now: datetime
) -> Download:
    """What a download link names, in this order: 403 a link this installation did not
    sign; 410 past its expiry; 404 no such export; 403 a link for another version of the
    export; 410 its file already deleted."""
    try:
        claims = read_token(signer, token)
    except InvalidLink:
        raise LinkRefused("This download link is not valid.") from None
    if claims.expires_at <= now:
        raise Gone("This download link has expired; start a new export.")
    export = repository.get_for_download(session, claims.organization_id, claims.export_id)
    if export is None:
        raise NotFound("No such report export.")
    if export.expires_at is None or not same_instant(export.expires_at, claims.expires_at):
        raise LinkRefused("This download link is not valid.")
    if not _downloadable(export, now) or export.file_key is None:  # (the latter for mypy)
        raise Gone(FILE_GONE)
    try:
        size = files.size(export.file_key)
    except FileMissing:
        raise Gone(FILE_GONE) from None
    except FileStoreUnavailable:
        raise Unavailable("The file store cannot be reached; try the link again shortly.") from None
    room = session.get(Room, export.room_id)
    return Download(
        key=export.file_key,
        size=size,
        media_type=MEDIA_TYPES[ExportFormat(export.format)],
        filename_stem=filename_stem(export, room.name if room else "room"),
        format=ExportFormat(export.format),
    )


def stream(files: FileStore, found: Download, start: int, length: int) -> Iterator[bytes]:
    """The bytes of a download's range; 410 when the file went meanwhile, 503 when the
    store cannot be reached (a failure once streaming has begun cuts the answer short)."""
    try:
        return files.read(found.key, start, length)
    except FileMissing:
        raise Gone(FILE_GONE) from None
    except FileStoreUnavailable:
        raise Unavailable("The file store cannot be reached; try the link again shortly.") from None


def filename_stem(export: ReportExport, room_name: str) -> str:
    """``Support logs 2024-03-01 to 2024-04-01`` (dates in UTC)."""
    return f"{room_name} {export.type} {export.starting_at:%Y-%m-%d} to {export.ending_at:%Y-%m-%d}"
