"""A relation's rows as file cells: what each column type becomes in a CSV or XLSX file,
and the same as SQL, so an engine can write a relation's CSV itself.

A file shows the engine's values by their column type (:data:`FILE_VALUES`): timestamps
stay instants, integers and doubles numbers, a list its JSON text (``[]`` for none),
UUIDs and text their text; ``kit.tabular`` then writes them. :func:`render_relation_csv`
renders a relation whose every output column is a cell's text as the CSV writer would
write it (formula escaping included), for an engine that writes CSV files itself
(:meth:`~tallybook.events.query.dialects.Dialect.csv_cell`); the quoting of the line is
then the engine's CSV writer's, which must be the csv module's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlglot import exp

from tallybook.events.query.columns import ColumnType
from tallybook.events.query.dialects import Dialect, DialectName
from tallybook.events.query.render import RelationPlan, Rendered, Renderer


@dataclass(frozen=True, slots=True)
class Constant:
    """A column of the file that is the same text on every row (not from the relation)."""

    text: str


CsvCell = ColumnType | Constant
"""A column of a file: the next column of the relation, of that type, or a constant."""


def _same(value: Any) -> Any:
    return value


def text_value(value: Any) -> Any:
    """A text or UUID column's value as the answer shows it (a UUID as its text)."""
    return str(value) if isinstance(value, uuid.UUID) else value


def integer_value(value: Any) -> Any:
    return None if value is None else int(value)


def number_value(value: Any) -> Any:
    return None if value is None else float(value)


def _list_text(value: Any) -> str:
    return orjson.dumps([] if value is None else [str(v) for v in value]).decode()


FILE_VALUES: Final[dict[ColumnType, Callable[[Any], Any]]] = {
    ColumnType.TIMESTAMP: _same,
    ColumnType.INT: integer_value,
    ColumnType.DOUBLE: number_value,
    ColumnType.TEXT_LIST: _list_text,
    ColumnType.TEXT: text_value,
    ColumnType.UUID: text_value,
}
"""What an engine's value of each column type becomes in a file."""


def file_rows(cells: Sequence[CsvCell], rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The relation's rows as the file's cells (``cells`` in the file's order)."""
    steps: list[tuple[int, Callable[[Any], Any]] | str] = []
    position = 0
    for cell in cells:
        if isinstance(cell, Constant):
            steps.append(cell.text)
        else:
            steps.append((position, FILE_VALUES[cell]))
            position += 1
    return [
        [step if isinstance(step, str) else step[1](row[step[0]]) for step in steps] for row in rows
    ]


def render_relation_csv(
    plan: RelationPlan, dialect: DialectName | Dialect, cells: Sequence[CsvCell]
) -> Rendered:
    """The plan's SELECT with each output column replaced by its cell's text (a constant
    bound as a parameter, in its place), ``NULL`` for an empty cell; its FROM, WHERE,
    ORDER BY and LIMIT as they are. The outer SELECT must be one row per row read (no
    DISTINCT, GROUP BY or aggregate), and its ORDER BY must name columns, not the
    output's names (which are ``_c0``, ``_c1``…)."""
    sql = Renderer(dialect)
    select = plan.select(sql)
    if select.args.get("distinct") or select.args.get("group"):
        raise ValueError("a CSV relation selects one row per row read")
    values = [item.unalias() for item in select.expressions]
    if sum(not isinstance(cell, Constant) for cell in cells) != len(values):
        raise ValueError("the cells do not match the relation's columns")
    items: list[exp.Expr] = []
    remaining = iter(values)
    for number, cell in enumerate(cells):
        if isinstance(cell, Constant):
            text = sql.dialect.csv_cell(sql.text(cell.text), ColumnType.TEXT)
        else:
            text = sql.dialect.csv_cell(next(remaining), cell)
        items.append(text.as_(f"_c{number}"))
    select.set("expressions", items)
    return Rendered(sql.dialect.sql(select), sql.params.values)
