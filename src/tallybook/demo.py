"""The demo organisation: a realistic sample to try the API on."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.auth.service import create_token
from tallybook.chats import service as chats
from tallybook.chats.schemas import ChatCreate, MessageCreate, RoomCreate
from tallybook.chats.types import SenderType
from tallybook.events.records import EventSource, StoredEvent
from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tallybook.notifications.settings import service as notifications
from tallybook.notifications.settings.schemas import BarSettingCreate
from tallybook.notifications.settings.service import TargetRef
from tallybook.organizations.models import Organization
from tallybook.organizations.service import create_organization, create_user
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
            "Make a new token with: tallybook admin create-token --user <user id>",
            err=True,
        )


def load_demo(database: Database, store: EventStore, base_url: str) -> None:
    now = datetime.now(UTC)
    with database.unit_of_work() as session:
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
        workflow_id = _workflow_and_targets(session, principal)
        finder_id = _interaction_workflow(session, principal)
        chat_id = _room_with_chats(session, principal, now)
        _cards_to_chat(session, principal, workflow_id, chat_id)
        org_id = org.id
    store.insert(list(_events(org_id, now)))
    store.insert(_funnel_events(org_id, finder_id, now))
    typer.echo(_instructions(base_url, org_id, token, workflow_id, finder_id, now))


def _instructions(
    base_url: str,
    org_id: uuid.UUID,
    token: str,
    workflow_id: uuid.UUID,
    finder_id: uuid.UUID,
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
            "Try:",
            f"  curl {auth} {api}/workflows",
            f"  curl {auth} {api}/workflows/{workflow_id}/targets",
            f"  curl {auth} -H 'Content-Type: application/json' -X POST {fetch} -d '{query}'",
            f"  curl {auth} -H 'Content-Type: application/json' -X POST {step} -d '{step_query}'",
            f"  curl {auth} -H 'Content-Type: application/json' -X POST {finder}/query/ "
            f"-d '{chart_query}'",
            "",
        ]
    )


def _workflow_and_targets(session: Session, principal: Principal) -> uuid.UUID:
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
            workflow.id,
            TargetCreate.model_validate(
                {
                    "name": name,
                    "reporting_bound": bound,
                    "reporting_threshold": threshold,
                    "reporting_query": query,
                    "reporting_field": "count",
                    "reporting_period": period,
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


def _room_with_chats(session: Session, principal: Principal, now: datetime) -> uuid.UUID:
    room = chats.create_room(
        session,
        principal,
        RoomCreate.model_validate({"name": "Webshop", "domain": "shop.example.com"}),
    )
    lines = [
        (SenderType.VISITOR, "Hi, do you ship to Finland?"),
        (SenderType.USER, "Hello! Yes, delivery takes 2-3 working days."),
        (SenderType.VISITOR, "Great, thanks."),
        (SenderType.USER, "You're welcome, have a nice day!"),
    ]
    for hours_ago in (30, 5):
        started = now - timedelta(hours=hours_ago)
        chat = chats.create_chat(
            session,
            principal,
            room.id,
            ChatCreate.model_validate(
                {"created_at": started, "ended_at": started + timedelta(minutes=10)}
            ),
        )
        for minute, (sender, text) in enumerate(lines):
            chats.create_message(
                session,
                principal,
                room.id,
                chat.id,
                MessageCreate.model_validate(
                    {
                        "created_at": started + timedelta(minutes=minute + 1),
                        "sender_type": sender,
                        "sender_name": "Anna" if sender == SenderType.USER else "Visitor",
                        "message": text,
                    }
                ),
            )
    return chat.id


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
