"""What every event engine must do, and what some engines can do besides.

An engine stores events and executes SQL that :mod:`tallybook.events.query` rendered in its
:class:`~tallybook.events.query.dialects.Dialect`; planning, rendering and turning rows
into the API's answer is the shared :class:`~tallybook.events.engines.runner.QueryRunner`.
Optional capabilities are protocols of their own, checked with ``isinstance``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tallybook.events.query.dialects import Dialect
from tallybook.events.records import EventRow, InsertResult, StoredEvent


class Engine(Protocol):
    """The primitives every engine supplies."""

    @property
    def dialect(self) -> Dialect:
        """How SQL is written for this engine."""
        ...

    def execute(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run one read statement with parameters bound by name; all its rows."""
        ...

    def insert(self, events: Sequence[StoredEvent]) -> InsertResult:
        """Store a batch atomically (all or none) and durably (it survives a kill -9 once
        this returns). An event whose ``id`` its organisation already stored, or that
        repeats an earlier event's ``id`` in the batch, is skipped as a duplicate."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class PlainInsert(Protocol):
    """Capability: store events given as mappings without building objects (faster)."""

    def insert_plain(self, events: Sequence[EventRow]) -> InsertResult:
        """:meth:`Engine.insert`, with the same guarantees, for events as mappings."""
        ...


class BulkLoadError(ValueError):
    """The file cannot be loaded; nothing was stored."""


@runtime_checkable
class BulkLoad(Protocol):
    """Capability: load an NDJSON or Parquet file in one transaction (see
    :func:`tallybook.events.bulk.load_file`)."""

    def load_file(self, file: Path, *, default_source: str) -> InsertResult:
        """Raises :class:`BulkLoadError` when the file cannot be loaded."""
        ...
