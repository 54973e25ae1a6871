"""Worker tests share their xdist process's database with every other test, and a worker
pass takes all due work in it. Each test here starts with every earlier target scheduled
into the far future and every earlier pending notification cancelled, so a pass works on
this test's data only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from tallybook.evaluations import repository
from tallybook.evaluations.models import TargetSchedule
from tallybook.kit.db import Database
from tallybook.notifications.models import Notification

FAR = datetime(9999, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def quiet_database(database: Database) -> None:
    with database.unit_of_work() as session:
        repository.add_missing_schedules(session)
        session.execute(update(TargetSchedule).values(next_due_at=FAR, planned_at=FAR))
        session.execute(
            update(Notification).where(Notification.state == "pending").values(state="cancelled")
        )
