"""The CSV lines an engine writes (``EventStore.relation_csv``) are byte for byte what the
Python path writes: ``kit.tabular``'s writer over ``RowShape.cells`` of the same rows.

DuckDB renders every cell in SQL and writes the file with ``COPY``; the other engines go
through the shared runner. Awkward values of every column type are made by Hypothesis
and stored in each engine; values only SQL can store (NaN, infinities, null list
elements) are written straight into DuckDB's table.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.cells import Constant, render_relation_csv
from tallybook.events.query.columns import OPTIONAL_TEXT_COLUMNS, ColumnType
from tallybook.events.records import StoredEvent
from tallybook.funnels import service
from tallybook.funnels.fields import BASIC_COLUMNS, RAW_COLUMNS, RowShape, event_columns
from tallybook.funnels.paths import StepPath, WorkflowScope
from tallybook.funnels.plans import SourceRowsPlan
from tallybook.funnels.service import SourceRows
from tallybook.funnels.types import Rows
from tallybook.kit.tabular import csv_chunks
from tests.funnels.factories import T0, step_event

END = T0 + timedelta(days=1)
AWKWARD = [
    "",
    "plain",
    "=1+2",
    "+1",
    "-2",
    "@SUM(A1)",
    "\tx",
    "\rx",
    "a,b",
    'say "hi"',
    "two\nlines",
    "cr\r\nlf",
    "#hash",
    "'quoted",
    " spaced ",
    "Välkommen 日本 🎉",
    "null",
    "None",
    "\\",
    "\\u001B",
    "\x1b\x0b\x1f\x01",
    "\u2028\u2029\x85\ufeff",
    "\x7f",
]
texts = st.one_of(
    st.sampled_from(AWKWARD),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12),
)
optional_texts = st.one_of(st.none(), texts)
instants = st.builds(
    lambda offset, whole: (
        T0 + (timedelta(seconds=offset // timedelta(seconds=1)) if whole else offset)
    ),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=23)),
    st.booleans(),
)
values = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -2.5, 1e16, 1e-7, 123456789012345678.0, 1 / 3]),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)
# The optional text columns, but for those the step events need (their step, session, visitor).
OPTIONAL = tuple(
    name for name in OPTIONAL_TEXT_COLUMNS if name not in {"dim5", "visitor_id", "session_id"}
)


@st.composite
def events(draw: Any, organization_id: uuid.UUID, workflow_id: uuid.UUID) -> StoredEvent:
    fields = {name: draw(optional_texts) for name in OPTIONAL}
    return step_event(
        organization_id,
        workflow_id,
        1,
        draw(instants),
        source=draw(st.sampled_from(["trusted", "untrusted", "external"])),
        # what the API accepts: the store is shared, and an export refuses anything else
        event_version=draw(st.integers(1, 2**31 - 1)),
        vendor=draw(texts),
        category=draw(texts),
        action=draw(texts),
        value=draw(values),
        properties=tuple(draw(st.lists(texts, max_size=3))),
        partner_organization_ids=tuple(draw(st.lists(texts, max_size=2))),
        session_id=draw(optional_texts),
        visitor_id=draw(optional_texts),
        **fields,
    )


def plan(organization_id: uuid.UUID, workflow_id: uuid.UUID, basic: bool) -> SourceRows:
    columns = BASIC_COLUMNS if basic else RAW_COLUMNS
    source = SourceRowsPlan(
        rows=Rows.STEP,
        scope=WorkflowScope(organization_id, workflow_id, T0, END),
        path=StepPath(),
        columns=tuple(event_columns(columns)),
        step=1,
    )
    return SourceRows(source, RowShape(columns, str(workflow_id)), "file")


def python_file(store: QueryRunner, rows: SourceRows) -> bytes:
    """Today's Python path: the rows as the shape's cells, through the CSV writer."""
    cells = rows.shape.cells(store.relation_rows(rows.plan))
    return b"".join(csv_chunks(rows.shape.names, cells))


def written(store: QueryRunner, rows: SourceRows, chunk_size: int = 64) -> tuple[bytes, int]:
    chunks = store.relation_csv(rows.plan, rows.shape.file_cells(), chunk_size=chunk_size)
    parts: list[bytes] = []
    while True:
        try:
            parts.append(next(chunks))
        except StopIteration as done:
            return b"".join(parts), done.value


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), basic=st.booleans())
def test_the_engines_csv_is_the_python_paths(
    store: QueryRunner, data: st.DataObject, basic: bool
) -> None:
    org, wf = uuid.uuid4(), uuid.uuid4()
    stored = data.draw(st.lists(events(org, wf), min_size=1, max_size=8))
    store.insert(stored)
    rows = plan(org, wf, basic)
    expected = python_file(store, rows)
    header = expected.partition(b"\r\n")[0]
    lines, count = written(store, rows)
    assert header + b"\r\n" + lines == expected
    assert count == len(stored)
    assert b"".join(service.csv_file(store, rows)) == expected


def test_a_limit_and_an_empty_answer(store: QueryRunner) -> None:
    """Rows three hours apart fall in different slices (the first covers 1/256 of the
    day): the limit is shared out over the slices by the counts ``relation_csv``
    returns."""
    org, wf = uuid.uuid4(), uuid.uuid4()
    store.insert([step_event(org, wf, 1, T0 + timedelta(hours=3 * i)) for i in range(5)])
    rows = plan(org, wf, basic=False)
    limited = replace(rows, plan=replace(rows.plan, limit=3))
    expected = python_file(store, limited)
    assert b"".join(service.csv_file(store, limited)) == expected
    assert expected.count(b"\r\n") == 4  # the header and 3 rows
    assert written(store, limited)[1] == 3
    nobody = plan(uuid.uuid4(), wf, basic=False)  # another organisation sees nothing
    assert written(store, nobody) == (b"", 0)
    assert b"".join(service.csv_file(store, nobody)) == python_file(store, nobody)


def test_slices_are_sized_by_their_rows(
    store: QueryRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of rows in one second among rows spread over the day: every row once, in
    order, a limit ending the answer inside a slice; slices hold about ``SLICE_ROWS`` rows
    where the rows are spread, and the burst is one slice (a second is the shortest)."""
    monkeypatch.setattr(service, "SLICE_ROWS", 8)
    org, wf = uuid.uuid4(), uuid.uuid4()
    spread = [T0 + timedelta(minutes=22 * i, seconds=i) for i in range(64)]
    burst = [T0 + timedelta(hours=12, microseconds=7 * i) for i in range(40)]
    store.insert([step_event(org, wf, 1, at, session_id=f"s{k}") for k, at in enumerate(spread)])
    store.insert([step_event(org, wf, 1, at, session_id="burst") for at in burst])
    counts: list[int] = []
    real = store.relation_csv

    def counted(*args: Any, **kwargs: Any) -> Any:
        counts.append((yield from real(*args, **kwargs)))
        return counts[-1]

    monkeypatch.setattr(store, "relation_csv", counted)
    rows = plan(org, wf, basic=False)
    assert b"".join(service.csv_file(store, rows)) == python_file(store, rows)
    assert sum(counts) == 104
    larger = [count for count in counts if count > 2 * 8]
    assert len(larger) == 1 and larger[0] >= 40, counts  # the burst's
    assert len(counts) >= 64 // 16
    counts.clear()
    limited = replace(rows, plan=replace(rows.plan, limit=20))
    assert b"".join(service.csv_file(store, limited)) == python_file(store, limited)
    assert sum(counts) == 20


