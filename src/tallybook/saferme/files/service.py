"""File attachments: an upload becomes a row, its original and its renditions."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tallybook.files.store import FileMissing, FileStore
from tallybook.kit.errors import NotFound
from tallybook.saferme.auth import TeamMember
from tallybook.saferme.files import images, repository, storage
from tallybook.saferme.files.schemas import FileAttachment, Styles
from tallybook.saferme.models import FileAttachment as FileAttachmentRow
from tallybook.saferme.types import Rendition


def rendition_url(base_url: str, attachment_id: int, rendition: Rendition) -> str:
    """The absolute URL a rendition is served at (to users of the team, with a token)."""
    return f"{base_url.rstrip('/')}/api/v4/file_attachments/{attachment_id}/{rendition}"


def styles(base_url: str, attachment_id: int) -> Styles:
    return Styles(
        thumb=rendition_url(base_url, attachment_id, Rendition.THUMB),
        medium=rendition_url(base_url, attachment_id, Rendition.MEDIUM),
    )


def attachment_out(base_url: str, row: FileAttachmentRow) -> FileAttachment:
    made = styles(base_url, row.id)
    return FileAttachment(
        id=row.id,
        content_type=row.content_type,
        filename=row.filename,
        original_url=rendition_url(base_url, row.id, Rendition.ORIGINAL),
        styles=made,
        style_url=made,
        width=row.width,
        height=row.height,
        byte_size=row.byte_size,
        created_at=row.created_at,
    )


def upload(
    session: Session,
    member: TeamMember,
    files: FileStore,
    base_url: str,
    raw: bytes,
    filename: str | None,
) -> FileAttachment:
    """Checks the image and makes its renditions before anything is written."""
    processed = images.process(raw)
    row = FileAttachmentRow(
        organization_id=member.organization_id,
        user_number=member.user_number,
        filename=_safe_name(filename),
        content_type=processed.content_type,
        extension=processed.extension,
        rendition_type=processed.rendition_type,
        rendition_extension=processed.rendition_extension,
        byte_size=len(raw),
        width=processed.width,
        height=processed.height,
    )
    session.add(row)
    session.flush()
    storage.write(files, storage.key_of(row, Rendition.ORIGINAL), raw)
    for rendition, data in processed.renditions.items():
        storage.write(files, storage.key_of(row, rendition), data)
    return attachment_out(base_url, row)


def _safe_name(filename: str | None) -> str | None:
    if not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:255]
    return name or None


def attachment_row(session: Session, member: TeamMember, attachment_id: int) -> FileAttachmentRow:
    row = repository.attachment(session, member.organization_id, attachment_id)
    if row is None:
        raise NotFound("No such file attachment.")
    return row


def get_attachment(
    session: Session, member: TeamMember, base_url: str, attachment_id: int
) -> FileAttachment:
    return attachment_out(base_url, attachment_row(session, member, attachment_id))


def rendition_file(
    session: Session, member: TeamMember, files: FileStore, attachment_id: int, style: str
) -> tuple[str, int, str]:
    """The file store's key of a rendition, its size and its content type; 404 for an
    unknown one."""
    try:
        rendition = Rendition(style)
    except ValueError:
        raise NotFound("No such rendition; there are original, thumb and medium.") from None
    row = attachment_row(session, member, attachment_id)
    key = storage.key_of(row, rendition)
    try:
        size = files.size(key)
    except FileMissing:
        raise NotFound("The file of this attachment is missing.") from None
    kind = row.content_type if rendition == Rendition.ORIGINAL else row.rendition_type
    return key, size, kind
