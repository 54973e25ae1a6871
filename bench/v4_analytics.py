"""Benchmark the v4 analytics on a large channel, and report creation through the API.

Makes one SaferMe channel (form, states and users through the API) and bulk-loads
``--reports`` reports into it over ``--years`` years ending at ``--end``, with their option
selections, images, reads and alerts at the ratios below (plain SQL inserts: executemany
on SQLite, COPY on PostgreSQL). Then times each of the nine analytics endpoints over the
last ``--query-days`` days through the ASGI app (every middleware, token auth; FastAPI's
TestClient), ``--repeat`` times after two warm-up calls, and prints p50 and p95. Last it
times ``--api-reports`` report creations (``POST /api/v4/reports`` with form fields) into
another channel, sent to ``--api-servers`` real ``tallybook serve`` processes on the same
store by ``--api-concurrency`` client threads (keep-alive connections), and
prints the servers' and the client's CPU per report. ``--reports 0`` times creation alone.

The data, per report: a Category, a DropDown and a Radio option and 0–3 CheckBox options;
a state (older reports further along); 2 % anonymous; an image on 12 %; reads by 0–5
users of the team (2.3 on average, a fifth of them a second read by the same user) within
hours; alerts to 0–3 users (1.1 on average) within minutes, 60 % of them read. Reporters
are skewed (a few users report most); weekdays and working hours are busier.

    .venv/bin/python bench/v4_analytics.py --reports 1000000 --start-postgres

With ``--keep DIR`` the SQLite file, the PostgreSQL database (and, with
``--start-postgres``, the server's files) and what the API made are kept in DIR, and a later
run with the same DIR and data options (``--reports``, ``--years``, ``--end``,
``--users``, ``--seed``) migrates them to the current schema and times them again
without loading: to try a change of a query or an index on a million reports. Each run
still adds a channel for its report creations.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import Engine, bindparam, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import KeepAlive, cpu_seconds, http_request, machine, peak_rss_mb  # noqa: E402
from tests.fixtures.postgres import create_database, postgres_server  # noqa: E402
from tests.fixtures.tenants import Tenant, add_user, make_tenant  # noqa: E402

from tallybook.app import create_app  # noqa: E402
from tallybook.events.store import open_event_store  # noqa: E402
from tallybook.kit.db import Database, UTCDateTime  # noqa: E402
from tallybook.kit.migrate import upgrade  # noqa: E402
from tallybook.settings import Settings  # noqa: E402

V4 = "/api/v4"
STATES = ("New", "Assigned", "In progress", "Resolved")
FORM: dict[str, Any] = {
    "name": "Site hazard",
    "fields": [
        {
            "label": "Category",
            "field_type": "Category",
            "mandatory": True,
            "data": {
                "options": [{"label": x} for x in ("Slip", "Machinery", "Electrical", "Vehicle")]
            },
        },
        {
            "label": "Severity",
            "field_type": "DropDown",
            "data": {"options": [{"label": x} for x in ("Low", "Medium", "High")]},
        },
        {
            "label": "Fenced off",
            "field_type": "Radio",
            "data": {"options": [{"label": "Yes"}, {"label": "No"}]},
        },
        {
            "label": "Actions",
            "field_type": "CheckBox",
            "data": {"options": [{"label": x} for x in ("Told", "Signed", "Booked")]},
        },
        {"label": "Photos", "field_type": "Image"},
    ],
}
BATCH = 20_000
SECRET = "bench-secret-key-not-for-production"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--reports", type=int, default=1_000_000, help="reports in the channel")
    parser.add_argument("--years", type=float, default=2.0, help="years the reports span")
    parser.add_argument(
        "--end", default="2026-12-01T00:00:00+00:00", help="the instant the data ends at"
    )
    parser.add_argument("--users", type=int, default=200, help="users of the team")
    parser.add_argument("--query-days", type=int, default=365, help="days each query covers")
    parser.add_argument("--time-zone", default="Pacific/Auckland", help="time_zone of queries")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per endpoint")
    parser.add_argument("--api-reports", type=int, default=20_000, help="reports made by POST")
    parser.add_argument("--api-concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--api-servers", type=int, default=1, help="server processes for POST")
    parser.add_argument("--port", type=int, default=8766, help="first port of the servers")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--postgres-url", help="use this PostgreSQL server (a new database)")
    parser.add_argument("--start-postgres", action="store_true", help="start a throwaway one")
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the loaded stores in DIR (and --start-postgres's server files); a later "
        "run with the same DIR and data options times them again without loading",
    )
    return parser.parse_args()


@dataclass
class World:
    """What the API made: the team, its users and the channel's form, states and options."""

    client: TestClient
    owner: Tenant
    users: list[int]
    organization_id: uuid.UUID
    channel_id: int
    form: dict[str, Any]
    states: list[int]
    options: dict[str, list[int]] = field(default_factory=dict)
    values: dict[str, list[str]] = field(default_factory=dict)
    fields: dict[str, int] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token token={self.owner.token}"}


