"""The app's file store for a route: ``Files`` in its parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tallybook.files.store import FileStore


def app_files(request: Request) -> FileStore:
    """The store ``create_app`` opened (``TALLYBOOK_FILES_URL``), shared by every route."""
    files: FileStore = request.app.state.files
    return files


Files = Annotated[FileStore, Depends(app_files)]
