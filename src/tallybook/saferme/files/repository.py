"""All SQL of file attachments, scoped to the organisation in the query."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.saferme.models import FileAttachment, ReportImage


def attachment(
    session: Session, organization_id: UUID, attachment_id: int
) -> FileAttachment | None:
    return session.scalar(
        select(FileAttachment).where(
            FileAttachment.organization_id == organization_id, FileAttachment.id == attachment_id
        )
    )


def attachments(
    session: Session, organization_id: UUID, ids: Collection[int]
) -> dict[int, FileAttachment]:
    if not ids:
        return {}
    rows = session.scalars(
        select(FileAttachment).where(
            FileAttachment.organization_id == organization_id, FileAttachment.id.in_(list(ids))
        )
    )
    return {row.id: row for row in rows}


def placed(session: Session, ids: Collection[int]) -> dict[int, int]:
    """Attachment id → the report it is placed in, for those of ``ids`` that are."""
    if not ids:
        return {}
    rows = session.execute(
        select(ReportImage.attachment_id, ReportImage.report_id).where(
            ReportImage.attachment_id.in_(list(ids))
        )
    )
    return {int(attachment_id): int(report_id) for attachment_id, report_id in rows}