WORLD_FILE = "world.json"


def _data_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options that decide the loaded data: a kept store is reused only for the same."""
    return {
        "reports": args.reports,
        "years": args.years,
        "end": args.end,
        "users": args.users,
        "seed": args.seed,
    }


def save_world(world: World, path: Path, args: argparse.Namespace) -> None:
    owner = world.owner
    kept = {
        "options": _data_options(args),
        "owner": [str(owner.org_id), str(owner.user_id), owner.user_number, owner.token],
        "users": world.users,
        "channel_id": world.channel_id,
        "form": world.form,
        "states": world.states,
        "option_ids": world.options,
        "values": world.values,
        "fields": world.fields,
        "keys": world.keys,
    }
    path.write_bytes(orjson.dumps(kept))


def load_world(client: TestClient, path: Path, args: argparse.Namespace) -> World | None:
    """The world a previous run made and loaded in this store, if it did."""
    if not path.exists():
        return None
    kept = orjson.loads(path.read_bytes())
    if kept["options"] != _data_options(args):
        raise SystemExit(
            f"{path.parent} holds data made with {kept['options']}: use another --keep DIR"
        )
    org_id, user_id, user_number, token = kept["owner"]
    owner = Tenant(uuid.UUID(org_id), uuid.UUID(user_id), user_number, token)
    return World(
        client,
        owner,
        kept["users"],
        owner.org_id,
        kept["channel_id"],
        kept["form"],
        kept["states"],
        kept["option_ids"],
        kept["values"],
        kept["fields"],
        kept["keys"],
    )


def _post(client: TestClient, tenant: Tenant, path: str, body: dict[str, Any]) -> Any:
    response = client.post(
        f"{V4}/{path}", json=body, headers={"Authorization": f"Token token={tenant.token}"}
    )
    assert response.status_code == 201, response.text
    return response.json()


def make_world(client: TestClient, database: Database, users: int) -> World:
    owner = make_tenant(database)
    team = [owner.user_number] + [
        add_user(database, owner).user_number for _ in range(max(0, users - 1))
    ]
    form = _post(client, owner, "forms", {"form": FORM})
    channel = _post(
        client, owner, "channels", {"channel": {"name": "Sites", "form_id": form["id"]}}
    )
    states = [
        _post(
            client,
            owner,
            "report_states",
            {"report_state": {"account_id": channel["id"], "name": name, "position": i}},
        )["id"]
        for i, name in enumerate(STATES)
    ]
    world = World(client, owner, team, owner.org_id, channel["id"], form, states)
    with database.engine.connect() as connection:
        options = {
            str(value): int(option_id)
            for value, option_id in connection.execute(
                text("SELECT value, id FROM v4_field_options")
            )
        }
    for f in form["fields"]:
        world.fields[f["label"]] = f["id"]
        world.keys[f["label"]] = f["key"]
        values = [o["value"] for o in orjson.loads(f["data"])["options"]] if f["data"] else []
        world.values[f["label"]] = values
        world.options[f["label"]] = [options[v] for v in values]
    return world


# --- generating the rows -------------------------------------------------------------------


@dataclass
class Rows:
    """Rows of each table, as tuples in the column order of :data:`COLUMNS`."""

    reports: list[tuple[Any, ...]] = field(default_factory=list)
    selections: list[tuple[Any, ...]] = field(default_factory=list)
    attachments: list[tuple[Any, ...]] = field(default_factory=list)
    images: list[tuple[Any, ...]] = field(default_factory=list)
    reads: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)

    def size(self) -> int:
        return sum(len(rows) for rows in self.__dict__.values())


COLUMNS: dict[str, tuple[str, Sequence[str]]] = {
    "reports": (
        "v4_reports",
        (
            "id",
            "uuid",
            "organization_id",
            "channel_id",
            "report_state_id",
            "user_number",
            "latitude",
            "longitude",
            "is_anonymous",
            "form_values",
            "created_at",
            "updated_at",
        ),
    ),
    "selections": (
        "v4_report_selections",
        ("report_id", "option_id", "field_id", "channel_id", "created_at"),
    ),
    "attachments": (
        "v4_file_attachments",
        (
            "id",
            "organization_id",
            "user_number",
            "filename",
            "content_type",
            "extension",
            "rendition_type",
            "rendition_extension",
            "byte_size",
            "width",
            "height",
            "created_at",
        ),
    ),
    "images": (
        "v4_report_images",
        (
            "id",
            "organization_id",
            "report_id",
            "field_id",
            "attachment_id",
            "channel_id",
            "created_at",
        ),
    ),
    "reads": (
        "v4_report_reads",
        (
            "id",
            "organization_id",
            "report_id",
            "user_number",
            "channel_id",
            "created_at",
            "previous_pair_read_at",
            "previous_report_read_at",
        ),
    ),
    "alerts": (
        "v4_alerts",
        (
            "id",
            "organization_id",
            "report_id",
            "user_number",
            "channel_id",
            "read",
            "read_at",
            "archived",
            "created_at",
            "updated_at",
            "previous_pair_alert_at",
        ),
    ),
}
TRIGGERS = {
    "v4_report_reads": ("v4_report_reads_previous",),
    "v4_alerts": ("v4_alerts_previous", "v4_alerts_previous_deleted"),
}
"""The triggers that keep reads' and alerts' previous ones (migration 0006): off while
the rows, which come with theirs, are loaded."""

PHOTO = ("image/jpeg", "jpg", "image/jpeg", "jpg", 250_000, 1600, 1200)
"""An attachment's content type, extension, rendition type and extension, size and pixels."""
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 9, 8, 9, 10, 10, 9, 7, 4, 3, 2, 2, 1, 1]
READS = (0, 1, 1, 2, 2, 2, 3, 3, 4, 5)  # 2.3 on average
ALERTS = (0, 0, 1, 1, 1, 2, 3)  # 1.14 on average


