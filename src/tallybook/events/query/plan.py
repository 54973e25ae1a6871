"""A fetch resolved into a typed plan, and the engine's rows turned into the API's rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from tallybook.events.query.language import AGGREGATIONS, EventQuery
from tallybook.events.query.results import DataRow, FetchResult
from tallybook.events.query.zones import ZoneOffsets, local_label, utc_label, zone_offsets
from tallybook.kit.timezones import check_timezone

LOCAL_GRANULARITIES: Final = frozenset({"day", "week", "month", "year"})
INTEGER_METRICS: Final = frozenset(a for a in AGGREGATIONS if a == "count" or a.endswith("_uniq"))


@dataclass(frozen=True)
class FetchPlan:
    """Everything one fetch needs, resolved: the typed object every dialect renders."""

    organization_id: uuid.UUID
    query: EventQuery
    start: datetime
    end: datetime
    zone: ZoneInfo
    offsets: ZoneOffsets

    @classmethod
    def build(
        cls,
        organization_id: uuid.UUID,
        query: EventQuery,
        start: datetime,
        end: datetime,
        time_zone: str,
    ) -> FetchPlan:
        zone = check_timezone(time_zone)
        start, end = aware_utc(start), aware_utc(end)
        if end <= start:
            raise ValueError("the interval's end must be after its start")
        return cls(organization_id, query, start, end, zone, zone_offsets(zone, start, end))

    @property
    def granularity(self) -> str:
        return self.query.granularity

    def fields(self) -> list[dict[str, str]]:
        dims = [{"name": "timestamp", "type": "dimension"}]
        dims += [{"name": name, "type": "dimension"} for name in self.query.group_by]
        return dims + [{"name": name, "type": "metric"} for name in self.query.aggregations]

    def result(self, rows: Sequence[Sequence[Any]], *, typed: bool = False) -> FetchResult:
        """JSON-ready rows from the engine's ``(bucket?, dims..., metrics...)`` tuples.

        ``typed``: the engine already returns counts as int and the rest as float.
        """
        return FetchResult(fields=self.fields(), data=self.data(rows, typed=typed))

    def data(self, rows: Sequence[Sequence[Any]], *, typed: bool = False) -> list[DataRow]:
        """:meth:`result`'s rows alone, for any slice of the engine's rows (a stream's
        batch): each row is converted on its own."""
        if not typed:
            rows = [self._typed(row) for row in rows]
        if self.granularity == "all":
            text = utc_label(self.start.replace(tzinfo=None), self.zone)
            return [[text, *row] for row in rows]
        to_text = local_label if self.granularity in LOCAL_GRANULARITIES else utc_label
        labels = {bucket: to_text(bucket, self.zone) for bucket in {row[0] for row in rows}}
        return [[labels[row[0]], *row[1:]] for row in rows]

    def _typed(self, row: Sequence[Any]) -> tuple[Any, ...]:
        first_metric = len(row) - len(self.query.aggregations)
        metrics = (
            None if v is None else int(v) if name in INTEGER_METRICS else float(v)
            for name, v in zip(self.query.aggregations, row[first_metric:], strict=True)
        )
        return (*row[:first_metric], *metrics)


def aware_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def naive_utc(value: datetime) -> datetime:
    return aware_utc(value).replace(tzinfo=None)
