"""Random v4 data made through the API, and the plain-Python reference answer of each
analytics endpoint over it.

The reference works on what the test sent (not on what the server stored), report by
report, with ``datetime.astimezone``: nothing of the server's calendar code or SQL.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from hypothesis import strategies as st
from PIL import Image

from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant, add_user
from tests.saferme.factories import V4, FormInfo, created, make_channel, make_form, make_state
from tests.saferme.factories import v4_headers as headers

ANALYTICS = f"{V4}/analytics"

FIELDS: list[dict[str, Any]] = [
    {
        "label": "Category",
        "field_type": "Category",
        "mandatory": True,
        "data": {"options": [{"label": "Hazard"}, {"label": "Incident"}, {"label": "Near miss"}]},
    },
    {
        "label": "Causes",
        "field_type": "DropDown",
        "data": {
            "multi_select": True,
            "options": [{"label": "People"}, {"label": "Plant"}, {"label": "Weather"}],
        },
    },
    {
        "label": "Resolved",
        "field_type": "Radio",
        "data": {"options": [{"label": "Yes"}, {"label": "No"}]},
    },
    {
        "label": "Checks",
        "field_type": "CheckBox",
        "data": {"options": [{"label": "Fenced"}, {"label": "Signed"}]},
    },
    {
        "label": "Kind",
        "field_type": "RadioButton",
        "data": {"options": [{"label": "Minor"}, {"label": "Major"}]},
    },
    {"label": "Photos", "field_type": "Image"},
    {"label": "Notes", "field_type": "ShortTextBox"},
]
SELECTION_FIELDS = ("Category", "Causes", "Resolved")

# DST changes of 2021: Europe 03-28 and 10-31, the US 03-14 and 11-07, New Zealand 04-04
# and 09-26, Lord Howe Island's half hour 04-04 and 10-03.
HOT_SPOTS = [
    datetime(2021, 3, 28, 1, tzinfo=UTC),
    datetime(2021, 10, 31, 1, tzinfo=UTC),
    datetime(2021, 3, 14, 7, tzinfo=UTC),
    datetime(2021, 11, 7, 6, tzinfo=UTC),
    datetime(2021, 4, 3, 14, tzinfo=UTC),
    datetime(2021, 9, 25, 14, tzinfo=UTC),
    datetime(2021, 10, 2, 15, 30, tzinfo=UTC),
]
ZONES = [
    "UTC",
    "Europe/Helsinki",
    "America/New_York",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
]


@dataclass(frozen=True)
class ReportSpec:
    at: datetime
    channel: int  # 0: the channel asked about; 1: another channel of the team
    reporter: int  # index into the users
    state: int | None  # index into the channel's states
    category: int
    causes: tuple[int, ...]
    resolved: int | None
    anonymous: bool
    images: int


@dataclass(frozen=True)
class ReadSpec:
    report: int
    reader: int
    delay: int  # seconds after the report


@dataclass(frozen=True)
class AlertSpec:
    report: int
    user: int
    delay: int
    read: bool


@dataclass(frozen=True)
class Scenario:
    users: int
    reports: list[ReportSpec]
    reads: list[ReadSpec]
    alerts: list[AlertSpec]
    start: datetime
    end: datetime
    zone: str


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    spot = draw(st.sampled_from(HOT_SPOTS))
    return spot + timedelta(seconds=draw(st.integers(-4 * 86400, 4 * 86400)))


@st.composite
def scenarios(draw: st.DrawFn, *, images: bool = False, max_reports: int = 12) -> Scenario:
    users = draw(st.integers(1, 3))
    count = draw(st.integers(0, max_reports))
    near = draw(instants())
    spread = draw(st.sampled_from([3600, 86400, 8 * 86400, 40 * 86400]))
    reports = [
        ReportSpec(
            at=near + timedelta(seconds=draw(st.integers(-spread, spread))),
            channel=draw(st.sampled_from([0, 0, 0, 1])),
            reporter=draw(st.integers(0, users - 1)),
            state=draw(st.one_of(st.none(), st.integers(0, 2))),
            category=draw(st.integers(0, 2)),
            causes=tuple(draw(st.lists(st.integers(0, 2), unique=True, max_size=3))),
            resolved=draw(st.one_of(st.none(), st.integers(0, 1))),
            anonymous=draw(st.booleans()),
            images=draw(st.sampled_from([0, 0, 0, 1, 2])) if images else 0,
        )
        for _ in range(count)
    ]
    follow_ups = st.integers(0, max(0, count - 1))
    reads = [
        ReadSpec(draw(follow_ups), draw(st.integers(0, users - 1)), draw(st.integers(0, 3 * 86400)))
        for _ in range(draw(st.integers(0, 2 * count)))
    ]
    alerts = [
        AlertSpec(
            draw(follow_ups),
            draw(st.integers(0, users - 1)),
            draw(st.integers(0, 3600)),
            draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 2 * count)))
    ]
    moments = [r.at for r in reports]
    moments += [reports[r.report].at + timedelta(seconds=r.delay) for r in reads]
    edge = st.one_of(
        st.sampled_from(moments) if moments else instants(),
        instants(),
        st.just(near - timedelta(seconds=spread)),
    )
    first, second = draw(edge), draw(edge)
    if first == second:
        second = first + timedelta(seconds=draw(st.integers(1, 10 * 86400)))
    return Scenario(
        users=users,
        reports=reports,
        reads=reads,
        alerts=alerts,
        start=min(first, second),
        end=max(first, second),
        zone=draw(st.sampled_from(ZONES)),
    )


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{instant.microsecond // 1000:03d}Z"
    )


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), "blue").save(out, "PNG")
    return out.getvalue()


@dataclass
class Made:
    """What the API made for a scenario, with the ids the reference needs."""

    scenario: Scenario
    owner: Tenant
    users: list[Tenant]
    form: FormInfo
    channels: list[int]
    states: list[list[dict[str, Any]]]
    report_ids: list[int] = field(default_factory=list)
    attachments: list[list[int]] = field(default_factory=list)

    @property
    def channel_id(self) -> int:
        return self.channels[0]

    def query(self, **more: Any) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "start_date": iso(self.scenario.start),
            "end_date": iso(self.scenario.end),
            **more,
        }

    def get(self, client: TestClient, name: str, **more: Any) -> Any:
        response = client.get(
            f"{ANALYTICS}/{name}", params=self.query(**more), headers=headers(self.owner)
        )
        assert response.status_code == 200, response.text
        return response.json()


def make(client: TestClient, database: Database, owner: Tenant, scenario: Scenario) -> Made:
    users = [owner] + [add_user(database, owner) for _ in range(scenario.users - 1)]
    form = make_form(client, owner, FIELDS)
    channels = [make_channel(client, owner, form.id, name)["id"] for name in ("Asked", "Other")]
    states = [
        [make_state(client, owner, channel, name, i) for i, name in enumerate(("A", "B", "C"))]
        for channel in channels
    ]
    made = Made(scenario, owner, users, form, channels, states)
    for spec in scenario.reports:
        _report(client, made, spec)
    for read in scenario.reads:
        at = scenario.reports[read.report].at + timedelta(seconds=read.delay)
        body = {"report_read": {"created_at": iso(at)}}
        url = f"{V4}/reports/{made.report_ids[read.report]}/reads"
        created(client.post(url, json=body, headers=headers(users[read.reader])))
    for alert in scenario.alerts:
        at = scenario.reports[alert.report].at + timedelta(seconds=alert.delay)
        notification: dict[str, Any] = {
            "notification": {
                "user_id": users[alert.user].user_number,
                "report_id": made.report_ids[alert.report],
                "created_at": iso(at),
                "read": alert.read,
            }
        }
        created(client.post(f"{V4}/notifications", json=notification, headers=headers(owner)))
    return made


def _report(client: TestClient, made: Made, spec: ReportSpec) -> None:
    form = made.form
    values: list[dict[str, Any]] = [
        {"key": form.key("Category"), "value": form.options("Category")[spec.category]},
        {"key": form.key("Causes"), "value": [form.options("Causes")[i] for i in spec.causes]},
    ]
    if spec.resolved is not None:
        values.append(
            {"key": form.key("Resolved"), "value": form.options("Resolved")[spec.resolved]}
        )
    attachments = []
    for _ in range(spec.images):
        response = client.post(
            f"{V4}/file_attachments",
            headers=headers(made.users[spec.reporter]),
            files={"file": ("a.png", _png(), "image/png")},
        )
        attachments.append(int(created(response)["id"]))
    if attachments:
        values.append({"key": form.key("Photos"), "value": attachments})
    report: dict[str, Any] = {
        "account_id": made.channels[spec.channel],
        "created_at": iso(spec.at),
        "is_anonymous": spec.anonymous,
        "form_fields": values,
    }
    if spec.state is not None:
        report["report_state_id"] = made.states[spec.channel][spec.state]["id"]
    response = client.post(
        f"{V4}/reports", json={"report": report}, headers=headers(made.users[spec.reporter])
    )
    made.report_ids.append(int(created(response)["id"]))
    made.attachments.append(attachments)


# --- the reference ---------------------------------------------------------------------


def _counted(made: Made) -> list[tuple[int, ReportSpec]]:
    """(index, report) of the reports of the asked channel made in [start, end)."""
    s = made.scenario
    return [(i, r) for i, r in enumerate(s.reports) if r.channel == 0 and s.start <= r.at < s.end]


def _state_of(made: Made, spec: ReportSpec) -> int:
    """A report without a state gets its channel's first by position (``A``)."""
    states = made.states[spec.channel]
    return int(states[spec.state if spec.state is not None else 0]["id"])