class Generator:
    """The reports of the channel, oldest first (ids grow with time, as they would)."""

    def __init__(self, world: World, args: argparse.Namespace) -> None:
        self.world = world
        self.rng = random.Random(args.seed)
        self.end = datetime.fromisoformat(args.end)
        self.start = self.end - timedelta(days=365 * args.years)
        self.total = args.reports
        # A few users report most (Zipf-like weights).
        self.reporter_weights = [1 / (i + 1) for i in range(len(world.users))]
        self.next_id = {"attachments": 1, "images": 1, "reads": 1, "alerts": 1}

    def instants(self) -> list[datetime]:
        rng, days = self.rng, (self.end - self.start).days
        weekdays = [d for d in range(days) if (self.start + timedelta(d)).weekday() < 5]
        weekend = [d for d in range(days) if (self.start + timedelta(d)).weekday() >= 5]
        out = []
        for _ in range(self.total):
            day = rng.choice(weekdays) if rng.random() < 0.85 else rng.choice(weekend)
            hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
            out.append(self.start + timedelta(days=day, hours=hour, seconds=rng.random() * 3600))
        out.sort()
        return out

    def batches(self) -> Iterator[Rows]:
        rows = Rows()
        for report_id, created in enumerate(self.instants(), 1):
            self.report(rows, report_id, created)
            if len(rows.reports) >= BATCH:
                yield rows
                rows = Rows()
        yield rows

    def report(self, rows: Rows, report_id: int, created: datetime) -> None:
        w, rng = self.world, self.rng
        org, channel = w.organization_id, w.channel_id
        reporter = rng.choices(w.users, self.reporter_weights)[0]
        age_days = (self.end - created).total_seconds() / 86400
        state = w.states[min(len(w.states) - 1, int(age_days / 10))]
        picks = {
            label: [rng.randrange(len(w.options[label]))]
            for label in ("Category", "Severity", "Fenced off")
        }
        picks["Actions"] = rng.sample(range(3), rng.choice((0, 0, 1, 1, 2, 3)))
        form_values: dict[str, Any] = {
            w.keys[label]: (
                w.values[label][i[0]] if label != "Actions" else [w.values[label][x] for x in i]
            )
            for label, i in picks.items()
        }
        for label, chosen in picks.items():
            for index in chosen:
                option = w.options[label][index]
                rows.selections.append((report_id, option, w.fields[label], channel, created))
        if rng.random() < 0.12:
            attachment_ids = []
            for _ in range(rng.choice((1, 1, 1, 2))):
                attachment = self._next("attachments")
                attachment_ids.append(attachment)
                rows.attachments.append((attachment, org, reporter, "site.jpg", *PHOTO, created))
                image = self._next("images")
                rows.images.append(
                    (image, org, report_id, w.fields["Photos"], attachment, channel, created)
                )
            form_values[w.keys["Photos"]] = attachment_ids
        report_uuid = uuid.UUID(int=rng.getrandbits(128), version=4)
        place = (-41.3 + rng.random() / 10, 174.7 + rng.random() / 10)
        anonymous = rng.random() < 0.02
        values = orjson.dumps(form_values).decode()
        rows.reports.append(
            (
                report_id,
                report_uuid,
                org,
                channel,
                state,
                reporter,
                *place,
                anonymous,
                values,
                created,
                created,
            )
        )
        self._reads(rows, report_id, created)
        self._alerts(rows, report_id, created)

    def _reads(self, rows: Rows, report_id: int, created: datetime) -> None:
        """The report's reads in time order (ids too), each with its previous read of the
        same pair and of the report, as the triggers of migration 0006 would set them."""
        rng, w = self.rng, self.world
        reads = sorted(
            (min(created + timedelta(hours=rng.expovariate(1 / 6)), self.end), reader)
            for reader in rng.sample(w.users, rng.choice(READS))
            for _ in range(2 if rng.random() < 0.2 else 1)
        )
        last_of: dict[int, datetime] = {}
        previous: datetime | None = None
        for at, reader in reads:
            read = self._next("reads")
            row = (read, w.organization_id, report_id, reader, w.channel_id, at)
            rows.reads.append((*row, last_of.get(reader), previous))
            last_of[reader], previous = at, at

    def _alerts(self, rows: Rows, report_id: int, created: datetime) -> None:
        """Alerts to distinct users (none alerted twice about a report: no previous)."""
        rng, w = self.rng, self.world
        for user in rng.sample(w.users, rng.choice(ALERTS)):
            at = min(created + timedelta(minutes=rng.expovariate(1 / 5)), self.end)
            read = rng.random() < 0.6
            read_at = min(at + timedelta(hours=rng.expovariate(1)), self.end) if read else None
            alert = self._next("alerts")
            row = (alert, w.organization_id, report_id, user, w.channel_id, read, read_at)
            rows.alerts.append((*row, False, at, read_at or at, None))

    def _next(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value


# --- loading -------------------------------------------------------------------------------


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it in SQLite: naive UTC text, UUIDs as hex, booleans as 0/1."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, bool):
        return int(value)
    return value


def load_sqlite(engine: Engine, batches: Iterator[Rows]) -> int:
    raw = engine.raw_connection()
    loaded = 0
    try:
        cursor: sqlite3.Cursor = raw.cursor()  # type: ignore[assignment]
        names = [name for table in TRIGGERS.values() for name in table]
        marks = ", ".join("?" for _ in names)
        kept = cursor.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})",
            names,
        ).fetchall()
        assert len(kept) == len(names), kept
        for name, _sql in kept:
            cursor.execute(f"DROP TRIGGER {name}")
        for rows in batches:
            for field_name, (table, columns) in COLUMNS.items():
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                    [tuple(_sqlite_value(v) for v in row) for row in getattr(rows, field_name)],
                )
            loaded += rows.size()
            raw.commit()
        for _name, sql in kept:
            cursor.execute(sql)
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return loaded


