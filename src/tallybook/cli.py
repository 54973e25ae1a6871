"""The ``tallybook`` command (DESIGN §2)."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer

from tallybook.events.records import EventSource
from tallybook.kit import instants
from tallybook.kit.db import Database
from tallybook.kit.migrate import upgrade
from tallybook.settings import ConfigurationError, Settings

app = typer.Typer(help="Tallybook, a self-hosted reporting backend.", no_args_is_help=True)
admin = typer.Typer(help="Create organisations, users and API tokens.", no_args_is_help=True)
app.add_typer(admin, name="admin")
events = typer.Typer(help="Bulk-load and generate events.", no_args_is_help=True)
app.add_typer(events, name="events")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _database() -> Database:
    try:
        settings = Settings()
        settings.signing_key()
    except (ConfigurationError, ValueError) as exc:
        raise _fail(str(exc)) from None
    return Database(settings)


@app.command()
def migrate() -> None:
    """Bring the relational store to the newest schema."""
    database = _database()
    upgrade(database.engine)
    typer.echo("The relational store is up to date.", err=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Serve only.")] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo organisation into an empty store.")
    ] = False,
) -> None:
    """Run the HTTP API (and, unless --no-worker, the background worker)."""
    import uvicorn

    from tallybook.app import create_app
    from tallybook.demo import load_demo_if_empty
    from tallybook.events.store import open_event_store
    from tallybook.kit.logging import configure

    database = _database()
    settings = database.settings
    configure(settings.log_level)
    upgrade(database.engine)
    host = host or settings.host
    port = port or settings.port
    store = open_event_store(settings)
    if demo:
        load_demo_if_empty(database, store, f"http://{host}:{port}")
    application = create_app(settings, database, store, run_worker=not no_worker)
    uvicorn.run(application, host=host, port=port, log_config=None)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="One pass of the due work, then exit.")] = (
        False
    ),
    now: Annotated[
        str | None,
        typer.Option(help="With --once: the instant to work as of (ISO 8601 with an offset)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus metrics (GET /metrics) on this port."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="The address the metrics port listens on.")
    ] = "127.0.0.1",
) -> None:
    """Run the background work only: evaluations, snapshots, checks and deliveries."""
    import signal
    import threading

    from prometheus_client import start_http_server

    from tallybook.events.store import open_event_store
    from tallybook.kit.logging import configure
    from tallybook.metrics import Metrics
    from tallybook.worker.loop import Worker

    as_of = _instant(now) if now is not None else None
    if as_of is not None and not once:
        raise _fail("--now is only for --once: a running worker works on the real clock.")
    database = _database()
    configure(database.settings.log_level)
    upgrade(database.engine)
    store = open_event_store(database.settings)
    measured = Metrics(database)
    if metrics_port is not None:
        start_http_server(metrics_port, addr=metrics_host, registry=measured.registry)
    runner = Worker(database, store, database.settings, metrics=measured)
    try:
        if once:
            report = runner.run_pass(as_of)
            typer.echo(
                json.dumps(
                    {"targets": report.targets, "deliveries": report.deliveries}, sort_keys=True
                )
            )
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        runner.run_forever(stop)
    finally:
        store.close()
        database.close()


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(
            f"--now must be an ISO 8601 instant such as 2026-03-29T00:10:00+02:00, not {text!r}."
        ) from None
    if value.tzinfo is None:
        raise _fail("--now needs a UTC offset or Z, so that the instant is unambiguous.")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        value = instants.END
    if not instants.is_supported(value):
        raise _fail(f"--now {instants.RANGE_SENTENCE}.")
    return value


@app.command()
def demo() -> None:
    """Load a sample organisation and print a token and example curl commands."""
    from tallybook.demo import load_demo
    from tallybook.events.store import open_event_store

    database = _database()
    upgrade(database.engine)
    settings = database.settings
    store = open_event_store(settings)
    try:
        load_demo(database, store, f"http://{settings.host}:{settings.port}")
    finally:
        store.close()


def _emit(as_json: bool, payload: dict[str, object], text: str) -> None:
    typer.echo(json.dumps(payload) if as_json else text)


@admin.command("create-org")
def create_org(
    name: Annotated[str, typer.Option("--name", help="Organisation name.")],
    timezone: Annotated[str, typer.Option(help="IANA timezone.")] = "UTC",
    inactive: Annotated[bool, typer.Option("--inactive", help="No active subscription.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an organisation."""
    from tallybook.organizations.service import AdminError, create_organization

    database = _database()
    upgrade(database.engine)
    try:
        with database.unit_of_work() as session:
            org = create_organization(session, name, timezone, active=not inactive)
    except AdminError as exc:
        raise _fail(str(exc)) from None
    _emit(as_json, {"id": str(org.id)}, f"Created organisation {org.id}")


