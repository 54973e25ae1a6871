"""The rows of the analytics answers, with the seed's field names."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from tallybook.kit.schemas import OutputModel, Timestamp
from tallybook.saferme.analytics.buckets import Width
from tallybook.saferme.files.schemas import Styles
from tallybook.saferme.schemas import NotNull


class ReadField(StrEnum):
    """The ``fields`` of ``reports_read``, the default first."""

    TOTAL_READS = "total_reads"
    UNIQUE_READS = "unique_reads"
    REPORT_READERS = "report_readers"
    REPORTS_SEEN = "reports_seen"


class AwarenessField(StrEnum):
    """The ``fields`` of ``user_awareness``, the default first."""

    TOTAL_ALERTS = "total_alerts"
    ALERT_SOURCE_REPORTS = "alert_source_reports"
    UNIQUE_ALERTS = "unique_alerts"
    ALERTS_OPENED = "alerts_opened"


class ReportImageRow(OutputModel):
    report_image_id: int
    account_id: int
    report_id: int
    created_at: Timestamp = Field(description="When the report was made.")
    styles: Styles


class OverTimeRow(OutputModel):
    account_id: int
    datetime_range_start: Timestamp = Field(
        description="Where the bucket starts, in UTC (a local boundary when time_zone is given)."
    )
    report_count: int
    datetime_range_width: Width


class FieldSelectionRow(OutputModel):
    field_id: int
    account_id: int
    name: str = Field(description="The option's label.")
    value: str = Field(description="The option's value, as reports' form_fields hold it.")
    report_count: int


class StateRow(OutputModel):
    id: int
    name: str
    account_id: int
    report_count: int


class UserRow(OutputModel):
    user_id: int
    account_id: int
    report_count: int


class DayHourRow(OutputModel):
    account_id: int
    hour: int = Field(ge=0, le=23)
    report_count: int


class WeekDayRow(OutputModel):
    account_id: int
    dow: int = Field(ge=0, le=6, description="0 is Sunday.")
    report_count: int


class ReadsSummary(OutputModel):
    """Only the fields asked for are sent."""

    total_reads: int | NotNull = Field(None, description="Reads in the range.")
    unique_reads: int | NotNull = Field(None, description="Distinct (user, report) pairs read.")
    report_readers: int | NotNull = Field(None, description="Distinct users who read.")
    reports_seen: int | NotNull = Field(None, description="Distinct reports read.")


class AwarenessRow(OutputModel):
    """Only the fields asked for are sent, with the user's id and names."""

    user_id: int
    first_name: str
    last_name: str
    total_alerts: int | NotNull = Field(None, description="Alerts the user got in the range.")
    alert_source_reports: int | NotNull = Field(None, description="Distinct reports alerted.")
    unique_alerts: int | NotNull = Field(None, description="Distinct (user, report) alerts.")
    alerts_opened: int | NotNull = Field(None, description="Of the alerts, those read.")