def load_postgres(engine: Engine, batches: Iterator[Rows]) -> int:
    raw = engine.raw_connection()
    loaded = 0
    try:
        cursor: Any = raw.cursor()
        for table, names in TRIGGERS.items():
            for name in names:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
        for rows in batches:
            for field_name, (table, columns) in COLUMNS.items():
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in getattr(rows, field_name):
                        copy.write_row(row)
            loaded += rows.size()
            raw.commit()
        for table, names in TRIGGERS.items():
            for name in names:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
        for table, _columns in COLUMNS.values():
            if table != "v4_report_selections":
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        raw.commit()
        if loaded:
            # Not on empty tables: a new installation's are never analysed, and PostgreSQL
            # plans those as if they were not tiny. Analysed empty, a foreign-key check's
            # plan kept scanning the whole reports table as it grew (docs/performance.md).
            raw.dbapi_connection.autocommit = True  # type: ignore[union-attr]
            try:
                cursor.execute("VACUUM ANALYZE")
            finally:
                # back to the pool as it came: in autocommit, the analytics' SET LOCAL on
                # this connection would be outside a transaction, and do nothing
                raw.dbapi_connection.autocommit = False  # type: ignore[union-attr]
    finally:
        raw.close()
    return loaded


# --- timing --------------------------------------------------------------------------------


