"""Python's garbage collector, set up for a long-running server process.

A served app keeps about 200,000 objects for its whole life (modules, routes, schemas,
SQLAlchemy's and sqlglot's tables). With the collector's defaults, every full collection
walks all of them, and a request that allocates 1,000 events' dicts and lists triggers
young collections every 700 allocations and a full one every few requests: under HTTP
ingestion, 2.3 of 12 seconds went to the collector, with the GIL held
(docs/performance.md, "HTTP ingestion": the garbage collector).
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 10_000
"""Allocations of tracked objects between young collections (Python's default is 700)."""


def settle() -> None:
    """Call once a process has built what it keeps (the app, its stores), before it serves:
    what exists then is collected once and frozen out of later collections (``gc.freeze``),
    and young collections run after :data:`YOUNG_THRESHOLD` allocations instead of 700.
    Reference counting still frees everything at once; only cycles wait longer."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
