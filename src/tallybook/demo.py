"""The demo organisation: a realistic sample to try the API on."""

from __future__ import annotations

import io
import random
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import typer
from PIL import Image, ImageDraw
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.auth.service import create_token
from tallybook.chats import service as chats
from tallybook.chats.schemas import ChatCreate, MessageCreate, RoomCreate
from tallybook.chats.types import SenderType
from tallybook.events.records import EventSource, StoredEvent
from tallybook.events.store import EventStore
from tallybook.files.registry import open_file_store
from tallybook.files.store import FileStore
from tallybook.kit.db import Database
from tallybook.notifications.settings import service as notifications
from tallybook.notifications.settings.schemas import BarSettingCreate
from tallybook.notifications.settings.service import TargetRef
from tallybook.organizations.models import Organization
from tallybook.organizations.service import create_organization, create_user
from tallybook.saferme.alerts import service as v4_alerts
from tallybook.saferme.alerts.schemas import AlertCreate
from tallybook.saferme.auth import TeamMember
from tallybook.saferme.channels import service as v4_channels
from tallybook.saferme.channels.schemas import ChannelCreate, ReportStateCreate
from tallybook.saferme.files import service as v4_files
from tallybook.saferme.forms import service as v4_forms
from tallybook.saferme.forms.schemas import Form, FormCreate
from tallybook.saferme.reports import service as v4_reports
from tallybook.saferme.reports.schemas import ReadCreate, ReportCreate, ReportUpdate
from tallybook.saferme.teams import team_id_of
from tallybook.targets import service as targets
from tallybook.targets.schemas import TargetCreate
from tallybook.workflows import service as workflows
from tallybook.workflows.schemas import WorkflowCreate

VENDOR = "com.example.shop"
LEADS_QUERY = {
    "granularity": "all",
    "vendor": VENDOR,
    "aggregations": ["count"],
    "filters": {"type": "selector", "dimension": "category", "value": "lead"},
}


def load_demo_if_empty(database: Database, store: EventStore, base_url: str) -> None:
    with database.unit_of_work() as session:
        empty = session.scalar(select(func.count()).select_from(Organization)) == 0
    if empty:
        load_demo(database, store, base_url)
    else:
        typer.echo(
            "The data directory already has organisations; the demo was not loaded again.\n"
            "Make a new token with: tallybook admin create-token --user <user id>\n"
            f"Web console: {base_url}/console (sign in with a token)",
            err=True,
        )


def load_demo(database: Database, store: EventStore, base_url: str) -> None:
    now = datetime.now(UTC)
    files = open_file_store(database.settings)
    with closing(files), database.unit_of_work() as session:
        org = create_organization(session, "Demo Shop", "Europe/Helsinki")
        user = create_user(
            session,
            org.id,
            "demo@example.com",
            first_name="Demo",
            last_name="User",
            permissions=["reporting", "settings"],
            is_manager=True,
        )
        token = create_token(session, user.id)
        principal = Principal(user, org)
        workflow_id = _workflow_and_targets(session, principal, store, now)
        finder_id = _interaction_workflow(session, principal)
        room = _room_with_chats(session, principal, now)
        _cards_to_chat(session, principal, workflow_id, room.newest_chat_id)
        channel_id = _saferme_channel(session, principal, files, base_url, now)
        org_id, user_id = org.id, user.id
    store.insert(list(_events(org_id, now)))
    store.insert(_funnel_events(org_id, finder_id, now))
    typer.echo(_instructions(base_url, org_id, token, workflow_id, finder_id, channel_id, now))
    typer.echo(_export_instructions(base_url, org_id, user_id, token, room.room_id, now))


