"""The one SQL expression the stores spell differently: an instant some seconds later.
Every other part of the analytics' statements is common SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class shifted(FunctionElement[Any]):
    """``shifted(instant, seconds)``: the instant that many seconds later, in the store's
    own timestamp form (so that it compares with stored timestamps, and uses their index)."""

    name = "shifted"
    inherit_cache = True

    def __init__(self, instant: Any, seconds: Any) -> None:
        super().__init__(instant, seconds)
        self.type = instant.type


@compiles(shifted, "sqlite")
def _sqlite(element: shifted, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores SQLite timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff'; strftime's %f
    # has milliseconds, so three zeros make the same form (the instants are whole seconds).
    instant, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"(strftime('%Y-%m-%d %H:%M:%f', {instant}, '+' || ({seconds}) || ' seconds') || '000')"


@compiles(shifted, "postgresql")
def _postgresql(element: shifted, compiler: SQLCompiler, **kw: Any) -> str:
    instant, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"({instant} + make_interval(secs => {seconds}))"