SQL_ONLY = [
    ("'nan'::DOUBLE", "[]"),
    ("'-nan'::DOUBLE", "[NULL, 'a']"),
    ("'inf'::DOUBLE", "['\x1b', 'b']"),
    ("'-inf'::DOUBLE", "[NULL]"),
    ("-0.0::DOUBLE", "['\\u001B', 'null']"),
    ("1e300::DOUBLE", "['\x0b\\\\', chr(31)]"),
    ("-1.5e-300::DOUBLE", "['\"', '']"),
]


def test_values_only_sql_stores(duckdb_csv_store: DuckDBEventStore) -> None:
    """NaN (with a sign too), the infinities, null list elements and control characters
    DuckDB's JSON writes with capital hex digits: the same text as Python's."""
    store = duckdb_csv_store
    org, wf = uuid.uuid4(), uuid.uuid4()
    store.insert([step_event(org, wf, 1, T0 + timedelta(seconds=i)) for i in range(len(SQL_ONLY))])
    with store.writing() as cursor:
        for second, (value, elements) in enumerate(SQL_ONLY):
            cursor.execute(
                f"UPDATE events SET value = {value}, properties = {elements}"
                " WHERE organization_id = $org AND timestamp = $at",
                {"org": org, "at": (T0 + timedelta(seconds=second)).replace(tzinfo=None)},
            )
    rows = plan(org, wf, basic=False)
    expected = python_file(store, rows)
    assert b"".join(service.csv_file(store, rows)) == expected
    assert b"'-inf" in expected and b'""None""' in expected and b"\\u001b" in expected


def test_one_column_takes_the_python_path(duckdb_csv_store: DuckDBEventStore) -> None:
    """DuckDB writes a lone empty cell as an empty line; Python (and so the file) ``""``."""
    store = duckdb_csv_store
    org, wf = uuid.uuid4(), uuid.uuid4()
    store.insert([step_event(org, wf, 1, T0, dim1=None), step_event(org, wf, 1, END, dim1="x")])
    source = replace(plan(org, wf, basic=False).plan, columns=("dim1",))
    chunks = store.relation_csv(source, [ColumnType.TEXT])
    assert b"".join(chunks) == b'""\r\n'
    both = store.relation_csv(source, [ColumnType.TEXT, Constant("=wf")])
    assert b"".join(both) == b",'=wf\r\n"