def _instructions(
    base_url: str,
    org_id: uuid.UUID,
    token: str,
    workflow_id: uuid.UUID,
    finder_id: uuid.UUID,
    channel_id: int,
    now: datetime,
) -> str:
    api = f"{base_url}/api/objectives/v1/orgs/{org_id}"
    auth = f'-H "Authorization: Token {token}"'
    interval = {
        "start": f"{now - timedelta(days=14):%Y-%m-%d}T00:00:00Z",
        "end": f"{now + timedelta(days=1):%Y-%m-%d}T00:00:00Z",
    }
    step_query = orjson.dumps(
        {
            "filters": [],
            "step_data": [{}, {"actions": ["view-budget-low"]}],
            "interval": interval,
            "limit": 5,
            "basic": True,
        }
    ).decode()
    finder = f"{base_url}/api/reporting/workflow/v1/orgs/{org_id}/workflows/{finder_id}"
    step = f"{finder}/step/2"
    chart_query = orjson.dumps(
        {"filters": [], "step_data": [{}, {"actions": ["view-budget-low"]}], "interval": interval}
    ).decode()
    query = orjson.dumps(
        {
            "vendor": VENDOR,
            "granularity": "day",
            "aggregations": ["count"],
            "group_by": ["category"],
            "interval": {
                "start": f"{now - timedelta(days=7):%Y-%m-%d}T00:00:00Z",
                "end": f"{now + timedelta(days=1):%Y-%m-%d}T00:00:00Z",
            },
        }
    ).decode()
    fetch = f"{base_url}/api/events/v2/orgs/{org_id}/fetch"
    return "\n".join(
        [
            "",
            f"Demo organisation loaded: {org_id}",
            f"API token (shown only now): {token}",
            "",
            f"Web console: open {base_url}/console and sign in with the token above.",
            "",
            "Try:",
            f"  curl {auth} {api}/workflows",
            f"  curl {auth} {api}/workflows/{workflow_id}/targets",
            f"  curl {auth} -H 'Content-Type: application/json' -X POST {fetch} -d '{query}'",
            f"  curl {auth} -H 'Content-Type: application/json' -X POST {step} -d '{step_query}'",
            f"  curl {auth} -H 'Content-Type: application/json' -X POST {finder}/query/ "
            f"-d '{chart_query}'",
            f"  curl -g -H 'Authorization: Token token={token}' -H 'Range: objects=0-9' "
            f"'{base_url}/api/v4/reports/search?channel_ids[]={channel_id}'",
            f"  curl -H 'Authorization: Token token={token}' "
            f"'{base_url}/api/v4/analytics/reports_over_time?channel_id={channel_id}"
            f"&start_date={now - timedelta(days=120):%Y-%m-%d}T00:00:00Z"
            f"&end_date={now + timedelta(days=1):%Y-%m-%d}T00:00:00Z&time_zone=Pacific/Auckland'",
            "",
        ]
    )


def _export_instructions(
    base_url: str,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    token: str,
    room_id: uuid.UUID,
    now: datetime,
) -> str:
    exports = f"{base_url}/api/v5/orgs/{org_id}/users/{user_id}/reportexports"
    auth = f'-H "Authorization: Token {token}"'
    start = orjson.dumps(
        {
            "type": "logs",
            "format": "csv",
            "room_id": str(room_id),
            "starting_at": f"{now - timedelta(days=14):%Y-%m-%d}T00:00:00Z",
            "ending_at": f"{now + timedelta(days=1):%Y-%m-%d}T00:00:00Z",
        }
    ).decode()
    return "\n".join(
        [
            "Export the demo room's chats (the worker of `tallybook serve` makes the file):",
            f"  curl {auth} -H 'Content-Type: application/json' -X POST {exports} -d '{start}'",
            f"  curl {auth} {exports}/<id from the answer>    # until completed_at is set",
            "  curl -o chats.csv '<url from the answer>'      # no token: the link is signed",
            "",
        ]
    )


def _workflow_and_targets(
    session: Session, principal: Principal, store: EventStore, now: datetime
) -> uuid.UUID:
    # Active since the events' first day, so the worker's first pass evaluates the closed
    # days and weeks behind them: the console's charts and sparklines have a history.
    since = (now - timedelta(days=14)).replace(hour=0, minute=0, second=0, microsecond=0)
    workflow = workflows.create_workflow(
        session,
        principal,
        WorkflowCreate.model_validate(
            {"name": "Grow the webshop", "description": "Leads and sales of the demo shop"}
        ),
    )
    for name, bound, threshold, period in (
        ("At least 50 leads a day", "LOWER", 50, "P1D"),
        ("At least 300 leads a week", "LOWER", 300, "P1W"),
        ("Fewer than 20 failed checkouts a day", "UPPER", 20, "P1D"),
    ):
        query = dict(LEADS_QUERY)
        if bound == "UPPER":
            query["filters"] = {"type": "selector", "dimension": "action", "value": "failed"}
        targets.create_target(
            session,
            principal,
            store,
            workflow.id,
            TargetCreate.model_validate(
                {
                    "name": name,
                    "reporting_bound": bound,
                    "reporting_threshold": threshold,
                    "reporting_query": query,
                    "reporting_field": "count",
                    "reporting_period": period,
                    "target_active_from": since.isoformat(),
                }
            ),
        )
    return workflow.id


