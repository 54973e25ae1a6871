"""Bulk loading NDJSON and Parquet, and the synthetic event generator behind the benchmarks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from tallybook.events.bulk import load_file
from tallybook.events.engines.base import BulkLoadError
from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.generate import Spec, organization_ids, read_events, write_events
from tallybook.events.query.language import EventQuery, Interval
from tallybook.events.records import InsertResult, StoredEvent

SPEC = Spec(events=3_000, organizations=3, days=10, seed=7, id_share=0.5)
START = SPEC.start
INTERVAL = Interval(start=START, end=START + timedelta(days=10))
QUERY = EventQuery.model_validate(
    {
        "vendor": "com.giosg.chat",
        "granularity": "day",
        "aggregations": ["count", "sum", "visitor_id_uniq", "session_id_uniq"],
        "group_by": ["device_type", "properties"],
    }
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("files")
    paths = {"ndjson": folder / "events.ndjson", "parquet": folder / "events.parquet"}
    for path in paths.values():
        write_events(path, SPEC)
    return paths


def answers(store: DuckDBEventStore) -> list[list[list[object]]]:
    return [
        store.fetch(org, QUERY, INTERVAL, "Europe/Helsinki").data for org in organization_ids(3, 7)
    ]


def test_generator_is_deterministic_and_skewed(files: dict[str, Path], tmp_path: Path) -> None:
    again = tmp_path / "again.ndjson"
    write_events(again, SPEC)
    assert again.read_bytes() == files["ndjson"].read_bytes()
    rows = [orjson.loads(line) for line in files["ndjson"].read_bytes().splitlines()]
    assert len(rows) == SPEC.events
    per_org = [sum(r["organization_id"] == str(o) for r in rows) for o in organization_ids(3, 7)]
    assert per_org == sorted(per_org, reverse=True) and per_org[0] > 2 * per_org[2]
    assert 0.4 < sum(r["id"] is not None for r in rows) / len(rows) < 0.6
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps) and stamps[0].endswith("Z")
    assert len({r["category"] for r in rows}) > 5 and any(r["properties"] for r in rows)


def test_ndjson_parquet_and_insert_give_the_same_answers(
    files: dict[str, Path], tmp_path: Path
) -> None:
    results = []
    for name, path in files.items():
        store = DuckDBEventStore(tmp_path / f"{name}.duckdb")
        assert load_file(store, path) == InsertResult(stored=SPEC.events, duplicates=0)
        results.append(answers(store))
        store.close()
    inserted = DuckDBEventStore(tmp_path / "inserted.duckdb")
    for batch in read_events(files["parquet"], batch_size=500):
        inserted.insert(batch)
    results.append(answers(inserted))
    inserted.close()
    assert results[0] == results[1] == results[2]
    assert sum(len(rows) for rows in results[0]) > 20


def test_reloading_skips_events_with_known_ids(
    files: dict[str, Path], fresh_store: DuckDBEventStore
) -> None:
    first = load_file(fresh_store, files["parquet"])
    again = load_file(fresh_store, files["ndjson"])
    with_ids = sum(
        r["id"] is not None for r in map(orjson.loads, files["ndjson"].read_bytes().splitlines())
    )
    assert first == InsertResult(stored=SPEC.events, duplicates=0)
    assert again == InsertResult(stored=SPEC.events - with_ids, duplicates=with_ids)


@pytest.mark.parametrize("name", ["ndjson", "parquet"])
def test_the_stored_id_is_the_clients_or_null(
    files: dict[str, Path], fresh_store: DuckDBEventStore, name: str
) -> None:
    given = {
        (r["organization_id"], r["id"])
        for r in map(orjson.loads, files["ndjson"].read_bytes().splitlines())
        if r["id"] is not None
    }
    load_file(fresh_store, files[name])
    with fresh_store.cursor() as cursor:
        counts = cursor.execute("SELECT count(*), count(id) FROM events").fetchone()
        stored = cursor.execute("SELECT organization_id, id FROM events WHERE id IS NOT NULL")
        in_events = {(str(org), str(key)) for org, key in stored.fetchall()}
        keyed = cursor.execute("SELECT organization_id, id FROM event_ids").fetchall()
    assert counts == (SPEC.events, len(given))
    assert in_events == given == {(str(org), str(key)) for org, key in keyed}
    assert len(keyed) == len(given)


def write_ndjson(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(row) for row in rows))
    return path


def row(org: uuid.UUID, **fields: object) -> dict[str, object]:
    return {
        "organization_id": str(org),
        "timestamp": "2021-03-28T10:00:00+03:00",
        "event_version": 1,
        "vendor": "v",
        "category": "c",
        "action": "a",
        "label": "l",
        **fields,
    }


def test_defaults_and_repeated_ids_in_one_file(
    fresh_store: DuckDBEventStore, tmp_path: Path
) -> None:
    org, key = uuid.uuid4(), str(uuid.uuid4())
    path = write_ndjson(
        tmp_path / "small.ndjson",
        [
            row(org, id=key, properties=["x", None]),
            row(org, id=key),
            row(org, source="trusted", value=2.5, device_screen_height=1080, unknown="ignored"),
        ],
    )
    assert load_file(fresh_store, path) == InsertResult(stored=2, duplicates=1)
    q = EventQuery.model_validate(
        {
            "vendor": "v",
            "group_by": ["source", "properties", "device_screen_height"],
            "aggregations": ["sum"],
        }
    )
    day = Interval(start=datetime(2021, 3, 28, tzinfo=UTC), end=datetime(2021, 3, 29, tzinfo=UTC))
    assert fresh_store.fetch(org, q, day, "UTC").data == [
        ["2021-03-28T00:00:00.000+00:00", "external", "x", None, 1.0],
        ["2021-03-28T00:00:00.000+00:00", "trusted", None, "1080", 2.5],
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"vendor": None}, "required field"),
        ({"source": "bogus"}, "source must be"),
        ({"event_version": 0}, "event_version"),
        ({"organization_id": "not-a-uuid"}, "UUID"),
        ({"label": "x\u0000y"}, "label may not contain NUL"),
        ({"vendor": "\u0000"}, "vendor may not contain NUL"),
        ({"dim3": "a\u0000"}, "dim3 may not contain NUL"),
        ({"visitor_id": "\u0000"}, "visitor_id may not contain NUL"),
        ({"properties": ["ok", "b\u0000"]}, "properties may not contain NUL"),
        ({"partner_organization_ids": ["\u0000"]}, "partner_organization_ids may not"),
    ],
)
def test_a_bad_event_stores_nothing(
    fresh_store: DuckDBEventStore, tmp_path: Path, fields: dict[str, object], message: str
) -> None:
    org = uuid.uuid4()
    path = write_ndjson(tmp_path / "bad.ndjson", [row(org), row(org, **fields)])
    with pytest.raises(BulkLoadError, match=message):
        load_file(fresh_store, path)
    with fresh_store.cursor() as cursor:
        assert cursor.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_missing_file(fresh_store: DuckDBEventStore, tmp_path: Path) -> None:
    with pytest.raises(BulkLoadError, match="not a file"):
        load_file(fresh_store, tmp_path / "nope.ndjson")


def test_a_json_array_file_loads_too(fresh_store: DuckDBEventStore, tmp_path: Path) -> None:
    org = uuid.uuid4()
    path = tmp_path / "array.json"
    path.write_bytes(orjson.dumps([row(org), row(org, label="m")]))
    assert load_file(fresh_store, path) == InsertResult(stored=2, duplicates=0)


def stored_order(store: DuckDBEventStore) -> list[tuple[object, ...]]:
    with store.cursor() as cursor:
        return cursor.execute(
            'SELECT organization_id, "timestamp" FROM events ORDER BY rowid'
        ).fetchall()


def late_rows(org: uuid.UUID) -> list[dict[str, object]]:
    """More than a megabyte in time order, then three events earlier than all of them."""
    start = datetime(2021, 3, 2, tzinfo=UTC)
    stamps = [start + timedelta(seconds=i) for i in range(8_000)]
    stamps += [start - timedelta(hours=i) for i in range(1, 4)]
    return [row(org, timestamp=stamp.isoformat().replace("+00:00", "Z")) for stamp in stamps]


@pytest.mark.parametrize("name", ["ndjson", "parquet"])
def test_a_file_of_several_organisations_is_stored_sorted(
    files: dict[str, Path], fresh_store: DuckDBEventStore, name: str
) -> None:
    load_file(fresh_store, files[name])
    stored = stored_order(fresh_store)
    assert len(stored) == SPEC.events
    assert stored == sorted(stored) and len({org for org, _ in stored}) == 3


def test_an_ndjson_file_out_of_order_after_its_first_lines_is_stored_sorted(
    fresh_store: DuckDBEventStore, tmp_path: Path
) -> None:
    """The first megabyte is in order, so the rows are appended as they come; the check
    afterwards finds the late ones out of order and the load is done again, sorting."""
    org = uuid.uuid4()
    path = write_ndjson(tmp_path / "late.ndjson", late_rows(org))
    assert path.stat().st_size > 1 << 20
    assert load_file(fresh_store, path) == InsertResult(stored=8_003, duplicates=0)
    stored = stored_order(fresh_store)
    earliest = datetime(2021, 3, 1, 21)  # three hours before the first line's, in UTC
    assert stored == sorted(stored) and stored[0][1] == earliest


@pytest.mark.parametrize("repeat", [False, True])
def test_ids_of_an_ndjson_file_loaded_again_sorted_are_keyed_once(
    fresh_store: DuckDBEventStore, tmp_path: Path, repeat: bool
) -> None:
    """Redone sorted after the order check, the load keys each client id once; with an id
    repeated it goes on to the checked load, which keeps the first."""
    org = uuid.uuid4()
    rows = [{**r, "id": str(uuid.uuid4())} for r in late_rows(org)]
    if repeat:
        rows[-1]["id"] = rows[0]["id"]
    path = write_ndjson(tmp_path / "late-ids.ndjson", rows)
    assert path.stat().st_size > 1 << 20
    stored = len(rows) - repeat
    assert load_file(fresh_store, path) == InsertResult(stored=stored, duplicates=int(repeat))
    order = stored_order(fresh_store)
    assert order == sorted(order) and len(order) == stored
    with fresh_store.cursor() as cursor:
        keys = cursor.execute("SELECT count(*), count(DISTINCT id) FROM event_ids").fetchone()
        nulls = cursor.execute("SELECT count(*) FROM events WHERE id IS NULL").fetchone()
    assert keys == (stored, stored) and nulls == (0,)
    assert load_file(fresh_store, path) == InsertResult(stored=0, duplicates=len(rows))


def test_an_ndjson_file_repeating_a_known_id_skips_it(
    fresh_store: DuckDBEventStore, tmp_path: Path
) -> None:
    """Into a store whose key table is indexed: the key insert after the append fails and
    the checked load stores the rest."""
    org, known = uuid.uuid4(), uuid.uuid4()
    assert fresh_store.insert([event_of(org, known)]) == InsertResult(1, 0)
    path = write_ndjson(
        tmp_path / "known.ndjson",
        [row(org, id=str(uuid.uuid4())), row(org, id=str(known)), row(org)],
    )
    assert load_file(fresh_store, path) == InsertResult(stored=2, duplicates=1)
    with fresh_store.cursor() as cursor:
        keys = cursor.execute("SELECT count(*) FROM event_ids").fetchone()
        nulls = cursor.execute("SELECT count(*) FROM events WHERE id IS NULL").fetchone()
    assert keys == (2,) and nulls == (1,)


def test_ids_loaded_into_an_empty_store_stay_unique(
    files: dict[str, Path], fresh_store: DuckDBEventStore
) -> None:
    load_file(fresh_store, files["parquet"])
    with fresh_store.cursor() as cursor:
        indexes = cursor.execute(
            "SELECT index_name, is_unique FROM duckdb_indexes() WHERE table_name = 'event_ids'"
        ).fetchall()
        first = cursor.execute("SELECT organization_id, id FROM event_ids LIMIT 1").fetchone()
    assert first is not None
    org, key = first
    assert indexes == [("event_ids_key", True)]
    resent = event_of(org, key)
    assert fresh_store.insert([resent, event_of(org, uuid.uuid4())]) == InsertResult(1, 1)


@pytest.mark.parametrize("load_first", [True, False])
def test_a_store_keyed_by_a_primary_key_works_the_same(
    files: dict[str, Path], tmp_path: Path, load_first: bool
) -> None:
    """Stores made before the unique index have a primary key on the ids instead; a load
    into one without ids yet makes it the new way."""
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute(
            "CREATE TABLE event_ids (organization_id UUID NOT NULL, id UUID NOT NULL,"
            " PRIMARY KEY (organization_id, id))"
        )
    store = DuckDBEventStore(path)
    try:
        org, key = uuid.uuid4(), uuid.uuid4()
        if load_first:
            assert load_file(store, files["ndjson"]).stored == SPEC.events
        assert store.insert([event_of(org, key)]) == InsertResult(1, 0)
        assert store.insert([event_of(org, key)]) == InsertResult(0, 1)
        if not load_first:
            assert load_file(store, files["ndjson"]).stored == SPEC.events
        again = load_file(store, files["parquet"])
        assert again.duplicates > 0 and again.stored + again.duplicates == SPEC.events
        with store.cursor() as cursor:
            keys = cursor.execute(
                "SELECT count(*) FROM duckdb_indexes() WHERE index_name = 'event_ids_key'"
            ).fetchone()
        assert keys == (1 if load_first else 0,)
    finally:
        store.close()


def event_of(org: uuid.UUID, key: uuid.UUID) -> StoredEvent:
    when = datetime(2021, 3, 5, tzinfo=UTC)
    return StoredEvent(org, "external", when, when, 1, "v", "c", "a", "l", id=key)
