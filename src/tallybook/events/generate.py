"""Realistic synthetic events for benchmarks, tests and demos.

The events are computed inside DuckDB from hashes of the row number and a seed, so ten
million of them take seconds, the output is the same for the same arguments, and
``COPY`` writes NDJSON or Parquet without Python touching a row.

Shape: a few organisations own most events (power law); each has a pool of returning
visitors with sessions per day; timestamps cover ``days`` days with a daytime peak;
categories, actions, labels and custom dimensions are skewed; most values are 1.0, some
are amounts; a quarter of the events have no properties.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import duckdb

from tallybook.events.engines.duckdb.bulk import source_select
from tallybook.events.engines.duckdb.schema import DUCKDB_CONFIG
from tallybook.events.query.columns import COLUMNS, LIST_COLUMNS
from tallybook.events.records import EventSource, StoredEvent

FileFormat = Literal["ndjson", "parquet"]
NAMESPACE: Final = uuid.UUID("6f1c3b5e-8a43-4b6e-9d55-7e2f2f6b1a10")
DEFAULT_START: Final = datetime(2021, 3, 1, tzinfo=UTC)

VENDORS: Final = (("com.giosg.chat", 5), ("interaction-designer", 3), ("com.tallybook.demo", 2))
SOURCES: Final = ((EventSource.UNTRUSTED, 80), (EventSource.TRUSTED, 15), (EventSource.EXTERNAL, 5))
CATEGORIES: Final = (
    "widget",
    "chat",
    "visitor",
    "page",
    "workflowReportingEvent",
    "goal",
    "button",
    "form",
    "video",
    "search",
    "cart",
    "checkout",
)
ACTIONS: Final = (
    "viewed",
    "clicked",
    "created",
    "opened",
    "closed",
    "submitted",
    "started",
    "completed",
    "sent",
    "received",
    "shown",
    "hidden",
    "scrolled",
    "played",
    "paused",
    "added",
    "removed",
    "purchased",
    "failed",
    "retried",
)
BROWSERS: Final = (("Chrome", 62), ("Safari", 20), ("Firefox", 8), ("Edge", 7), ("Opera", 3))
DEVICES: Final = (("desktop", 55), ("mobile", 40), ("tablet", 5))
PLACES: Final = (
    (("FI", "Helsinki"), 30),
    (("FI", "Espoo"), 10),
    (("FI", "Tampere"), 8),
    (("SE", "Stockholm"), 12),
    (("EE", "Tallinn"), 6),
    (("DE", "Berlin"), 8),
    (("GB", "London"), 10),
    (("US", "New York"), 9),
    (("US", "San Francisco"), 4),
    (("NZ", "Auckland"), 3),
)


@dataclass(frozen=True)
class Spec:
    events: int
    organizations: int = 10
    days: int = 30
    start: datetime = DEFAULT_START
    seed: int = 1
    id_share: float = 0.0  # share of events carrying a client id
    visitors_per_organization: int = 20_000
    sorted_by_time: bool = True


def organization_ids(count: int, seed: int = 1) -> list[uuid.UUID]:
    """The organisations a spec with this seed generates, biggest first."""
    return [uuid.uuid5(NAMESPACE, f"organization/{seed}/{i}") for i in range(count)]


def write_events(path: Path | str, spec: Spec, file_format: FileFormat | None = None) -> int:
    """Write ``spec.events`` events to ``path`` (format from the suffix unless given)."""
    target = Path(path)
    kind = file_format or ("parquet" if target.suffix == ".parquet" else "ndjson")
    select = events_sql(spec, for_json=kind == "ndjson")
    order = ' ORDER BY "timestamp"' if spec.sorted_by_time else ""
    options = "FORMAT parquet, COMPRESSION zstd" if kind == "parquet" else "FORMAT json"
    organizations = organization_ids(spec.organizations, spec.seed)
    with duckdb.connect(config=DUCKDB_CONFIG) as db:
        db.execute("SET TimeZone = 'UTC'")
        db.execute("SET enable_progress_bar = false")
        db.execute(
            f"COPY ({select}{order}) TO $path ({options})",
            {"organizations": organizations, "path": str(target)},
        )
    return spec.events


def read_events(
    path: Path | str, batch_size: int = 1_000, default_source: str = EventSource.EXTERNAL
) -> Iterator[list[StoredEvent]]:
    """The events of an NDJSON or Parquet file as :class:`StoredEvent` batches."""
    with duckdb.connect(config=DUCKDB_CONFIG) as db:
        db.execute("SET TimeZone = 'UTC'")
        db.execute("SET enable_progress_bar = false")
        select, params = source_select(db, Path(path), default_source)
        cursor = db.execute(select, params)
        while rows := cursor.fetchmany(batch_size):
            yield [_stored(row) for row in rows]


def _stored(row: Sequence[Any]) -> StoredEvent:
    values = dict(zip(COLUMNS, row, strict=True))
    for name in ("timestamp", "received_at"):
        values[name] = values[name].replace(tzinfo=UTC)
    for name in LIST_COLUMNS:
        values[name] = tuple(values[name])
    return StoredEvent(**values)


# -- SQL ----------------------------------------------------------------------------------


def _hash(k: int) -> str:
    """64 random-looking bits for this row, independent for each ``k`` < 64.

    One integer per (row, k) goes through DuckDB's ``hash``, a well-mixed finaliser;
    hashing several arguments would combine their hashes and correlate neighbouring rows.
    """
    return f"hash(i * 64 + {k} + $seed)"


def _u(k: int) -> str:
    """A uniform number in [0, 1) for this row, independent for each ``k``."""
    return f"(({_hash(k)} >> 11)::DOUBLE / 9007199254740992.0)"


def _skewed(k: int, count: int, power: float = 2.0) -> str:
    """An integer in [0, count) where small numbers are far more likely."""
    return f"CAST(floor(pow({_u(k)}, {power}) * {count}) AS BIGINT)"


def _weighted(k: int, choices: Sequence[tuple[Any, int]], pick: int | None = None) -> str:
    """One of ``choices`` by weight; ``pick`` takes one part of tuple choices."""
    total = sum(weight for _choice, weight in choices)
    values = [choice if pick is None else choice[pick] for choice, _weight in choices]
    whens, running = [], 0
    for value, (_choice, weight) in zip(values[:-1], choices, strict=False):
        running += weight
        whens.append(f"WHEN {_u(k)} < {running / total!r} THEN '{value}'")
    return f"CASE {' '.join(whens)} ELSE '{values[-1]}' END"


def _by_device(device: str, desktop: str, mobile: str, tablet: str) -> str:
    return (
        f"CASE {device} WHEN 'desktop' THEN {desktop} WHEN 'mobile' THEN {mobile} ELSE {tablet} END"
    )


def _listed(k: int, values: Sequence[str], power: float = 1.6) -> str:
    literal = "[" + ", ".join(f"'{v}'" for v in values) + "]"
    return f"{literal}[1 + {_skewed(k, len(values), power)}]"


def _maybe(k: int, share: float, expression: str) -> str:
    return f"CASE WHEN {_u(k)} < {share!r} THEN {expression} END"


def _uuid_text(*parts: str) -> str:
    hexes = ", ".join(parts)
    return f"format('{{:08x}}-{{:04x}}-4{{:03x}}-8{{:03x}}-{{:012x}}', {hexes})"


def events_sql(spec: Spec, *, for_json: bool) -> str:
    """One SELECT producing the events of ``spec``; its one parameter is $organizations.

    Built from this module's constants and the spec's numbers (cast to int/float), so no
    outside text reaches it.
    """
    if for_json:
        iso = "'%Y-%m-%dT%H:%M:%S.%gZ'"
        timestamps = (f'strftime("timestamp", {iso})', f"strftime(received_at, {iso})")
    else:
        timestamps = ('"timestamp"::TIMESTAMPTZ', "received_at::TIMESTAMPTZ")
    outputs = {"timestamp": timestamps[0], "received_at": timestamps[1]}
    items = ", ".join(f'{outputs.get(name, _quoted(name))} AS "{name}"' for name in COLUMNS)
    inner = f"SELECT {_event_columns(spec)} FROM range({int(spec.events)}) AS rows(i)"  # noqa: S608
    select = f"SELECT {items} FROM ({inner})"  # noqa: S608
    return select.replace("$seed", str(int(spec.seed) << 40))


def _quoted(name: str) -> str:
    return f'"{name}"'


def _event_columns(spec: Spec) -> str:
    organizations = max(1, int(spec.organizations))
    days = max(1, int(spec.days))
    start = spec.start.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    visitors = max(1, int(spec.visitors_per_organization))
    org = _skewed(1, organizations, 2.5)
    day = f"CAST(floor({_u(2)} * {days}) AS BIGINT)"
    second = f"CASE WHEN {_u(3)} < 0.75 THEN 25200 + {_u(4)} * 54000 ELSE {_u(4)} * 86400 END"
    microsecond = f"to_microseconds(CAST(({second}) * 1000000 AS BIGINT))"
    visitor = _skewed(10, visitors, 2.0)
    device = _weighted(20, DEVICES)
    client_id = _uuid_text(*(f"{_hash(50 + n)} >> {bits}" for n, bits in enumerate(_UUID_SHIFTS)))
    partner = _uuid_text(f"hash({org} * 64 + 7) >> 32", "1", "2", "3", org)
    properties = ", ".join(f"'prop-' || {_skewed(k, 30)}" for k in (15, 16, 17))
    desktop_os = _weighted(36, (("Windows", 6), ("macOS", 3), ("Linux", 1)))
    mobile_os = _weighted(36, (("Android", 6), ("iOS", 4)))
    columns = {
        "organization_id": f"$organizations[1 + {org}]",
        "timestamp": f"TIMESTAMP '{start}' + to_days({day}) + {microsecond}",
        "id": _maybe(5, float(spec.id_share), f"CAST({client_id} AS UUID)"),
        "source": _weighted(6, SOURCES),
        "event_version": f"CASE WHEN {_u(7)} < 0.95 THEN 1 ELSE 2 END",
        "vendor": _weighted(8, VENDORS),
        "category": _listed(9, CATEGORIES),
        "action": _listed(11, ACTIONS),
        "label": f"'label-' || {_skewed(12, 200, 2.0)}",
        "value": f"CASE WHEN {_u(13)} < 0.2 THEN round(-ln(1 - {_u(14)}) * 40, 2) ELSE 1.0 END",
        "properties": (
            f"list_distinct(list_slice([{properties}], 1, CAST(floor({_u(18)} * 4) AS BIGINT)))"
        ),
        "partner_organization_ids": f"CASE WHEN {_u(19)} < 0.05 THEN [{partner}] ELSE [] END",
        "dim1": _maybe(21, 0.7, f"'flow-' || {_skewed(22, 10)}"),
        "dim2": _maybe(23, 0.5, f"'room-' || {_skewed(24, 50)}"),
        "dim3": _maybe(25, 0.1, f"'x-' || {_skewed(26, 1000)}"),
        "dim4": _maybe(27, 0.4, f"'step-' || {_skewed(28, 8)}"),
        "dim5": _maybe(27, 0.4, f"CAST({_skewed(28, 8)} AS VARCHAR)"),
        "visitor_id": _uuid_text(org, "0", "0", "0", visitor),
        "session_id": _uuid_text(org, day, "1", f"CAST(floor({_u(29)} * 2) AS BIGINT)", visitor),
        "user_id": _maybe(30, 0.1, f"'user-' || {_skewed(31, 500)}"),
        "browser_name": _weighted(32, BROWSERS),
        "browser_version": f"CAST(CAST(90 + floor({_u(33)} * 30) AS BIGINT) AS VARCHAR)",
        "device_screen_height": _by_device(device, "'1080'", "'844'", "'1180'"),
        "device_screen_width": _by_device(device, "'1920'", "'390'", "'820'"),
        "device_type": device,
        "geo_city": _weighted(34, PLACES, pick=1),
        "geo_country": _weighted(34, PLACES, pick=0),
        "ip_organization": f"'ISP ' || {_skewed(35, 40)}",
        "os_name": _by_device(device, desktop_os, mobile_os, "'iPadOS'"),
        "os_version": f"CAST(CAST(10 + floor({_u(37)} * 6) AS BIGINT) AS VARCHAR)",
        "organization_name": f"'Organisation ' || {org}",
        "received_at": f'"timestamp" + to_microseconds(CAST({_u(38)} * 2000000 AS BIGINT))',
    }
    return ", ".join(f'{expression} AS "{name}"' for name, expression in columns.items())


_UUID_SHIFTS: Final = (32, 48, 52, 52, 16)  # leaves 8, 4, 3, 3 and 12 hex digits