def reference_per_state(made: Made) -> list[dict[str, Any]]:
    counts = Counter(_state_of(made, r) for _, r in _counted(made))
    return [
        {
            "id": s["id"],
            "name": s["name"],
            "account_id": made.channel_id,
            "report_count": counts[s["id"]],
        }
        for s in made.states[0]
    ]


def reference_per_user(made: Made) -> list[dict[str, Any]]:
    counts = Counter(
        made.users[r.reporter].user_number for _, r in _counted(made) if not r.anonymous
    )
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [
        {"user_id": user, "account_id": made.channel_id, "report_count": n} for user, n in ordered
    ]


def reference_per_field_selection(made: Made, label: str) -> list[dict[str, Any]]:
    form = made.form
    chosen: Counter[int] = Counter()
    for _, r in _counted(made):
        picked = {
            "Category": [r.category],
            "Causes": list(r.causes),
            "Resolved": [] if r.resolved is None else [r.resolved],
        }[label]
        chosen.update(picked)
    labels = {
        "Category": ["Hazard", "Incident", "Near miss"],
        "Causes": ["People", "Plant", "Weather"],
        "Resolved": ["Yes", "No"],
    }[label]
    return [
        {
            "field_id": form.fields[label]["id"],
            "account_id": made.channel_id,
            "name": name,
            "value": value,
            "report_count": chosen[i],
        }
        for i, (name, value) in enumerate(zip(labels, form.options(label), strict=True))
    ]


