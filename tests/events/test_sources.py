"""The query language's sources spell exactly the stored enum's values, in its order."""

from __future__ import annotations

from typing import get_args

from tallybook.events.query.language import SOURCES, Source, _all_sources
from tallybook.events.records import EventSource


def test_the_query_language_names_the_stored_sources() -> None:
    assert get_args(Source) == SOURCES == tuple(EventSource)
    assert _all_sources() == list(EventSource)
