"""Choosing and opening the engine; DuckDB runs with what the wheel contains."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from pathlib import Path

import duckdb
import orjson
import pytest

from tallybook.events.bulk import load_file
from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.records import InsertResult
from tallybook.events.store import open_event_store
from tallybook.settings import ConfigurationError, Settings
from tests.events.helpers import T0, event, query


def settings(tmp_path: Path, url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", events_url=url, _env_file=None)


def test_default_is_a_file_in_the_data_directory(tmp_path: Path) -> None:
    store = open_event_store(settings(tmp_path, None))
    try:
        assert isinstance(store, DuckDBEventStore)
        assert Path(store.path) == tmp_path / "data" / "events.duckdb"
        store.ping()
    finally:
        store.close()


def test_duckdb_url(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "my.duckdb"
    store = open_event_store(settings(tmp_path, f"duckdb:///{target}"))
    try:
        assert isinstance(store, DuckDBEventStore) and Path(store.path) == target
    finally:
        store.close()
    assert target.exists()


@pytest.mark.parametrize("url", [None, "duckdb:///{tmp}/limited.duckdb"])
def test_duckdb_memory_limit(tmp_path: Path, url: str | None) -> None:
    """``TALLYBOOK_DUCKDB_MEMORY_LIMIT`` caps DuckDB's memory; a bad amount is a sentence
    naming the setting, before the file is opened."""
    chosen = None if url is None else url.format(tmp=tmp_path)
    limited = Settings(
        data_dir=tmp_path / "data", events_url=chosen, duckdb_memory_limit="64MB", _env_file=None
    )
    store = open_event_store(limited)
    try:
        assert isinstance(store, DuckDBEventStore)
        assert store.execute("SELECT current_setting('memory_limit')", {}) == [("61.0 MiB",)]
    finally:
        store.close()
    wrong = Settings(data_dir=tmp_path / "other", duckdb_memory_limit="lots", _env_file=None)
    with pytest.raises(ConfigurationError, match="TALLYBOOK_DUCKDB_MEMORY_LIMIT must be"):
        open_event_store(wrong)
    assert not (tmp_path / "other" / "events.duckdb").exists()


@pytest.mark.parametrize("url", ["mysql://x", "duckdb:///", "chdb:///", "events.duckdb"])
def test_other_urls_are_refused_with_a_sentence(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigurationError, match="TALLYBOOK_EVENTS_URL must be unset"):
        open_event_store(settings(tmp_path, url))


def test_an_unreachable_postgresql_is_a_sentence_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://tallybook:s3cret-pw@127.0.0.1:1/events"
    with pytest.raises(ConfigurationError, match="Cannot connect to the event store") as info:
        open_event_store(settings(tmp_path, url))
    assert "s3cret" not in str(info.value)


def test_reopening_keeps_events(tmp_path: Path) -> None:
    org = uuid.uuid4()
    first = open_event_store(settings(tmp_path, None))
    first.insert([event(org)])
    first.close()
    second = open_event_store(settings(tmp_path, None))
    try:
        assert second.value(org, query(), T0, T0.replace(day=29), "count") == 1.0
    finally:
        second.close()


def test_time_zone_support_is_linked_in_and_nothing_is_downloaded(
    fresh_store: DuckDBEventStore,
) -> None:
    with fresh_store.cursor() as cursor:
        extensions = dict(
            cursor.execute(
                "SELECT extension_name, install_mode FROM duckdb_extensions() WHERE loaded"
            ).fetchall()
        )
        autoinstall = cursor.execute(
            "SELECT current_setting('autoinstall_known_extensions')"
        ).fetchone()
        zone = cursor.execute("SELECT current_setting('TimeZone')").fetchone()
    assert {extensions[name] for name in ("icu", "json", "parquet")} == {"STATICALLY_LINKED"}
    assert autoinstall == (False,)
    assert zone == ("UTC",)  # every cursor, so TIMESTAMPTZ inputs convert to UTC


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "x.duckdb")
    store.close()
    with pytest.raises(Exception, match="closed"):
        store.ping()


def test_a_second_process_cannot_open_the_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    store = DuckDBEventStore(path)
    try:
        script = (
            "import sys\nfrom tallybook.events.engines.duckdb.store import DuckDBEventStore\n"
            "try:\n    DuckDBEventStore(sys.argv[1])\n"
            "except RuntimeError as exc:\n    print(exc)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
        )
    finally:
        store.close()
    assert out.stdout.startswith(f"Cannot open the event store {path}")


def test_reads_keep_a_cursor_per_thread_and_closing_releases_the_file(tmp_path: Path) -> None:
    """Each thread reads through a cursor it keeps; the cursors of threads that have ended
    are closed by later reads, and all of them by ``close``, after which another process
    can open the file (a cursor left open would keep DuckDB's lock)."""
    path, org = tmp_path / "readers.duckdb", uuid.uuid4()
    store = DuckDBEventStore(path)
    try:
        store.insert([event(org)])
        counts: list[float | None] = []
        for _ in range(3):  # one after the other: each thread is gone before the next reads
            reader = threading.Thread(
                target=lambda: counts.extend(
                    store.value(org, query(), T0, T0.replace(day=29), "count") for _ in range(2)
                )
            )
            reader.start()
            reader.join()
        assert counts == [1.0] * 6
        assert store.value(org, query(), T0, T0.replace(day=29), "count") == 1.0
        assert len(store._readers) <= 2  # this thread's and the last reader's at most
    finally:
        store.close()
    script = (
        "import sys\nfrom tallybook.events.engines.duckdb.store import DuckDBEventStore\n"
        "DuckDBEventStore(sys.argv[1]).close()\nprint('opened')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.stdout == "opened\n", out.stderr
    with pytest.raises(Exception, match="closed"):
        store.value(org, query(), T0, T0.replace(day=29), "count")


V1_OPTIONAL = (
    *("dim1", "dim2", "dim3", "dim4", "dim5", "visitor_id", "session_id", "user_id"),
    *("browser_name", "browser_version", "device_screen_height", "device_screen_width"),
    *("device_type", "geo_city", "geo_country", "ip_organization", "os_name", "os_version"),
    "organization_name",
)
V1_DDL = (
    'CREATE TABLE events (organization_id UUID NOT NULL, "timestamp" TIMESTAMP NOT NULL,'
    " id UUID NOT NULL, source VARCHAR NOT NULL, received_at TIMESTAMP NOT NULL,"
    " event_version INTEGER NOT NULL, vendor VARCHAR NOT NULL, category VARCHAR NOT NULL,"
    " action VARCHAR NOT NULL, label VARCHAR NOT NULL, value DOUBLE NOT NULL,"
    " properties VARCHAR[] NOT NULL, partner_organization_ids VARCHAR[] NOT NULL, "
    + ", ".join(f"{name} VARCHAR" for name in V1_OPTIONAL)
    + ")",
    "CREATE TABLE event_store_meta (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    "INSERT INTO event_store_meta VALUES ('schema_version', '1')",
    "CREATE TABLE event_ids (organization_id UUID NOT NULL, id UUID NOT NULL)",
    "CREATE UNIQUE INDEX event_ids_key ON event_ids (organization_id, id)",
)


def v1_store(path: Path, org: uuid.UUID, made_up: uuid.UUID, client: uuid.UUID) -> None:
    """A store as version 1 made it: every event has an id, only the client's are keyed."""
    with duckdb.connect(str(path)) as db:
        for statement in V1_DDL:
            db.execute(statement)
        for key in (made_up, client):
            db.execute(
                "INSERT INTO events (organization_id, timestamp, id, source, received_at,"
                " event_version, vendor, category, action, label, value, properties,"
                " partner_organization_ids) VALUES ($org, $t, $id, 'untrusted', $t, 1, 'v',"
                " 'c', 'a', 'l', 1.0, [], [])",
                {"org": org, "t": T0.replace(tzinfo=None), "id": key},
            )
        db.execute("INSERT INTO event_ids VALUES ($org, $id)", {"org": org, "id": client})


def schema(path: Path) -> tuple[object, object]:
    with duckdb.connect(str(path)) as db:
        version = db.execute("SELECT value FROM event_store_meta").fetchone()
        nullable = db.execute(
            "SELECT is_nullable FROM duckdb_columns()"
            " WHERE table_name = 'events' AND column_name = 'id'"
        ).fetchone()
    return version, nullable


def test_a_version_1_store_is_migrated_on_open(tmp_path: Path) -> None:
    """Its events keep their ids, made-up ones too; new events without one store null."""
    path, org = tmp_path / "v1.duckdb", uuid.uuid4()
    made_up, client = uuid.uuid4(), uuid.uuid4()
    v1_store(path, org, made_up, client)
    assert schema(path) == (("1",), (False,))
    store = DuckDBEventStore(path)
    try:
        assert store.value(org, query(), T0, T0.replace(day=29), "count") == 2.0
        assert store.insert([event(org), event(org, id=client)]) == InsertResult(1, 1)
        file = tmp_path / "more.ndjson"
        line = {"organization_id": str(org), "timestamp": T0.isoformat(), "event_version": 1}
        line |= {"vendor": "v", "category": "c", "action": "a", "label": "l"}
        file.write_bytes(orjson.dumps(line) + b"\n" + orjson.dumps({**line, "id": str(client)}))
        assert load_file(store, file) == InsertResult(stored=1, duplicates=1)
        with store.cursor() as cursor:
            ids = cursor.execute("SELECT id FROM events ORDER BY rowid").fetchall()
        assert ids == [(made_up,), (client,), (None,), (None,)]
    finally:
        store.close()
    assert schema(path) == (("2",), (True,))
    again = DuckDBEventStore(path)  # migrated once: opens as it is
    try:
        assert again.value(org, query(), T0, T0.replace(day=29), "count") == 4.0
    finally:
        again.close()


def test_a_store_of_a_later_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "later.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE TABLE event_store_meta (name VARCHAR PRIMARY KEY, value VARCHAR)")
        db.execute("INSERT INTO event_store_meta VALUES ('schema_version', '3')")
    with pytest.raises(RuntimeError, match="has schema version 3; this version of Tallybook"):
        DuckDBEventStore(path)