@admin.command("create-user")
def create_user(
    org: Annotated[str, typer.Option("--org", help="Organisation id.")],
    email: Annotated[str, typer.Option("--email")],
    first_name: Annotated[str, typer.Option("--first-name")] = "",
    last_name: Annotated[str, typer.Option("--last-name")] = "",
    permission: Annotated[
        list[str] | None, typer.Option("--permission", help="reporting or settings; repeatable.")
    ] = None,
    manager: Annotated[bool, typer.Option("--manager", help="May act for every user.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create a user in an organisation."""
    from tallybook.organizations.service import AdminError
    from tallybook.organizations.service import create_user as create

    try:
        org_id = uuid.UUID(org)
    except ValueError:
        raise _fail(f"{org!r} is not an organisation id (a UUID).") from None
    database = _database()
    upgrade(database.engine)
    try:
        with database.unit_of_work() as session:
            user = create(
                session,
                org_id,
                email,
                first_name=first_name,
                last_name=last_name,
                permissions=permission or [],
                is_manager=manager,
            )
    except AdminError as exc:
        raise _fail(str(exc)) from None
    _emit(
        as_json,
        {"id": str(user.id), "number": user.number},
        f"Created user {user.id} (number {user.number})",
    )


@admin.command("create-token")
def create_token(
    user: Annotated[str, typer.Option("--user", help="User id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an API token for a user; it is printed once and stored only as a hash."""
    from tallybook.auth.service import create_token as create
    from tallybook.organizations.service import AdminError

    try:
        user_id = uuid.UUID(user)
    except ValueError:
        raise _fail(f"{user!r} is not a user id (a UUID).") from None
    database = _database()
    upgrade(database.engine)
    try:
        with database.unit_of_work() as session:
            key = create(session, user_id)
    except AdminError as exc:
        raise _fail(str(exc)) from None
    _emit(as_json, {"token": key}, key)


@events.command("load")
def events_load(
    file: Annotated[str, typer.Argument(help="NDJSON (.ndjson/.json/.jsonl) or Parquet file.")],
    source: Annotated[
        str, typer.Option(help="Source for events whose rows carry none.")
    ] = EventSource.EXTERNAL,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Load a large history of events, all or nothing. Run it while the server is stopped
    (the embedded DuckDB store allows one process at a time)."""
    import time

    from tallybook.events.bulk import load_file
    from tallybook.events.engines.base import BulkLoadError
    from tallybook.events.store import open_event_store

    settings = _database().settings
    store = open_event_store(settings)
    started = time.perf_counter()
    try:
        result = load_file(store, file, default_source=source)
    except (BulkLoadError, ValueError) as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    seconds = time.perf_counter() - started
    _emit(
        as_json,
        {"stored": result.stored, "duplicates": result.duplicates, "seconds": round(seconds, 2)},
        f"Stored {result.stored} events ({result.duplicates} duplicates) in {seconds:.1f} s",
    )


@events.command("generate")
def events_generate(
    file: Annotated[str, typer.Argument(help="Output: .parquet for Parquet, else NDJSON.")],
    count: Annotated[int, typer.Option("--events", min=1, help="How many events.")] = 100_000,
    organizations: Annotated[int, typer.Option(min=1, help="Organisations (skewed).")] = 10,
    days: Annotated[int, typer.Option(min=1, help="Days of history.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
) -> None:
    """Write realistic synthetic events (skewed organisations, visitors, sessions)."""
    from tallybook.events.generate import Spec, organization_ids, write_events

    write_events(file, Spec(events=count, organizations=organizations, days=days, seed=seed))
    typer.echo(f"Wrote {count} events to {file}; organisations, biggest first:")
    for org_id in organization_ids(organizations, seed):
        typer.echo(f"  {org_id}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
