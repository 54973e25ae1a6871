"""A BAR card goes to the chat of its own organisation when another organisation has a
chat with the same id (chat ids are per organisation)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tests.chats.factories import ChatApi
from tests.fixtures.tenants import Tenant
from tests.notifications.factories import create
from tests.worker.factories import World, add_events, at, chat_cards, make_worker, new_target, world

HEL = "Europe/Helsinki"
ACTIVE_FROM = "2027-03-28T00:00:00+02:00"


def test_bar_cards_go_to_the_chat_of_their_own_organisation(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    new_tenant: Callable[..., Tenant],
) -> None:
    first, second = new_tenant(timezone=HEL), new_tenant(timezone=HEL)
    mine = world(client, database, new_target(client, first, target_active_from=ACTIVE_FROM))
    # The second organisation's chat takes the first one's id, and its BAR setting names it.
    chats = ChatApi(client, second)
    room_id = str(chats.room()["id"])
    chats.chat(room_id, id=mine.chat_id)
    target = new_target(client, second, target_active_from=ACTIVE_FROM)
    create(client, target, "bar", {"channel_id": mine.chat_id, "name": "room"})
    theirs = World(target, room_id, mine.chat_id)
    add_events(event_store, first.org_id, at(HEL, 2027, 3, 28, 9))
    add_events(event_store, second.org_id, at(HEL, 2027, 3, 28, 9), at(HEL, 2027, 3, 28, 10))

    report = make_worker(database, event_store).run_pass(at(HEL, 2027, 3, 29, 0, 5))

    assert report.deliveries == {"sent": 2}
    (my_card,) = chat_cards(client, mine)
    (their_card,) = chat_cards(client, theirs)
    assert my_card["attachments"]["reporting_card"]["lines"][0]["value"] == 1.0
    assert their_card["attachments"]["reporting_card"]["lines"][0]["value"] == 2.0
