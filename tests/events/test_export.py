"""Moving events between engines (issue 13, item 7): ``events export`` writes every event
of a store to NDJSON or Parquet, ``events load`` reads it back into any engine — DuckDB in
one transaction, PostgreSQL in batches — and the events come out the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tallybook.events.bulk import export_file, load_file
from tallybook.events.engines.base import BulkLoadError
from tallybook.events.query.columns import COLUMNS
from tallybook.events.records import StoredEvent
from tallybook.events.store import EventStore, open_event_store
from tallybook.settings import Settings
from tests.fixtures.postgres import create_database

ORG_A, ORG_B = uuid.UUID(int=0xA), uuid.UUID(int=0xB)
START = datetime(2024, 3, 1, 12, tzinfo=UTC)


def _events(org_a: uuid.UUID = ORG_A, org_b: uuid.UUID = ORG_B) -> list[StoredEvent]:
    events = []
    for n in range(25):
        events.append(
            StoredEvent(
                organization_id=org_a if n % 3 else org_b,
                source=("untrusted", "trusted", "external")[n % 3],
                timestamp=START + timedelta(minutes=7 * n, microseconds=n),
                received_at=START + timedelta(minutes=7 * n + 1),
                event_version=1 + n % 2,
                vendor="com.example",
                category=f"c{n % 4}",
                action="a",
                label="l",
                value=n / 4,
                id=uuid.UUID(int=1000 + n) if n % 5 else None,
                properties=("p1", f"p{n}") if n % 2 else (),
                partner_organization_ids=(str(org_b),) if n == 3 else (),
                dim1="ünïcode ✓" if n == 4 else None,
                visitor_id=f"v{n % 6}",
                geo_country="FI" if n % 2 else None,
            )
        )
    return events


def _settings(tmp_path: Path, events_url: str | None = None) -> Settings:
    return Settings(data_dir=tmp_path, events_url=events_url, _env_file=None)


@pytest.fixture
def duckdb_store(tmp_path: Path) -> Iterator[EventStore]:
    store = open_event_store(_settings(tmp_path / "source"))
    store.insert(_events())
    yield store
    store.close()


@pytest.fixture
def postgres_events(postgres_server_url: str) -> str:
    return create_database(postgres_server_url, f"tallybook_moved_{uuid.uuid4().hex[:10]}")


def _all(store: EventStore, *orgs: uuid.UUID) -> list[tuple[Any, ...]]:
    """Every event of the store (of ``orgs`` only, when given), comparable across engines."""
    names = ", ".join(f'"{name}"' for name in COLUMNS)
    batches = store.execute_batches(f"SELECT {names} FROM events", {}, 1000)
    rows = (tuple(_plain(value) for value in row) for batch in batches for row in batch)
    return sorted((row for row in rows if not orgs or row[0] in orgs), key=str)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(value, str) and len(value) == 36:  # an engine that answers UUIDs as text
        try:
            return uuid.UUID(value)
        except ValueError:
            return value
    return value


@pytest.mark.parametrize("suffix", [".ndjson", ".parquet"])
def test_duckdb_to_postgresql_and_back_keeps_every_event(
    tmp_path: Path, duckdb_store: EventStore, postgres_events: str, suffix: str
) -> None:
    exported = tmp_path / f"events{suffix}"
    assert export_file(duckdb_store, exported) == 25
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []
    expected = _all(duckdb_store)

    postgres = open_event_store(_settings(tmp_path / "pg", postgres_events))
    try:
        loaded = load_file(postgres, exported)
        assert (loaded.stored, loaded.duplicates) == (25, 0)
        assert _all(postgres) == expected
        again = load_file(postgres, exported)  # batches skip the events with ids
        assert (again.stored, again.duplicates) == (5, 20)  # the five without an id

        back = tmp_path / f"back{suffix}"
        assert export_file(postgres, back) == 30
    finally:
        postgres.close()
    embedded = open_event_store(_settings(tmp_path / "embedded"))
    try:
        assert load_file(embedded, back).stored == 30
        rows = _all(embedded)
        assert sorted(set(rows), key=str) == expected
        assert len(rows) == 30
    finally:
        embedded.close()


def test_through_clickhouse_and_back(tmp_path: Path, clickhouse_event_store: EventStore) -> None:
    """The in-process ClickHouse store is shared by the test process: this test's events
    are those of two organisations of its own."""
    orgs = (uuid.uuid4(), uuid.uuid4())
    source = open_event_store(_settings(tmp_path / "source"))
    try:
        source.insert(_events(*orgs))
        expected = _all(source)
        export_file(source, tmp_path / "events.ndjson")
    finally:
        source.close()
    loaded = load_file(clickhouse_event_store, tmp_path / "events.ndjson")
    assert loaded.stored == 25
    assert _all(clickhouse_event_store, *orgs) == expected
    export_file(clickhouse_event_store, tmp_path / "back.parquet")
    embedded = open_event_store(_settings(tmp_path / "embedded"))
    try:
        load_file(embedded, tmp_path / "back.parquet")
        assert _all(embedded, *orgs) == expected
    finally:
        embedded.close()


def test_an_export_is_ordered_by_organisation_and_time(
    tmp_path: Path, duckdb_store: EventStore
) -> None:
    exported = tmp_path / "events.ndjson"
    export_file(duckdb_store, exported)
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    keys = [(line["organization_id"], line["timestamp"]) for line in lines]
    assert keys == sorted(keys)
    assert lines[0]["timestamp"].endswith("+00:00")
    assert all("dim2" not in line for line in lines)  # nulls are left out


def test_a_bad_file_into_postgresql_names_the_field(tmp_path: Path, postgres_events: str) -> None:
    bad = tmp_path / "bad.ndjson"
    good = {"organization_id": str(ORG_A), "event_version": 1, "vendor": "v", "category": "c"}
    bad.write_text(json.dumps({**good, "action": "a", "label": "l"}) + "\n" + json.dumps(good))
    postgres = open_event_store(_settings(tmp_path / "pg", postgres_events))
    try:
        with pytest.raises(BulkLoadError, match="action"):
            load_file(postgres, bad)
        nul = tmp_path / "nul.ndjson"
        nul.write_text(json.dumps({**good, "action": "a\u0000", "label": "l"}))
        with pytest.raises(BulkLoadError, match="NUL"):
            load_file(postgres, nul)
    finally:
        postgres.close()


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TALLYBOOK_")}
    return subprocess.run(
        [sys.executable, "-m", "tallybook", *args],
        env={**clean, "TALLYBOOK_DATA_DIR": str(tmp_path / "data"), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_commands_move_an_embedded_store_to_postgresql(
    tmp_path: Path, postgres_events: str
) -> None:
    embedded = open_event_store(_settings(tmp_path / "data"))
    embedded.insert(_events())
    embedded.close()
    exported = _cli(tmp_path, "events", "export", "moved.parquet", "--json")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["exported"] == 25
    loaded = _cli(
        tmp_path, "events", "load", "moved.parquet", "--json", TALLYBOOK_EVENTS_URL=postgres_events
    )
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["stored"] == 25
    nowhere = _cli(tmp_path, "events", "export", "no/such/folder/x.ndjson")
    assert nowhere.returncode == 1
    assert nowhere.stderr.startswith("error: cannot write") and "Traceback" not in nowhere.stderr
