"""Which engine opens ``TALLYBOOK_EVENTS_URL``: one line per engine, keyed by URL scheme.

Each entry names a module with ``open_store(url, settings)``, imported only when its
engine is used (so an engine's driver is needed only by those who choose it). The opener
gets the whole URL (None for the default engine when the setting is unset) and returns
None for a URL it cannot use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final, Protocol, cast

from tallybook.settings import ConfigurationError

if TYPE_CHECKING:
    from tallybook.events.engines.runner import QueryRunner
    from tallybook.settings import Settings

ENGINES: Final[dict[str, str]] = {
    "duckdb": "tallybook.events.engines.duckdb.store",
    "postgresql": "tallybook.events.engines.postgres.store",
    "postgres": "tallybook.events.engines.postgres.store",
    "postgresql+psycopg": "tallybook.events.engines.postgres.store",
    "clickhouse": "tallybook.events.engines.clickhouse.store",
    "clickhouses": "tallybook.events.engines.clickhouse.store",
    "chdb": "tallybook.events.engines.clickhouse.store",
}
EXTRAS: Final[dict[str, str]] = {
    "clickhouse": "clickhouse",
    "clickhouses": "clickhouse",
    "chdb": "chdb",
}
"""The pip extra that installs an optional engine's driver, by scheme."""
DEFAULT_SCHEME: Final = "duckdb"
"""The engine of an unset ``TALLYBOOK_EVENTS_URL``: a file in the data directory."""


class Opener(Protocol):
    def __call__(self, url: str | None, settings: Settings) -> QueryRunner | None: ...


def scheme_of(url: str) -> str:
    """``duckdb`` of ``duckdb:///events.duckdb``; empty when the URL has no scheme."""
    return url.split("://", 1)[0] if "://" in url else ""


def opener(scheme: str) -> Opener | None:
    module = ENGINES.get(scheme)
    if module is None:
        return None
    try:
        return cast("Opener", importlib.import_module(module).open_store)
    except ModuleNotFoundError as exc:
        if scheme not in EXTRAS:
            raise
        raise ConfigurationError(
            f"The '{scheme}' event engine (TALLYBOOK_EVENTS_URL) needs the package "
            f"{exc.name}, which is not installed: pip install 'tallybook[{EXTRAS[scheme]}]'."
        ) from None


def open_engine(url: str | None, settings: Settings) -> QueryRunner:
    """The engine for ``url``; ConfigurationError with a sentence when none can open it."""
    open_store = opener(DEFAULT_SCHEME if url is None else scheme_of(url))
    store = None if open_store is None else open_store(url, settings)
    if store is None:
        assert url is not None  # the default engine opens an unset URL
        raise ConfigurationError(
            "TALLYBOOK_EVENTS_URL must be unset (a DuckDB file in the data directory), "
            "'duckdb:///<path to a file>' (four slashes for an absolute path), "
            "'postgresql://user:password@host:5432/database', "
            "'clickhouse://user:password@host:8123/database' ('clickhouses://' for HTTPS) or "
            f"'chdb:///<path to a directory>' (embedded ClickHouse) ({_got(url)})."
        )
    return store


def _got(url: str) -> str:
    scheme = scheme_of(url)
    return f"got scheme '{scheme}'" if scheme else "got no scheme"