def queries(world: World, args: argparse.Namespace) -> dict[str, str]:
    end = datetime.fromisoformat(args.end)
    start = end - timedelta(days=args.query_days)
    window = (
        f"channel_id={world.channel_id}&start_date={start:%Y-%m-%dT%H:%M:%SZ}"
        f"&end_date={end:%Y-%m-%dT%H:%M:%SZ}"
    )
    zone = f"&time_zone={args.time_zone}"
    return {
        "reports_images": window,
        "reports_over_time": window + zone,
        "reports_per_field_selection": f"{window}&field_id={world.fields['Category']}",
        "reports_per_state": window,
        "reports_per_user": window,
        "reports_per_day_hour": window + zone,
        "reports_per_week_day": window + zone,
        "reports_read": window + "&fields=total_reads,unique_reads,report_readers,reports_seen",
        "user_awareness": window
        + "&fields=total_alerts,alert_source_reports,unique_alerts,alerts_opened",
    }


def check_loaded(world: World, engine: Engine, args: argparse.Namespace) -> None:
    """The loaded previous reads agree with DISTINCT over the last week (a wrong load
    would make the timings meaningless)."""
    end = datetime.fromisoformat(args.end)
    start = end - timedelta(days=7)
    query = (
        f"channel_id={world.channel_id}&start_date={start:%Y-%m-%dT%H:%M:%SZ}"
        f"&end_date={end:%Y-%m-%dT%H:%M:%SZ}&fields=total_reads,unique_reads,report_readers,"
        "reports_seen"
    )
    answer = world.client.get(f"{V4}/analytics/reports_read?{query}", headers=world.headers)
    assert answer.status_code == 200, answer.text
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT count(*), count(DISTINCT user_number || '-' || report_id),"
                " count(DISTINCT user_number), count(DISTINCT report_id) FROM v4_report_reads"
                " WHERE channel_id = :channel AND created_at >= :start AND created_at < :end"
            ).bindparams(
                bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime())
            ),
            {"channel": world.channel_id, "start": start, "end": end},
        ).one()
    expected = dict(
        zip(("total_reads", "unique_reads", "report_readers", "reports_seen"), row, strict=True)
    )
    assert answer.json() == expected, (answer.json(), expected)


