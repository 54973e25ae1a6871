"""Which store opens ``TALLYBOOK_FILES_URL``: one line per kind of storage, by URL scheme.

Each entry names a module with ``open_store(url, settings)``, imported only when its scheme
is used (so a storage's client library is needed only by those who choose it). It gets the
whole URL (None when the setting is unset, for the default) and returns None for a URL it
cannot use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final, Protocol, cast

from tallybook.settings import ConfigurationError

if TYPE_CHECKING:
    from tallybook.files.store import FileStore
    from tallybook.settings import Settings

STORES: Final[dict[str, str]] = {
    "file": "tallybook.files.local",
    "s3": "tallybook.files.s3",
}
DEFAULT_SCHEME: Final = "file"
"""The store of an unset ``TALLYBOOK_FILES_URL``: the ``files`` folder of the data directory."""


class Opener(Protocol):
    def __call__(self, url: str | None, settings: Settings) -> FileStore | None: ...


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def open_store(url: str | None, settings: Settings) -> FileStore:
    """The store for ``url``; ConfigurationError with a sentence when none can open it."""
    module = STORES.get(DEFAULT_SCHEME if url is None else scheme_of(url))
    try:
        opener = (
            None if module is None else cast("Opener", importlib.import_module(module).open_store)
        )
    except ModuleNotFoundError as missing:
        raise ConfigurationError(
            f"TALLYBOOK_FILES_URL names a {scheme_of(url or '')} store, whose client library "
            f"({missing.name}) is not installed: install tallybook[{scheme_of(url or '')}]."
        ) from None
    store = None if opener is None else opener(url, settings)
    if store is None:
        raise ConfigurationError(
            "TALLYBOOK_FILES_URL must be unset (the files folder of the data directory), "
            "'file:///<absolute path of a directory>' or 's3://<bucket>/<prefix>'."
        )
    return store


def open_file_store(settings: Settings) -> FileStore:
    """The store ``TALLYBOOK_FILES_URL`` names."""
    return open_store(settings.files_url, settings)
