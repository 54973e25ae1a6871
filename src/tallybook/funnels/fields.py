"""The columns of workflow source data, in the seeds' order, and rows as the API shows them.

``basic: false`` answers the 30 raw event fields (seed 001's advanced example, with the
first one named ``timestamp``); ``basic: true`` the 11 human-readable columns of its basic
example. ``fields`` always describes the columns the rows have.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

from tallybook.events.query.cells import (
    Constant,
    CsvCell,
    file_rows,
    integer_value,
    number_value,
    text_value,
)
from tallybook.events.query.columns import COLUMN_TYPES
from tallybook.kit.schemas import format_timestamp

RawField = Literal[
    "timestamp",
    "source",
    "event_version",
    "organization_id",
    "organization_name",
    "category",
    "action",
    "label",
    "vendor",
    "properties",
    "dim1",
    "dim2",
    "dim3",
    "dim4",
    "dim5",
    "visitor_id",
    "session_id",
    "user_id",
    "partner_organization_ids",
    "browser_name",
    "browser_version",
    "device_screen_height",
    "device_screen_width",
    "device_type",
    "geo_city",
    "geo_country",
    "ip_organization",
    "os_name",
    "os_version",
    "value",
]
RAW_FIELDS: Final[tuple[str, ...]] = get_args(RawField)
"""Seed 001's raw fields, in its order; also the properties ``filters`` may name."""

_RAW_TYPES: Final = {"timestamp": "datetime", "event_version": "integer", "value": "number"}


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the answer: its name and type in ``fields``, the event column it
    shows (None: the workflow's id, the same on every row)."""

    name: str
    type: str
    event_column: str | None

    def field(self) -> dict[str, str]:
        described = {"name": self.name, "type": self.type}
        if self.type == "datetime":
            described["tz"] = "UTC"
        return described


RAW_COLUMNS: Final = tuple(
    Column(name, _RAW_TYPES.get(name, "string"), name) for name in RAW_FIELDS
)
BASIC_COLUMNS: Final = (
    Column("Date & Time", "datetime", "timestamp"),
    Column("View title", "string", "dim4"),
    Column("Browser", "string", "browser_name"),
    Column("Device", "string", "device_type"),
    Column("City", "string", "geo_city"),
    Column("Country", "string", "geo_country"),
    Column("ISP or organisation", "string", "ip_organization"),
    Column("OS (operating system)", "string", "os_name"),
    Column("Interaction Workflow ID", "string", None),
    Column("Workflow Session ID", "string", "session_id"),
    Column("Visitor ID", "string", "visitor_id"),
)
"""Seed 001's basic example: ``View title`` is the step name (``dim4``), ``Interaction
Workflow ID`` the workflow of the path."""


def columns_for(basic: bool) -> tuple[Column, ...]:
    return BASIC_COLUMNS if basic else RAW_COLUMNS


def event_columns(columns: Sequence[Column]) -> list[str]:
    """The event columns a query must select for ``columns``, in their order."""
    return [c.event_column for c in columns if c.event_column is not None]


def _timestamp(value: Any) -> str:
    return format_timestamp(value) if isinstance(value, datetime) else str(value)


def _list(value: Any) -> Any:
    return [] if value is None else [str(v) for v in value]


_CONVERT: Final[dict[str, Callable[[Any], Any]]] = {
    "timestamp": _timestamp,
    "event_version": integer_value,
    "value": number_value,
    "properties": _list,
    "partner_organization_ids": _list,
}


@dataclass(frozen=True)
class RowShape:
    """Turns the engine's tuples (the :func:`event_columns` of ``columns``) into the API's
    values, column by column."""

    columns: tuple[Column, ...]
    workflow_id: str

    def fields(self) -> list[dict[str, str]]:
        return [column.field() for column in self.columns]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def values(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        """Each row's values in the columns' order (JSON-ready: text, numbers, lists)."""
        return self._converted(rows, _CONVERT)

    def cells(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        """Each row's values for a file: timestamps stay instants (a date cell in XLSX, the
        API's text in CSV), lists become their JSON text (``query.cells.FILE_VALUES``)."""
        return file_rows(self.file_cells(), rows)

    def file_cells(self) -> list[CsvCell]:
        """How the file shows each column: an event column by its type, the workflow's id
        as a constant."""
        return [
            Constant(self.workflow_id)
            if column.event_column is None
            else COLUMN_TYPES[column.event_column]
            for column in self.columns
        ]

    def _converted(
        self, rows: Sequence[Sequence[Any]], table: Mapping[str, Callable[[Any], Any]]
    ) -> list[list[Any]]:
        steps: list[tuple[int, Callable[[Any], Any]] | None] = []
        position = 0
        for column in self.columns:
            if column.event_column is None:
                steps.append(None)  # the workflow's id, on every row
            else:
                steps.append((position, table.get(column.event_column, text_value)))
                position += 1
        workflow = self.workflow_id
        return [
            [workflow if step is None else step[1](row[step[0]]) for step in steps] for row in rows
        ]

    def objects(self, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """Each row as the seed shows it: an object keyed by the column names."""
        names = self.names
        return [dict(zip(names, values, strict=True)) for values in self.values(rows)]
