"""Where an attachment's files live in the file store (``TALLYBOOK_FILES_URL``, as report
exports): ``v4/<organisation>/<id>/<rendition>.<extension>``, so every API process, on any
machine, serves every upload."""

from __future__ import annotations

from tallybook.files.store import FileStore
from tallybook.saferme.models import FileAttachment
from tallybook.saferme.types import Rendition


def key_of(row: FileAttachment, rendition: Rendition) -> str:
    extension = row.extension if rendition == Rendition.ORIGINAL else row.rendition_extension
    return f"v4/{row.organization_id}/{row.id}/{rendition}.{extension}"


def write(files: FileStore, key: str, data: bytes) -> None:
    """Stored whole or not at all (``FileStore.create``)."""
    with files.create(key) as file:
        file.write(data)
