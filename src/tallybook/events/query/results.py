"""What a query answers, as the API returns it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DataRow = list[Any]
"""One JSON-ready row: the bucket's label, then the group_by values, then the metrics."""


@dataclass(frozen=True)
class FetchResult:
    fields: list[dict[str, str]]
    data: list[DataRow]
