"""Choosing and opening the engine; DuckDB runs with what the wheel contains."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tallybook.events.duckdb_store import DuckDBEventStore
from tallybook.events.store import open_event_store
from tallybook.settings import Settings
from tests.events.helpers import T0, event, query


def settings(tmp_path: Path, url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", events_url=url, _env_file=None)  # type: ignore[call-arg]


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


@pytest.mark.parametrize(
    "url", ["postgresql://db/events", "clickhouse://x", "duckdb:///", "events.duckdb"]
)
def test_other_urls_are_refused_with_a_sentence(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="TALLYBOOK_EVENTS_URL must be unset"):
        open_event_store(settings(tmp_path, url))


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
            "import sys\nfrom tallybook.events.duckdb_store import DuckDBEventStore\n"
            "try:\n    DuckDBEventStore(sys.argv[1])\n"
            "except RuntimeError as exc:\n    print(exc)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
        )
    finally:
        store.close()
    assert out.stdout.startswith(f"Cannot open the event store {path}")
