"""The ClickHouse engine's own machinery, on ClickHouse in-process (chdb): the table's
layout, re-sends skipped within a batch, across batches, across threads and across stores
(as processes would be), and its configuration errors. What every engine answers alike is
the conformance suite's (the ``store`` fixture)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tallybook.events.engines.clickhouse.store import ClickHouseEventStore, embedded_store
from tallybook.events.engines.registry import open_engine
from tallybook.events.query.dialects import ClickHouseDialect
from tallybook.events.query.language import EventQuery, Interval
from tallybook.events.records import InsertResult, StoredEvent
from tallybook.settings import ConfigurationError, Settings

T0 = datetime(2025, 3, 15, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def clickhouse(chdb_path: Path) -> Iterator[ClickHouseEventStore]:
    store = embedded_store(chdb_path)
    yield store
    store.close()


def event(org: uuid.UUID, *, at: datetime = T0, id: uuid.UUID | None = None) -> StoredEvent:
    return StoredEvent(
        organization_id=org,
        source="trusted",
        timestamp=at,
        received_at=at,
        event_version=1,
        vendor="v",
        category="c",
        action="a",
        label="l",
        id=id,
    )


def count(store: ClickHouseEventStore, org: uuid.UUID) -> int:
    """Events of the organisation as stored, counted in the table itself."""
    rows = store.execute(
        "SELECT count() FROM events WHERE organization_id = {org:UUID}", {"org": org}
    )
    return int(rows[0][0])


def settings(tmp_path: Path, url: str) -> Settings:
    return Settings(data_dir=tmp_path, events_url=url, _env_file=None)


def test_the_table_is_partitioned_by_month_and_ordered_by_organisation(
    clickhouse: ClickHouseEventStore,
) -> None:
    org = uuid.uuid4()
    months = [datetime(2019, m, 10, tzinfo=UTC) for m in (1, 2, 4)]
    clickhouse.insert([event(org, at=at) for at in months])
    (keys,) = clickhouse.execute(
        "SELECT partition_key, sorting_key, engine FROM system.tables"
        " WHERE database = currentDatabase() AND name = 'events'",
        {},
    )
    assert keys == ("toYYYYMM(timestamp)", "organization_id, vendor, timestamp", "MergeTree")
    parts = clickhouse.execute(
        "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase()"
        " AND table = 'events' AND active AND partition LIKE '2019%' ORDER BY partition",
        {},
    )
    assert parts == [("201901",), ("201902",), ("201904",)]


def test_repeated_ids_within_a_batch_and_re_sends_are_skipped(
    clickhouse: ClickHouseEventStore,
) -> None:
    org, other = uuid.uuid4(), uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(3)]
    batch = [event(org, id=key) for key in ids] + [event(org, id=ids[0]), event(org)]
    assert clickhouse.insert(batch) == InsertResult(stored=4, duplicates=1)
    assert clickhouse.insert(batch) == InsertResult(stored=1, duplicates=4)  # the id-less one
    assert count(clickhouse, org) == 5
    # Ids are per organisation: another tenant's event with the same id is its own.
    assert clickhouse.insert([event(other, id=ids[0])]) == InsertResult(stored=1, duplicates=0)


def test_concurrent_re_sends_from_threads_store_each_event_once(
    clickhouse: ClickHouseEventStore,
) -> None:
    org = uuid.uuid4()
    batch = [event(org, id=uuid.uuid4(), at=T0 + timedelta(seconds=i)) for i in range(200)]
    start = threading.Barrier(4)

    def send() -> InsertResult:
        start.wait()
        return clickhouse.insert(batch)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: send(), range(4)))
    assert sorted(r.stored for r in results) == [0, 0, 0, 200]
    assert count(clickhouse, org) == 200


def test_a_re_send_whose_ids_were_not_recorded_is_dropped_by_its_token(
    clickhouse: ClickHouseEventStore,
) -> None:
    """As after a crash between the events' insert and their ids', or a second process
    that read ``event_ids`` before the first recorded them: the same ids give the same
    insert deduplication token, and ClickHouse drops the insert."""
    org = uuid.uuid4()
    batch = [event(org, id=uuid.uuid4(), at=T0 + timedelta(minutes=i)) for i in range(20)]
    clickhouse.insert(batch)
    clickhouse.execute(
        "DELETE FROM event_ids WHERE organization_id = {org:UUID}", {"org": org}
    )  # the ids are forgotten
    again = list(reversed(batch))  # the same set in another order
    assert clickhouse.insert(again).stored == 20  # the store cannot tell ...
    assert count(clickhouse, org) == 20  # ... but nothing was stored twice


def test_two_stores_as_two_processes_store_a_concurrent_re_send_once(
    clickhouse: ClickHouseEventStore, chdb_path: Path
) -> None:
    """Two stores on one ClickHouse share no lock, as two API processes would not."""
    second = embedded_store(chdb_path)
    try:
        for _ in range(5):
            org = uuid.uuid4()
            batch = [event(org, id=uuid.uuid4()) for _ in range(50)]
            start = threading.Barrier(2)

            def send(
                store: ClickHouseEventStore,
                batch: list[StoredEvent] = batch,
                start: threading.Barrier = start,
            ) -> None:
                start.wait()
                store.insert(batch)

            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(send, [clickhouse, second]))
            assert count(clickhouse, org) == 50
    finally:
        second.close()


def test_naive_timestamps_are_utc_whatever_the_process_time_zone(
    clickhouse: ClickHouseEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """clickhouse-connect reads a naive datetime as local time; the store never sends one."""
    org = uuid.uuid4()
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        clickhouse.insert_plain(
            [
                {
                    "organization_id": str(org),
                    "source": "trusted",
                    "received_at": datetime(2025, 3, 15, 12, 30),
                    "event_version": 1,
                    "vendor": "v",
                    "category": "c",
                    "action": "a",
                    "label": "l",
                }
            ]
        )
        query = EventQuery.model_validate({"vendor": "v", "granularity": "hour"})
        result = clickhouse.fetch(org, query, Interval(start=T0, end=T0 + timedelta(days=1)), "UTC")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert result.data == [["2025-03-15T12:00:00.000+00:00", 1]]


def test_an_unreachable_server_is_a_sentence_without_the_password(tmp_path: Path) -> None:
    for url in (
        "clickhouse://tallybook:s3cret-pw@127.0.0.1:1/events",
        "clickhouses://tallybook:s3cret-pw@127.0.0.1:1/events",
    ):
        with pytest.raises(ConfigurationError, match="Cannot connect to the event store") as info:
            open_engine(url, settings(tmp_path, url))
        assert "s3cret" not in str(info.value)
        assert "127.0.0.1" not in str(info.value)


def test_a_second_embedded_directory_in_one_process_is_a_sentence(
    clickhouse: ClickHouseEventStore, tmp_path: Path
) -> None:
    url = f"chdb:///{tmp_path / 'other'}"
    with pytest.raises(ConfigurationError, match="Cannot open the embedded ClickHouse"):
        open_engine(url, settings(tmp_path, url))
    clickhouse.ping()  # the open one is unharmed


def test_a_missing_driver_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "tallybook.events.engines.clickhouse.store")
    monkeypatch.setitem(sys.modules, "clickhouse_connect", None)
    url = "clickhouse://localhost:8123/events"
    with pytest.raises(ConfigurationError, match=r"pip install 'tallybook\[clickhouse\]'"):
        open_engine(url, settings(tmp_path, url))


def test_the_engine_opens_from_its_url(chdb_path: Path, tmp_path: Path) -> None:
    url = f"chdb:///{chdb_path}"
    store = open_engine(url, settings(tmp_path, url))
    try:
        assert isinstance(store, ClickHouseEventStore)
        store.ping()
    finally:
        store.close()


def test_the_dictionary_columns_are_low_cardinality(clickhouse: ClickHouseEventStore) -> None:
    types = dict(
        clickhouse.execute(
            "SELECT name, type FROM system.columns"
            " WHERE database = currentDatabase() AND table = 'events'",
            {},
        )
    )
    assert types["vendor"] == "LowCardinality(String)"
    assert types["device_type"] == "LowCardinality(Nullable(String))"
    assert types["label"] == "String"
    assert types["visitor_id"] == "Nullable(String)"


_VERSION_1_STORE = """
import json, re, sys, uuid
from datetime import UTC, datetime
from pathlib import Path

