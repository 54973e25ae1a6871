"""Log lines as JSON: whatever the extra fields hold, one line comes out."""

from __future__ import annotations

import logging
from enum import StrEnum

import orjson

from tallybook.kit.logging import JsonFormatter


class Outcome(StrEnum):
    ERROR = "error"


def test_counts_keyed_by_a_str_enum_are_one_json_line() -> None:
    """The worker's pass line counts deliveries by outcome, some keys a StrEnum."""
    record = logging.makeLogRecord(
        {"msg": "worker pass", "deliveries": {Outcome.ERROR: 1, "sent": 2}}
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert orjson.loads(line)["deliveries"] == {"error": 1, "sent": 2}