def _cards_to_chat(
    session: Session, principal: Principal, workflow_id: uuid.UUID, chat_id: uuid.UUID
) -> None:
    """Every demo target reports to the newest demo chat (BAR), so the worker's cards show
    up in the chat messages API without any outside service."""
    setting = BarSettingCreate.model_validate({"name": "Webshop chat", "channel_id": chat_id})
    for target in targets.list_targets(session, principal, workflow_id):
        notifications.create_setting(
            session, principal, TargetRef(workflow_id, target.id), setting, allow_private=False
        )


def _room_with_chats(session: Session, principal: Principal, now: datetime) -> DemoRoom:
    """A fortnight of a webshop's chats, of every shape the statistics count: real
    conversations, autosuggestions answered or not, missed chats, proactive ones. The
    newest chat is returned for the BAR cards."""
    room = chats.create_room(
        session,
        principal,
        RoomCreate.model_validate({"name": "Webshop", "domain": "shop.example.com"}),
    )
    rng = random.Random(7)
    chat = None
    for hours_ago in sorted(rng.sample(range(2, 14 * 24), DEMO_CHATS), reverse=True):
        started = now - timedelta(hours=hours_ago, minutes=rng.randrange(60))
        shape = rng.choices(list(_SHAPES), weights=[5, 2, 1, 1, 1])[0]
        lines = _SHAPES[shape]
        chat = chats.create_chat(
            session,
            principal,
            room.id,
            ChatCreate.model_validate(
                {
                    "created_at": started,
                    "ended_at": started + timedelta(minutes=len(lines) * 2 + 5),
                }
            ),
        )
        visitor = f"visitor-{rng.randrange(40)}"
        for minute, (sender, kind, text) in enumerate(lines):
            chats.create_message(
                session,
                principal,
                room.id,
                chat.id,
                MessageCreate.model_validate(
                    {
                        "created_at": started + timedelta(minutes=minute * 2),
                        "type": kind,
                        "sender_type": sender,
                        "sender_id": "anna" if sender == SenderType.USER else visitor,
                        "sender_name": "Anna" if sender == SenderType.USER else "Visitor",
                        "message": text,
                    }
                ),
            )
    assert chat is not None
    return DemoRoom(room.id, chat.id)


DEMO_CHATS = 60

_V, _U = SenderType.VISITOR, SenderType.USER
_SHAPES: dict[str, list[tuple[SenderType, str, str]]] = {
    "conversation": [
        (_V, "msg", "Hi, do you ship to Finland?"),
        (_U, "msg", "Hello! Yes, delivery takes 2-3 working days."),
        (_V, "msg", "Great, thanks."),
        (_U, "msg", "You're welcome, have a nice day!"),
    ],
    "autosuggested": [
        (_U, "autosuggest", "Need help choosing a size?"),
        (_V, "msg", "Yes, do the shoes run small?"),
        (_U, "msg", "They run true to size."),
    ],
    "unanswered suggestion": [(_U, "autosuggest", "Any questions about delivery?")],
    "missed": [(_V, "msg", "Is anyone there?"), (_V, "msg", "Hello?")],
    "proactive": [(_U, "msg", "Hi! Our summer sale ends today.")],
}


@dataclass(frozen=True)
class DemoRoom:
    room_id: uuid.UUID
    newest_chat_id: uuid.UUID


def _events(org_id: uuid.UUID, now: datetime) -> list[StoredEvent]:
    rng = random.Random(42)
    events = []
    for _ in range(6000):
        at = now - timedelta(seconds=rng.randrange(14 * 86400))
        category = rng.choices(["view", "lead", "checkout"], weights=[80, 12, 8])[0]
        action = "failed" if category == "checkout" and rng.random() < 0.2 else "created"
        events.append(
            StoredEvent(
                organization_id=org_id,
                source=EventSource.UNTRUSTED,
                timestamp=at,
                received_at=at,
                event_version=1,
                vendor=VENDOR,
                category=category,
                action=action,
                label=rng.choice(["front", "pricing", "product", "contact"]),
                value=round(rng.uniform(5, 120), 2),
                visitor_id=f"visitor-{rng.randrange(900)}",
                session_id=f"session-{rng.randrange(2500)}",
                browser_name=rng.choice(["Chrome", "Firefox", "Safari"]),
                device_type=rng.choice(["desktop", "mobile", "tablet"]),
                geo_country=rng.choice(["FI", "SE", "EE", "DE"]),
            )
        )
    return events