import clickhouse_connect

from tallybook.events.engines.clickhouse.schema import table_ddl
from tallybook.events.engines.clickhouse.store import embedded_store
from tallybook.events.query.language import EventQuery, Interval

path = Path(sys.argv[1])
old = clickhouse_connect.get_client(interface="chdb", path=str(path))
for statement in table_ddl():  # as version 1 made it: no LowCardinality
    old.command(re.sub(r"LowCardinality\\(((?:Nullable\\()?String\\)?)\\)", r"\\1", statement))
old.insert("event_store_meta", [("schema_version", "1")], column_names=["name", "value"])
org = uuid.uuid4()
at = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
row = {"organization_id": org, "timestamp": at, "source": "trusted", "received_at": at,
       "event_version": 1, "vendor": "v", "category": "c", "action": "a", "label": "l",
       "value": 0.0, "properties": [], "partner_organization_ids": [], "device_type": "mobile"}
old.insert("events", [list(row.values())], column_names=list(row))
before = old.query("SELECT type FROM system.columns WHERE table = 'events' AND name = 'vendor'")
store = embedded_store(path)
types = dict(store.execute(
    "SELECT name, type FROM system.columns WHERE database = currentDatabase()"
    " AND table = 'events'", {}))
version = store.execute(
    "SELECT value FROM event_store_meta FINAL WHERE name = 'schema_version'", {})
query = EventQuery.model_validate({"vendor": "v", "group_by": ["device_type"]})
interval = Interval(start=datetime(2024, 5, 1, tzinfo=UTC), end=datetime(2024, 5, 2, tzinfo=UTC))
data = store.fetch(org, query, interval, "UTC").data
store.close()
print(json.dumps({"before": before.result_rows[0][0], "vendor": types["vendor"],
                  "device_type": types["device_type"], "version": version[0][0],
                  "data": data}))
"""


def test_a_version_1_table_is_upgraded_in_place_on_open(tmp_path: Path) -> None:
    """An installation made before the dictionary columns: opening it converts the columns
    and records the version; its events read as before. (Its own process: chdb opens one
    data directory per process.)"""
    script = tmp_path / "upgrade.py"
    script.write_text(_VERSION_1_STORE)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "chdb")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {
        "before": "String",
        "vendor": "LowCardinality(String)",
        "device_type": "LowCardinality(Nullable(String))",
        "version": "2",
        "data": [["2024-05-01T00:00:00.000+00:00", "mobile", 1]],
    }


def test_a_server_with_materialized_ctes_gets_them(clickhouse: ClickHouseEventStore) -> None:
    """chdb's ClickHouse has ``enable_materialized_cte``; the store renders with it."""
    assert isinstance(clickhouse.dialect, ClickHouseDialect)
    assert clickhouse.dialect.materialize_shared_ctes
    rows = clickhouse.execute(
        "WITH t AS MATERIALIZED (SELECT number AS n FROM numbers(3))"
        " SELECT count() FROM t AS a JOIN t AS b ON a.n = b.n",
        {},
    )
    assert rows == [(3,)]
