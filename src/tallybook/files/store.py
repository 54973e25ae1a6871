"""The file store's interface, and the one ``TALLYBOOK_FILES_URL`` opens.

Files are named by *keys*: relative paths of ``/``-separated segments made of letters,
digits, ``.``, ``_`` and ``-`` (no segment starts with a dot), such as
``exports/<organisation>/<export>/1.csv``. A store never lists keys: its callers know the
names they wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import IO, Final, Protocol

CHUNK_BYTES: Final = 64 * 1024
_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
MAX_KEY_LENGTH: Final = 512


class FileMissing(LookupError):
    """No file has this key (never written, or deleted)."""


class FileStoreUnavailable(RuntimeError):
    """The store cannot be reached or refused the operation (a remote store: S3); worth
    trying again later. The message names no secret."""


class FileStore(Protocol):
    def create(self, key: str) -> AbstractContextManager[IO[bytes]]:
        """A new file at ``key``, written through the binary file the block is given
        (seekable: an XLSX writer seeks). It appears under ``key`` only when the block ends
        without an error, whole, replacing any file the key had; an error leaves nothing.
        A process killed mid-block can leave a partial file that ``delete(key)`` removes."""
        ...

    def read(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The file's bytes from ``start`` (``length`` of them, or to the end) in chunks.
        ``FileMissing`` is raised by the call itself, before any chunk is asked for; the
        file is released when the iterator is exhausted or closed. A remote store raises
        ``FileStoreUnavailable`` when it cannot be reached (any method may)."""
        ...

    def size(self, key: str) -> int:
        """The file's length in bytes; ``FileMissing`` when there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file and any partial one left at ``key``; nothing there is no error."""
        ...

    def close(self) -> None: ...


def check_key(key: str) -> str:
    """``key`` when it is a valid key (see the module); ValueError otherwise."""
    segments = key.split("/")
    if len(key) > MAX_KEY_LENGTH or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError("A file key is a relative path of plain segments.")
    return key
