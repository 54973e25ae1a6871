"""The ClickHouse event store: for installations that outgrow one machine.

``TALLYBOOK_EVENTS_URL`` is ``clickhouse://user:password@host:8123/database`` (HTTP) or
``clickhouses://…:8443/…`` (HTTPS), through clickhouse-connect; or ``chdb:///<path>``
(``chdb:////<absolute path>``), the same ClickHouse engine in-process through
clickhouse-connect's chdb backend: the tests and CI run the engine that way, so everything
but the HTTP transport is the code a server installation runs. chdb allows one data
directory per process; every store on that directory shares the engine.

A batch is one ``INSERT`` (a MergeTree writes one part per month it touches, so a batch
within a month is all or nothing; one spanning months is a part per month, each atomic).
Idempotency, what holds:

- Within a batch, an event repeating an earlier event's client id is skipped.
- Within one process, batches touching an organisation are serialised by a lock of that
  organisation: the ids already in ``event_ids`` are read, their events skipped, the rest
  inserted, then their ids recorded. A re-send, concurrent or not, is stored once.
- Across processes (several API processes on one ClickHouse), nothing is locked. The
  insert of a batch's events that have ids carries ``insert_deduplication_token``, a hash
  of their ``(organization_id, id)`` pairs, and ``events`` remembers the last
  :data:`~.schema.DEDUPLICATION_WINDOW` tokens: two processes that both find the same ids
  new send the same token, and ClickHouse drops the second insert. So a re-send of the same
  batch is stored once however many processes receive it at once (both answers count the
  events as stored). Two *different* batches that share some ids and arrive at the same
  moment on different processes can both store those events; and a batch mixing events
  with and without ids is inserted without a token (events without an id are never
  deduplicated), so its id'd events are protected across processes only by the read of
  ``event_ids``.
- A crash between storing events and recording their ids: the retry finds the ids new,
  computes the same token, and ClickHouse drops the insert, so it is stored once.

Reads go through clickhouse-connect's ``query`` with the renderer's ``{name:Type}``
parameters (bound by the server), large answers as a block stream.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from tallybook.events.engines.clickhouse.schema import (
    SCHEMA_VERSION,
    VERSION_SQL,
    table_ddl,
    upgrade_ddl,
)
from tallybook.events.engines.patterns import check_re2
from tallybook.events.engines.rows import (
    ID,
    ORG,
    Row,
    first_of_each_id,
    plain_row,
    stored_row,
)
from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.columns import COLUMNS
from tallybook.events.query.dialects import ClickHouseDialect
from tallybook.events.query.language import EventQuery
from tallybook.events.query.render import regex_patterns
from tallybook.events.records import EventRow, InsertResult, StoredEvent
from tallybook.settings import ConfigurationError

if TYPE_CHECKING:
    from tallybook.events.engines.base import PlainInsert
    from tallybook.settings import Settings

SERVER_SCHEMES: Final = {"clickhouse": "http", "clickhouses": "https"}
EMBEDDED_PREFIX: Final = "chdb:///"
"""SQLAlchemy style, as DuckDB's: ``chdb:///relative``, ``chdb:////absolute``."""
QUERY_SETTINGS: Final[dict[str, Any]] = {
    "join_use_nulls": 1,  # an outer join's missing side is NULL, as in SQL
    "count_distinct_implementation": "uniqExact",  # the API's distinct counts are exact
}

MATERIALIZED_CTE: Final = "enable_materialized_cte"
"""The setting that lets a CTE be ``MATERIALIZED`` (recent servers; chdb has it)."""


def open_store(url: str | None, settings: Settings) -> ClickHouseEventStore | None:
    """The store of a ``clickhouse://``, ``clickhouses://`` or ``chdb:///`` URL; None for
    any other URL."""
    del settings  # everything is in the URL
    if url is None:
        return None
    scheme = url.split("://", 1)[0]
    if scheme in SERVER_SCHEMES:
        return ClickHouseEventStore(_server_client(url, SERVER_SCHEMES[scheme]), embedded=False)
    if url.startswith(EMBEDDED_PREFIX) and url != EMBEDDED_PREFIX:
        return embedded_store(Path(url.removeprefix(EMBEDDED_PREFIX)))
    return None