FINDER_STEPS = (
    ("Widget shown", ("view-start",)),
    ("Budget", ("view-budget-low", "view-budget-high")),
    ("Size", ("view-size-s", "view-size-m", "view-size-l")),
    ("Recommendation", ("view-result-a", "view-result-b")),
)
"""The demo's interaction workflow: a product finder; each step a view with its actions."""
GOALS = ("goal-purchase", "goal-newsletter")


def _interaction_workflow(session: Session, principal: Principal) -> uuid.UUID:
    workflow = workflows.create_workflow(
        session,
        principal,
        WorkflowCreate.model_validate(
            {
                "name": "Product finder",
                "description": "Interaction workflow: budget, size, recommendation",
                "type": "interaction",
            }
        ),
    )
    return workflow.id


def _funnel_events(org_id: uuid.UUID, workflow_id: uuid.UUID, now: datetime) -> list[StoredEvent]:
    """A few hundred sessions through the product finder's steps, dropping off on the way,
    and the goals some of their visitors reach afterwards (DESIGN §7's event shapes)."""
    rng = random.Random(7)
    events: list[StoredEvent] = []
    for number in range(400):
        visitor = f"visitor-{rng.randrange(300)}"
        session = f"finder-session-{number}"
        at = now - timedelta(seconds=rng.randrange(14 * 86400))
        device = rng.choice(["desktop", "mobile", "tablet"])
        base: dict[str, Any] = {
            "organization_id": org_id,
            "source": EventSource.UNTRUSTED,
            "event_version": 1,
            "vendor": "com.giosg.interaction",
            "visitor_id": visitor,
            "session_id": session,
            "browser_name": rng.choice(["Chrome", "Firefox", "Safari", "Edge"]),
            "device_type": device,
            "geo_city": rng.choice(["Helsinki", "Tampere", "Stockholm", "Tallinn"]),
            "geo_country": rng.choice(["Finland", "Sweden", "Estonia"]),
            "os_name": rng.choice(["Windows", "macOS", "Android", "iOS"]),
        }
        for index, (name, actions) in enumerate(FINDER_STEPS):
            if index and rng.random() < 0.25:
                break  # dropped off
            at += timedelta(seconds=rng.randrange(5, 90))
            events.append(
                StoredEvent(
                    **base,
                    timestamp=at,
                    received_at=at,
                    category="interaction",
                    action=rng.choice(actions),
                    label=str(workflow_id),
                    dim4=name,
                    dim5=str(index),
                )
            )
        if rng.random() < 0.35:
            at += timedelta(minutes=rng.randrange(1, 30))
            events.append(
                StoredEvent(
                    **base,
                    timestamp=at,
                    received_at=at,
                    category="goal",
                    action="reached",
                    label=rng.choice(GOALS),
                )
            )
    return events


DEMO_FORM = {
    "name": "Site hazard",
    "fields": [
        {
            "label": "Category",
            "field_type": "Category",
            "mandatory": True,
            "data": {
                "options": [
                    {"label": "Slip or trip"},
                    {"label": "Machinery"},
                    {"label": "Electrical"},
                    {"label": "Vehicle"},
                ]
            },
        },
        {
            "label": "Severity",
            "field_type": "DropDown",
            "data": {"options": [{"label": "Low"}, {"label": "Medium"}, {"label": "High"}]},
        },
        {
            "label": "Area fenced off",
            "field_type": "Radio",
            "data": {"options": [{"label": "Yes"}, {"label": "No"}]},
        },
        {
            "label": "Actions taken",
            "field_type": "CheckBox",
            "data": {
                "options": [
                    {"label": "Supervisor told"},
                    {"label": "Sign put up"},
                    {"label": "Repair booked"},
                ]
            },
        },
        {"label": "Photos", "field_type": "Image"},
        {"label": "What happened", "field_type": "ShortTextBox"},
    ],
}

V4_STATES = ("New", "Assigned", "In progress", "Resolved")
V4_REPORTERS = (("Aroha", "Ngata"), ("Ben", "Clarke"), ("Mei", "Wong"), ("Sam", "Patel"))


@dataclass(frozen=True)
class _DemoForm:
    form: Form

    def key(self, label: str) -> str:
        return next(f.key for f in self.form.fields if f.label == label)

    def options(self, label: str) -> list[str]:
        field = next(f for f in self.form.fields if f.label == label)
        return [o["value"] for o in orjson.loads(field.data)["options"]]