def reference_day_hour(made: Made, zone: str) -> list[dict[str, Any]]:
    tz = ZoneInfo(zone)
    counts = Counter(r.at.astimezone(tz).hour for _, r in _counted(made))
    return [
        {"account_id": made.channel_id, "hour": h, "report_count": counts[h]} for h in range(24)
    ]


def reference_week_day(made: Made, zone: str) -> list[dict[str, Any]]:
    tz = ZoneInfo(zone)
    counts = Counter(r.at.astimezone(tz).isoweekday() % 7 for _, r in _counted(made))
    return [{"account_id": made.channel_id, "dow": d, "report_count": counts[d]} for d in range(7)]


def bucket_start(instant: datetime, width: str, zone: ZoneInfo) -> datetime:
    """The start of the local wall-clock period holding ``instant``, as an instant: the
    same local hour (the first or the repeated one), or the first moment of the local day,
    week (Monday) or month."""
    local = instant.astimezone(zone)
    if width == "hour":
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    if width == "week":
        day -= timedelta(days=day.weekday())
    elif width == "month":
        day = day.replace(day=1)
    day = day.replace(tzinfo=None)
    return first_moment(day, zone)


def first_moment(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant whose local time is at or after the naive ``wall`` time."""
    candidate = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    back = candidate.astimezone(zone).replace(tzinfo=None)
    if back != wall:  # wall is skipped: clocks jumped over it at ``candidate``
        step = timedelta(minutes=1)
        while (candidate - step).astimezone(zone).replace(tzinfo=None) >= wall:
            candidate -= step
    return candidate


def chosen_width(start: datetime, end: datetime) -> str:
    length = end - start
    if length <= timedelta(days=2):
        return "hour"
    if length <= timedelta(days=31):
        return "day"
    if length <= timedelta(days=366):
        return "week"
    return "month"


def reference_over_time(made: Made, width: str, zone: str) -> Counter[datetime]:
    """Reports per bucket start (only the buckets that hold a report)."""
    tz = ZoneInfo(zone)
    return Counter(bucket_start(r.at, width, tz) for _, r in _counted(made))


def reference_reads(made: Made) -> dict[str, int]:
    s = made.scenario
    reads = [
        (r.reader, r.report)
        for r in s.reads
        if s.reports[r.report].channel == 0
        and s.start <= s.reports[r.report].at + timedelta(seconds=r.delay) < s.end
    ]
    return {
        "total_reads": len(reads),
        "unique_reads": len(set(reads)),
        "report_readers": len({reader for reader, _ in reads}),
        "reports_seen": len({report for _, report in reads}),
    }


def reference_awareness(made: Made) -> list[dict[str, Any]]:
    s = made.scenario
    alerts = [
        a
        for a in s.alerts
        if s.reports[a.report].channel == 0
        and s.start <= s.reports[a.report].at + timedelta(seconds=a.delay) < s.end
    ]
    rows = []
    for user in sorted({a.user for a in alerts}):
        mine = [a for a in alerts if a.user == user]
        tenant = made.users[user]
        rows.append(
            {
                "user_id": tenant.user_number,
                "first_name": "Test" if user == 0 else "",
                "last_name": "User" if user == 0 else "",
                "total_alerts": len(mine),
                "alert_source_reports": len({a.report for a in mine}),
                "unique_alerts": len({(a.user, a.report) for a in mine}),
                "alerts_opened": sum(a.read for a in mine),
            }
        )
    return sorted(rows, key=lambda row: (-row["total_alerts"], row["user_id"]))


def reference_images(made: Made, base_url: str) -> list[tuple[str, int, str, str]]:
    """(created_at, report id, thumb URL, medium URL) of each image, newest first (the
    order of images of one report is not the reference's to know: ties sorted)."""
    rows = []
    for i, r in _counted(made):
        for attachment in made.attachments[i]:
            url = f"{base_url}{V4}/file_attachments/{attachment}"
            rows.append((iso(r.at), made.report_ids[i], f"{url}/thumb", f"{url}/medium"))
    return sorted(rows, key=lambda row: (row[0], row[1], row[2]), reverse=True)


def image_rows(answer: Sequence[dict[str, Any]]) -> list[tuple[str, int, str, str]]:
    rows = [
        (a["created_at"], a["report_id"], a["styles"]["thumb"], a["styles"]["medium"])
        for a in answer
    ]
    return sorted(rows, key=lambda row: (row[0], row[1], row[2]), reverse=True)