def embedded_store(path: Path) -> ClickHouseEventStore:
    """The store in a chdb data directory (made if missing)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        client = clickhouse_connect.get_client(interface="chdb", path=str(path))
    except (ClickHouseError, OSError) as exc:
        raise ConfigurationError(
            "Cannot open the embedded ClickHouse event store (TALLYBOOK_EVENTS_URL): "
            f"{_reason(exc)}."
        ) from None
    return ClickHouseEventStore(client, embedded=True)


def _server_client(url: str, interface: str) -> Client:
    """A client of the server the URL names, checked by connecting once; a clear sentence,
    without the URL (it may hold a password), when that fails."""
    try:
        return clickhouse_connect.get_client(
            dsn=url, interface=interface, autogenerate_session_id=False, connect_timeout=10
        )
    except ClickHouseError:
        raise ConfigurationError(
            "Cannot connect to the event store (TALLYBOOK_EVENTS_URL): the ClickHouse "
            "server did not answer, or refused the user, password or database."
        ) from None


def _reason(exc: BaseException) -> str:
    """The first line of an engine's error, without its SQL or stack (a setup error such as
    another data directory already open in this process)."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text.split(". (", 1)[0].removeprefix("Code: ").strip()


class ClickHouseEventStore(QueryRunner):
    """The ClickHouse engine; offers the plain insert capability."""

    dialect = ClickHouseDialect()
    typed_rows = True  # counts are UInt64 and the other metrics Float64: int and float

    def __init__(self, client: Client, *, embedded: bool) -> None:
        self._client = client
        # chdb's in-process connection is one handle: its calls are serialised.
        self._call_lock: threading.Lock | None = threading.Lock() if embedded else None
        self._org_locks: dict[uuid.UUID, threading.Lock] = {}
        self._org_locks_lock = threading.Lock()
        try:
            with self._calling():
                for statement in table_ddl():
                    client.command(statement)  # fixed text
                found = client.query(VERSION_SQL).result_rows
                if not found:
                    client.insert(
                        "event_store_meta",
                        [("schema_version", SCHEMA_VERSION)],
                        column_names=["name", "value"],
                    )
                    found = [(SCHEMA_VERSION,)]
            materialize = self._has_setting(MATERIALIZED_CTE)
        except ClickHouseError as exc:
            self.close()
            raise ConfigurationError(
                f"Cannot set up the ClickHouse event store (TALLYBOOK_EVENTS_URL): {_reason(exc)}."
            ) from None
        self._settings = dict(QUERY_SETTINGS)
        if materialize:
            self.dialect = ClickHouseDialect(materialize_shared_ctes=True)
            self._settings[MATERIALIZED_CTE] = 1
        version = str(found[0][0])
        upgrade = upgrade_ddl(version)
        if upgrade is None:
            self.close()
            raise ConfigurationError(
                f"The event store (TALLYBOOK_EVENTS_URL) has schema version {version}; this "
                f"version of Tallybook reads version {SCHEMA_VERSION}."
            )
        if upgrade:
            self._upgrade(upgrade)

    def _has_setting(self, name: str) -> bool:
        """Whether the server knows the setting (older ClickHouse servers refuse a query that
        names one they do not); called holding the call lock."""
        rows = self._client.query(
            "SELECT count() FROM system.settings WHERE name = {name:String}",
            parameters={"name": name},
        ).result_rows
        return bool(rows[0][0])

    def _upgrade(self, statements: list[str]) -> None:
        """Bring an older table to this version (see :func:`.schema.upgrade_ddl`), then
        record the version (the meta table keeps the last row written per name)."""
        try:
            with self._calling():
                for statement in statements:
                    self._client.command(statement)  # fixed text
                self._client.insert(
                    "event_store_meta",
                    [("schema_version", SCHEMA_VERSION)],
                    column_names=["name", "value"],
                )
        except ClickHouseError as exc:
            self.close()
            raise ConfigurationError(
                "Cannot upgrade the ClickHouse event store (TALLYBOOK_EVENTS_URL) to schema "
                f"version {SCHEMA_VERSION}: {_reason(exc)}."
            ) from None

    def _calling(self) -> AbstractContextManager[Any]:
        return self._call_lock if self._call_lock is not None else nullcontext()

    # -- writes ---------------------------------------------------------------------------

    def insert(self, events: Sequence[StoredEvent]) -> InsertResult:
        return self._insert([stored_row(event, _aware_utc) for event in events])

    def insert_plain(self, events: Sequence[EventRow]) -> InsertResult:
        return self._insert([plain_row(event, _aware_utc) for event in events])

    def _insert(self, rows: list[Row]) -> InsertResult:
        if not rows:
            return InsertResult(stored=0, duplicates=0)
        kept, keys = first_of_each_id(rows)
        with ExitStack() as locks:
            for organization in sorted({key[0] for key in keys}):
                locks.enter_context(self._org_lock(organization))
            if keys:
                stored = self._stored_keys(keys)
                kept = [row for row in kept if row[ID] is None or (row[ORG], row[ID]) not in stored]
            new_keys = [(row[ORG], row[ID]) for row in kept if row[ID] is not None]
            if kept:
                self._insert_events(kept, new_keys)
            if new_keys:
                with self._calling():
                    self._client.insert(
                        "event_ids",
                        new_keys,
                        column_names=["organization_id", "id"],
                        settings={"insert_deduplicate": 0},
                    )
        return InsertResult(stored=len(kept), duplicates=len(rows) - len(kept))

    def _org_lock(self, organization: uuid.UUID) -> threading.Lock:
        with self._org_locks_lock:
            return self._org_locks.setdefault(organization, threading.Lock())

    def _stored_keys(
        self, keys: list[tuple[uuid.UUID, uuid.UUID]]
    ) -> set[tuple[uuid.UUID, uuid.UUID]]:
        """Which of the ``(organization_id, id)`` pairs ``event_ids`` already holds."""
        ids: dict[uuid.UUID, list[uuid.UUID]] = {}
        for organization, key in keys:
            ids.setdefault(organization, []).append(key)
        found: set[tuple[uuid.UUID, uuid.UUID]] = set()
        for organization, wanted in ids.items():
            with self._calling():
                rows = self._client.query(
                    _STORED_IDS_SQL, parameters={"organization_id": organization, "ids": wanted}
                ).result_rows
            found.update((organization, row[0]) for row in rows)
        return found

    def _insert_events(self, rows: list[Row], keys: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """One INSERT; with a deduplication token when every event has a client id."""
        settings: dict[str, Any] = {"insert_deduplicate": 0}
        if len(keys) == len(rows):
            settings = {"insert_deduplicate": 1, "insert_deduplication_token": _token(keys)}
        with self._calling():
            self._client.insert("events", rows, column_names=COLUMNS, settings=settings)

    # -- reads ----------------------------------------------------------------------------

    def execute(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with self._calling():
            result = self._client.query(sql, parameters=dict(params), settings=self._settings)
            return cast("list[tuple[Any, ...]]", result.result_rows)  # tuples

    def execute_batches(
        self, sql: str, params: Mapping[str, Any], size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        if self._call_lock is not None:  # one handle: the rows are read before yielding
            yield from super().execute_batches(sql, params, size)
            return
        pending: list[tuple[Any, ...]] = []
        with self._client.query_row_block_stream(
            sql, parameters=dict(params), settings=self._settings
        ) as stream:
            for block in stream:
                pending.extend(block)
                while len(pending) >= size:
                    yield pending[:size]
                    del pending[:size]
        if pending:
            yield pending

    def check_query(self, query: EventQuery) -> None:
        """Patterns are RE2 here too; one is checked as every engine checks it, so a
        refusal reads the same."""
        for pattern in regex_patterns(query.filters):
            check_re2(pattern)

    def ping(self) -> None:
        with self._calling():
            self._client.query("SELECT 1")

    def close(self) -> None:
        with suppress(ClickHouseError):
            self._client.close()


_STORED_IDS_SQL: Final = (
    "SELECT DISTINCT id FROM event_ids"
    " WHERE organization_id = {organization_id:UUID} AND id IN {ids:Array(UUID)}"
)


def _token(keys: list[tuple[uuid.UUID, uuid.UUID]]) -> str:
    """The same for the same set of ``(organization_id, id)`` pairs, in any order."""
    digest = hashlib.sha256()
    for organization, key in sorted(keys):
        digest.update(organization.bytes + key.bytes)
    return digest.hexdigest()


def _aware_utc(instant: datetime) -> datetime:
    """Aware, so clickhouse-connect sends the instant: it reads a naive datetime as the
    process's local time (naive means UTC in the events API)."""
    return instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)


if TYPE_CHECKING:

    def _offers_its_capabilities(store: ClickHouseEventStore) -> PlainInsert:
        return store  # mypy checks the optional capability's signature