@pytest.mark.parametrize("cells", [[ColumnType.TEXT, Constant("x")], [ColumnType.TEXT] * 3])
def test_cells_must_match_the_columns(
    duckdb_csv_store: DuckDBEventStore, cells: Sequence[ColumnType | Constant]
) -> None:
    source = replace(plan(uuid.uuid4(), uuid.uuid4(), basic=False).plan, columns=("dim1", "dim2"))
    with pytest.raises(ValueError, match="do not match"):
        list(duckdb_csv_store.relation_csv(source, cells))


@pytest.fixture(scope="module")
def duckdb_csv_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    events_store = DuckDBEventStore(tmp_path_factory.mktemp("csv") / "events.duckdb")
    yield events_store
    events_store.close()


def test_the_instants_are_utc(duckdb_csv_store: DuckDBEventStore) -> None:
    org, wf = uuid.uuid4(), uuid.uuid4()
    at = datetime(2022, 11, 3, 10, 10, 57, 242999, tzinfo=UTC)
    duckdb_csv_store.insert([step_event(org, wf, 1, at)])
    rows = plan(org, wf, basic=True)
    lines = b"".join(duckdb_csv_store.relation_csv(rows.plan, rows.shape.file_cells()))
    assert lines.startswith(b"2022-11-03T10:10:57.242Z,Step 1,")
    assert lines == python_file(duckdb_csv_store, rows).partition(b"\r\n")[2]


def test_the_temporary_files_are_removed(
    duckdb_csv_store: DuckDBEventStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each slice's file is gone once it is sent, and so is the one being read when the
    download stops early (the generator closed, as when the client leaves)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    org, wf = uuid.uuid4(), uuid.uuid4()
    duckdb_csv_store.insert(
        [step_event(org, wf, 1, T0 + timedelta(minutes=i), dim1="x" * 100) for i in range(50)]
    )
    rows = plan(org, wf, basic=False)
    assert b"".join(service.csv_file(duckdb_csv_store, rows)).count(b"\r\n") == 51
    assert list(tmp_path.iterdir()) == []
    chunks = duckdb_csv_store.relation_csv(rows.plan, rows.shape.file_cells(), chunk_size=100)
    assert len(next(chunks)) == 100
    assert [path.suffix for path in tmp_path.iterdir()] == [".csv"]
    chunks.close()
    assert list(tmp_path.iterdir()) == []


def test_a_download_gives_back_the_cache(tmp_path: Path) -> None:
    """The table blocks a CSV's ``COPY`` brings into DuckDB's cache leave it afterwards,
    and the memory limit is the configured one again (DuckDB's default without one)."""
    org, wf = uuid.uuid4(), uuid.uuid4()
    path = tmp_path / "events.duckdb"
    events_store = DuckDBEventStore(path)
    for batch in range(10):
        events_store.insert(
            [
                step_event(
                    org,
                    wf,
                    1,
                    T0 + timedelta(seconds=batch * 5000 + i),
                    **{name: str(uuid.uuid4()) for name in ("dim1", "dim2", "dim3")},
                )
                for i in range(5000)
            ]
        )
    events_store.close()  # a checkpoint: the rows are now the file's blocks
    for limit in (None, "1GB"):
        events_store = DuckDBEventStore(path, memory_limit=limit)
        try:
            with events_store.cursor() as cursor:
                setting = "SELECT current_setting('memory_limit')"
                configured = cursor.execute(setting).fetchall()
                rows = plan(org, wf, basic=False)
                scanned = cursor.execute("SELECT count(value) FROM events").fetchall()
                assert scanned == [(50_000,)]
                before = cached(cursor)  # what any read leaves: here, the values' blocks
                assert before > 0
                file = b"".join(service.csv_file(events_store, rows))
                assert file.count(b"\r\n") == 50_001  # 4 MB of blocks read, and given
                assert cached(cursor) <= before + BLOCK  # back (to a block: the memory in
                # use, which the give-back lowers the limit from, moves a little meanwhile)
                assert cursor.execute(setting).fetchall() == configured
        finally:
            events_store.close()


BLOCK = 256 * 1024  # DuckDB's block size


def cached(cursor: Any) -> int:
    found = cursor.execute(
        "SELECT sum(memory_usage_bytes) FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
    ).fetchone()
    return int(found[0]) if found and found[0] is not None else 0


def test_no_formula_test_is_a_join(duckdb_csv_store: DuckDBEventStore) -> None:
    """DuckDB plans an ``IN`` list of five or more constants as a join (a hash table per
    column); the formula test's lists are shorter."""
    rows = plan(uuid.uuid4(), uuid.uuid4(), basic=False)
    rendered = render_relation_csv(rows.plan, duckdb_csv_store.dialect, rows.shape.file_cells())
    six = "SELECT ascii(dim1) IN (61, 43, 45, 64, 9, 13) FROM events"
    with duckdb_csv_store.cursor() as cursor:
        assert "MARK" in explained(cursor, six, {})  # what the test would see
        assert "MARK" not in explained(cursor, rendered.sql, rendered.params)


def explained(cursor: Any, sql: str, params: dict[str, Any]) -> str:
    shown = cursor.execute("EXPLAIN " + sql, params).fetchall()
    return "".join(str(part) for row in shown for part in row).upper()
