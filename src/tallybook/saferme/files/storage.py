"""Where an attachment's files live: ``<data dir>/files/v4/<organisation>/<id>/``."""

from __future__ import annotations

import os
from pathlib import Path
from uuid import UUID

from tallybook.saferme.models import FileAttachment
from tallybook.saferme.types import Rendition
from tallybook.settings import Settings


def folder(settings: Settings, organization_id: UUID, attachment_id: int) -> Path:
    return settings.files_dir / "v4" / str(organization_id) / str(attachment_id)


def path_of(settings: Settings, row: FileAttachment, rendition: Rendition) -> Path:
    extension = row.extension if rendition == Rendition.ORIGINAL else row.rendition_extension
    return folder(settings, row.organization_id, row.id) / f"{rendition}.{extension}"


def write(path: Path, data: bytes) -> None:
    """Written whole or not at all: into a temporary name, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
