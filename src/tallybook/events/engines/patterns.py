"""Regex patterns are RE2 in every engine (DESIGN §4): one an engine's own regex flavour
would take, such as a look-around in PostgreSQL's, is refused the same way everywhere."""

from __future__ import annotations

import threading
from typing import Final

import duckdb

from tallybook.kit.errors import invalid

_RE2: Final = duckdb.connect(":memory:", config={"autoload_known_extensions": False})
"""RE2 as DuckDB binds it (DuckDB is always installed: it is the embedded engine)."""
_LOCK: Final = threading.Lock()


def check_re2(pattern: str) -> None:
    """400 naming ``filters`` when RE2 cannot compile ``pattern``."""
    with _LOCK:
        try:
            _RE2.execute("SELECT regexp_matches('', $pattern)", {"pattern": pattern}).fetchall()
        except duckdb.Error:
            raise invalid(
                ["filters"],
                "A regex pattern uses a feature the event store does not support "
                "(RE2 syntax: no look-around or back-references).",
            ) from None
