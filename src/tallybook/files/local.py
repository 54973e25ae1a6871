"""Files in a directory of this machine: ``<data dir>/files`` unless ``TALLYBOOK_FILES_URL``
is ``file:///<directory>``.

A file is written as ``<name>.partial`` beside its final name and renamed into place once
complete (a rename is atomic), so a reader never sees half a file; a process killed while
writing leaves the ``.partial``, which ``delete`` removes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from tallybook.files.store import CHUNK_BYTES, FileMissing, check_key
from tallybook.settings import ConfigurationError, Settings

PARTIAL_SUFFIX = ".partial"


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    @contextmanager
    def create(self, key: str) -> Iterator[IO[bytes]]:
        final = self.path(key)
        partial = _partial(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as file:  # truncates what an earlier crash left
            try:
                yield file
                file.flush()
                os.fsync(file.fileno())
            except BaseException:
                file.close()
                partial.unlink(missing_ok=True)
                raise
        os.replace(partial, final)

    def read(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        try:
            file = open(self.path(key), "rb")  # noqa: SIM115 (closed by the generator)
        except FileNotFoundError:
            raise FileMissing(key) from None
        return _chunks(file, start, length)

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise FileMissing(key) from None

    def delete(self, key: str) -> None:
        final = self.path(key)
        for path in (final, _partial(final)):
            with suppress(FileNotFoundError, NotADirectoryError):  # none there, or no folder
                path.unlink()
        self._prune(final.parent)

    def close(self) -> None:
        pass

    def _prune(self, folder: Path) -> None:
        """Remove the now empty folders above a deleted file, up to the root."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty, or already gone
                return
            folder = folder.parent


def _partial(final: Path) -> Path:
    return final.with_name(final.name + PARTIAL_SUFFIX)


def _chunks(file: IO[bytes], start: int, length: int | None) -> Iterator[bytes]:
    with file:
        file.seek(start)
        left = length
        while left is None or left > 0:
            chunk = file.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


def open_store(url: str | None, settings: Settings) -> LocalFileStore | None:
    if url is None:
        root = settings.data_dir / "files"
    else:
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            return None
        root = Path(unquote(parts.path))
        if not root.is_absolute():
            return None
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        writable = False
    else:
        writable = os.access(root, os.W_OK | os.X_OK)
    if not writable:
        setting = "TALLYBOOK_DATA_DIR" if url is None else "TALLYBOOK_FILES_URL"
        raise ConfigurationError(
            f"{setting}: the file store's directory ({root}) must be one this process can "
            "create and write."
        )
    return LocalFileStore(root.resolve())