def time_endpoints(world: World, args: argparse.Namespace) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    for name, query in queries(world, args).items():
        url = f"{V4}/analytics/{name}?{query}"
        for _ in range(2):
            response = world.client.get(url, headers=world.headers)
            assert response.status_code == 200, response.text
        spent = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            response = world.client.get(url, headers=world.headers)
            spent.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.text
        timings[name] = spent
    return timings


def creation_bodies(world: World, channel_id: int, count: int) -> list[bytes]:
    rng = random.Random(7)
    keys, values = world.keys, world.values
    return [
        orjson.dumps(
            {
                "report": {
                    "account_id": channel_id,
                    "geom": "Point(174.77 -41.28)",
                    "form_fields": [
                        {"key": keys["Category"], "value": rng.choice(values["Category"])},
                        {"key": keys["Severity"], "value": rng.choice(values["Severity"])},
                        {"key": keys["Actions"], "value": rng.sample(values["Actions"], 2)},
                    ],
                }
            }
        )
        for _ in range(count)
    ]


@dataclass
class Creation:
    reports: int
    failures: int
    seconds: float
    server_cpu_ms: float
    client_cpu_ms: float

    @property
    def rate(self) -> float:
        return self.reports / self.seconds


def _serve(settings: Settings, port: int, index: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TALLYBOOK_DATA_DIR": str(settings.data_dir),
        "TALLYBOOK_SECRET_KEY": SECRET,
        "TALLYBOOK_LOG_LEVEL": "warning",
        # DuckDB lets one process write a file, and this one has the store's open.
        "TALLYBOOK_EVENTS_URL": f"duckdb:///{settings.data_dir / f'server-{index}.duckdb'}",
    }
    if settings.database_url:
        env["TALLYBOOK_DATABASE_URL"] = settings.database_url
    with socket.socket() as probe:  # else the health check below would find another server
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is in use: choose others with --port")
    server = subprocess.Popen(
        [sys.executable, "-m", "tallybook", "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"tallybook serve did not answer on port {port}")


def time_creation(world: World, settings: Settings, args: argparse.Namespace) -> Creation:
    """``POST /api/v4/reports`` to ``--api-servers`` real ``tallybook serve`` processes
    (uvicorn, one process each, as behind a load balancer) on the same store, from
    ``--api-concurrency`` client threads with keep-alive connections, spread over them."""
    channel = _post(
        world.client,
        world.owner,
        "channels",
        {"channel": {"name": "API reports", "form_id": world.form["id"]}},
    )
    _post(
        world.client,
        world.owner,
        "report_states",
        {"report_state": {"account_id": channel["id"], "name": "New"}},
    )
    bodies = creation_bodies(world, channel["id"], args.api_reports)
    ports = [args.port + i for i in range(args.api_servers)]
    servers: list[subprocess.Popen[bytes]] = []
    headers = {**world.headers, "Content-Type": "application/json"}
    try:
        for index, port in enumerate(ports):
            servers.append(_serve(settings, port, index))
        pending = iter([http_request("POST", "/api/v4/reports", headers, b) for b in bodies])
        lock = threading.Lock()
        failures = 0

        def client(port: int) -> None:
            # Requests made as bytes beforehand and answers read by their length: a tenth
            # of http.client's CPU per request, so that the client on the same machine
            # takes as little as it can from the servers (docs/performance.md).
            nonlocal failures
            connection = KeepAlive("127.0.0.1", port)
            try:
                while True:
                    with lock:
                        request = next(pending, None)
                    if request is None:
                        return
                    try:
                        created = connection.send(request) == 201
                    except OSError:
                        created = False  # closed: the next request reconnects
                    if not created:
                        with lock:
                            failures += 1
            finally:
                connection.close()

        server_cpu = sum(cpu_seconds(server.pid) for server in servers)
        client_cpu = time.process_time()
        began = time.perf_counter()
        threads = [
            threading.Thread(target=client, args=(ports[i % len(ports)],))
            for i in range(args.api_concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        spent = time.perf_counter() - began
        client_cpu = time.process_time() - client_cpu
        server_cpu = sum(cpu_seconds(server.pid) for server in servers) - server_cpu
        return Creation(
            len(bodies) - failures,
            failures,
            spent,
            server_cpu / len(bodies) * 1000,
            client_cpu / len(bodies) * 1000,
        )
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(
    name: str, settings: Settings, args: argparse.Namespace, loader: Callable[..., int]
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings)
    upgrade(database.engine)
    store = open_event_store(settings)
    app = create_app(settings, database, store)
    kept = settings.data_dir / WORLD_FILE
    try:
        with TestClient(app) as client:
            world = load_world(client, kept, args) if args.keep else None
            if world is None:
                world = make_world(client, database, args.users)
                began = time.perf_counter()
                loaded = loader(database.engine, Generator(world, args).batches())
                spent = time.perf_counter() - began
                print(
                    f"\n{name}: loaded {loaded:,} rows in {spent:.0f} s ({loaded / spent:,.0f}/s)"
                )
                if args.keep:
                    save_world(world, kept, args)
            else:
                print(f"\n{name}: the store kept in {settings.data_dir}")
            check_loaded(world, database.engine, args)
            timings = time_endpoints(world, args)
            print(f"{name}: {args.query_days} days of {args.reports:,} reports, ms per call")
            print(f"  {'endpoint':30} {'p50':>8} {'p95':>8}")
            for endpoint, spent_ms in timings.items():
                p50, p95 = statistics.median(spent_ms), _quantile(spent_ms, 0.95)
                print(f"  {endpoint:30} {p50:8.1f} {p95:8.1f}")
            if args.api_reports:
                made = time_creation(world, settings, args)
                print(
                    f"{name}: POST /api/v4/reports: {made.rate:,.0f} reports/s "
                    f"({made.reports:,} in {made.seconds:.1f} s, {made.failures} failed, "
                    f"{args.api_concurrency} clients, {args.api_servers} server processes, "
                    f"server CPU {made.server_cpu_ms:.2f} ms per report, "
                    f"client CPU {made.client_cpu_ms:.2f} ms per report, load average "
                    + ", ".join(f"{v:.2f}" for v in os.getloadavg())
                    + ")"
                )
    finally:
        store.close()
        database.close()


def settings_for(data_dir: Path, url: str | None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        secret_key=SECRET,
        _env_file=None,
    )


def kept_database(server_url: str, name: str) -> str:
    """The database ``name`` on the server, made if it is not there (and kept)."""
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain + "/postgres", autocommit=True) as connection:
        there = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if there is None:
            connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


def main() -> None:
    args = parse_args()
    print(machine())
    with ExitStack() as stack:
        if args.keep:
            root = args.keep.resolve()
            root.mkdir(parents=True, exist_ok=True)
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tallybook-v4-")))
        if not args.skip_sqlite:
            run("SQLite", settings_for(root / "sqlite", None), args, load_sqlite)
        server = args.postgres_url
        if server is None and args.start_postgres:
            keep_server = root / "postgres-server" if args.keep else None
            server = stack.enter_context(postgres_server(keep_server))
        if server is not None:
            server = server.rstrip("/")
            if args.keep:
                url = kept_database(server, "tallybook_v4_kept")
            else:
                url = create_database(server, f"tallybook_v4_{uuid.uuid4().hex[:8]}")
            run("PostgreSQL", settings_for(root / "postgresql", url), args, load_postgres)
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