def _saferme_channel(
    session: Session, principal: Principal, files: FileStore, base_url: str, now: datetime
) -> int:
    """A SaferMe channel with its form and states, and a few hundred reports of the last
    four months with photos, reads and alerts (issue 11): what the v4 analytics count."""
    rng = random.Random(11)
    admin = TeamMember(principal, team_id_of(session, principal.organization_id))
    form = _DemoForm(v4_forms.create_form(session, admin, FormCreate.model_validate(DEMO_FORM)))
    channel = v4_channels.create_channel(
        session,
        admin,
        ChannelCreate.model_validate(
            {"name": "Site hazards", "description": "Hazards on our sites", "form_id": form.form.id}
        ),
    )
    states = [
        v4_channels.create_state(
            session,
            admin,
            ReportStateCreate.model_validate(
                {"account_id": channel.id, "name": name, "position": position}
            ),
        ).id
        for position, name in enumerate(V4_STATES, 1)
    ]
    team = [admin]
    for first, last in V4_REPORTERS:
        user = create_user(
            session,
            principal.organization_id,
            f"{first.lower()}@example.com",
            first_name=first,
            last_name=last,
        )
        team.append(TeamMember(Principal(user, principal.organization), admin.team_id))
    for _ in range(320):
        _demo_report(session, rng, team, form, channel.id, states, files, base_url, now)
    return channel.id


def _demo_report(
    session: Session,
    rng: random.Random,
    team: list[TeamMember],
    form: _DemoForm,
    channel_id: int,
    states: list[int],
    files: FileStore,
    base_url: str,
    now: datetime,
) -> None:
    reporter = rng.choice(team)
    # Working hours of New Zealand sites, more often on weekdays.
    day = now - timedelta(days=rng.randrange(120))
    created_at = day.replace(hour=rng.randrange(24), minute=rng.randrange(60)) - timedelta(
        hours=13 * rng.random()
    )
    created_at = min(created_at, now - timedelta(minutes=5))
    values: list[dict[str, object]] = [
        {"key": form.key("Category"), "value": rng.choice(form.options("Category"))},
        {"key": form.key("Severity"), "value": rng.choice(form.options("Severity"))},
        {"key": form.key("Area fenced off"), "value": rng.choice(form.options("Area fenced off"))},
        {
            "key": form.key("Actions taken"),
            "value": rng.sample(form.options("Actions taken"), rng.randrange(4)),
        },
        {"key": form.key("What happened"), "value": rng.choice(_DEMO_TEXTS)},
    ]
    if rng.random() < 0.12:
        photo = v4_files.upload(
            session, reporter, files, base_url, _demo_photo(rng), "site-photo.jpg"
        )
        values.append({"key": form.key("Photos"), "value": [photo.id]})
    report = v4_reports.create_report(
        session,
        reporter,
        ReportCreate.model_validate(
            {
                "account_id": channel_id,
                "geom": f"Point({174.7 + rng.random() / 10:.6f} {-41.3 + rng.random() / 10:.6f})",
                "form_fields": values,
                "created_at": created_at,
            }
        ),
    )
    age = (now - created_at).total_seconds()
    state = min(len(states) - 1, int(age / 86400 / 10))  # older reports got further
    if state:
        v4_reports.update_report(
            session,
            reporter,
            report.id,
            ReportUpdate.model_validate({"report_state_id": states[state]}),
        )
    for reader in rng.sample(team, rng.randrange(len(team) + 1)):
        for _ in range(rng.choice((1, 1, 2))):
            at = created_at + timedelta(seconds=rng.random() * min(age, 7 * 86400))
            read = ReadCreate.model_validate({"created_at": at})
            v4_reports.create_read(session, reader, report.id, read)
    for alerted in rng.sample(team, rng.randrange(3)):
        at = created_at + timedelta(seconds=rng.random() * min(age, 3600))
        v4_alerts.create_alert(
            session,
            team[0],
            AlertCreate.model_validate(
                {
                    "user_id": alerted.user_number,
                    "report_id": report.id,
                    "created_at": at,
                    "read": rng.random() < 0.6,
                }
            ),
        )


_DEMO_TEXTS = (
    "Loose railing on the stairs",
    "Oil spill near the loading bay",
    "Forklift reversing without a spotter",
    "Exposed wiring in the workshop",
    "Pallets stacked too high",
)


def _demo_photo(rng: random.Random) -> bytes:
    image = Image.new("RGB", (1024, 768), (rng.randrange(256), rng.randrange(256), 200))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(900), rng.randrange(650)
        draw.rectangle((x, y, x + 120, y + 100), fill=(255, 200, rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
