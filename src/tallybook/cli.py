"""The ``tallybook`` command (DESIGN §2)."""

from __future__ import annotations

import json
import socket
import sys
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from alembic.util.exc import CommandError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from tallybook.events.records import EventSource
from tallybook.kit import collector, instants
from tallybook.kit.db import Database
from tallybook.kit.migrate import MigrationError, upgrade
from tallybook.settings import ConfigurationError, Settings

if TYPE_CHECKING:
    from tallybook.events.store import EventStore

CONFIGURATION_EXIT = 2
"""Exit status of a start that the configuration prevents (a usage error, as click's)."""

# No pretty exceptions: a configuration error is one sentence (see main), and anything
# else is a plain traceback, never a box holding local variables such as secrets.
app = typer.Typer(
    help="Tallybook, a self-hosted reporting backend.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
admin = typer.Typer(help="Create organisations, users and API tokens.", no_args_is_help=True)
app.add_typer(admin, name="admin")
events = typer.Typer(help="Bulk-load, export and generate events.", no_args_is_help=True)
app.add_typer(events, name="events")
db = typer.Typer(help="The relational store: copy it into another database.", no_args_is_help=True)
app.add_typer(db, name="db")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _settings() -> Settings:
    """The settings, or ConfigurationError naming each setting whose value is invalid."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"TALLYBOOK_{'_'.join(str(part) for part in error['loc']).upper()}: "
            f"{error['msg'][:1].lower()}{error['msg'][1:]}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise ConfigurationError(f"Invalid setting ({problems}).") from None


def _database(*, migrate: bool = True) -> Database:
    """The relational store, reachable and (with ``migrate``) at the newest schema."""
    settings = _settings()
    database = Database(settings)
    settings.signing_key()
    if migrate:
        try:
            upgrade(database.engine)
        except DBAPIError:
            database.close()
            raise ConfigurationError(
                "TALLYBOOK_DATABASE_URL names a relational store that cannot be reached "
                f"or used ({database.engine.url.render_as_string(hide_password=True)})."
            ) from None
        except MigrationError as exc:
            database.close()
            raise ConfigurationError(f"TALLYBOOK_DATABASE_URL: {exc}") from None
        except CommandError:  # a revision this version does not know: a newer one's schema
            database.close()
            raise ConfigurationError(
                "TALLYBOOK_DATABASE_URL names a relational store migrated by a newer "
                "Tallybook than this one; run that version, or restore a backup of its "
                "schema's time."
            ) from None
    return database


def _event_store(settings: Settings) -> EventStore:
    from tallybook.events.store import open_event_store

    return open_event_store(settings)


def _listening_socket(host: str, port: int) -> socket.socket:
    """The API's socket, bound before anything else starts, so a port in use is said once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except (OSError, OverflowError):
        sock.close()
        raise ConfigurationError(
            f"TALLYBOOK_HOST/TALLYBOOK_PORT (or --host/--port): cannot listen on "
            f"{host}:{port}; the port is in use or the address is not this machine's."
        ) from None
    sock.set_inheritable(True)
    return sock


@app.command()
def migrate() -> None:
    """Bring the relational store to the newest schema."""
    _database().close()
    typer.echo("The relational store is up to date.", err=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="API processes sharing the port. Above 1 the event store must be PostgreSQL "
            "or ClickHouse, and the background work runs in `tallybook worker` processes.",
        ),
    ] = 1,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Serve only.")] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo organisation into an empty store.")
    ] = False,
) -> None:
    """Run the HTTP API (and, unless --no-worker or --workers above 1, the background
    worker in a thread of the same process)."""
    import uvicorn

    from tallybook.app import create_app
    from tallybook.demo import load_demo_if_empty
    from tallybook.kit.logging import configure

    settings = _settings()
    if workers > 1 and _events_embedded(settings):
        raise ConfigurationError(
            f"--workers {workers}: the embedded event store (DuckDB, or chdb) can be opened "
            "by one process only; set TALLYBOOK_EVENTS_URL to a PostgreSQL or ClickHouse "
            "server to serve from several processes, or serve with --workers 1."
        )
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    sock = _listening_socket(host, port)
    database = _database()
    configure(settings.log_level)
    store = _event_store(settings)
    if demo:
        load_demo_if_empty(database, store, f"http://{host}:{port}")
    if workers > 1:
        store.close()
        database.close()
        _serve_processes(sock, workers)
        return
    application = create_app(settings, database, store, run_worker=not no_worker)
    server = uvicorn.Server(uvicorn.Config(application, host=host, port=port, log_config=None))
    collector.settle()
    server.run(sockets=[sock])


IN_PROCESS_EVENT_SCHEMES = frozenset({"duckdb", "chdb"})
"""Event stores whose files one process opens at a time (DuckDB, ClickHouse in-process)."""


def _events_embedded(settings: Settings) -> bool:
    """Whether the event store is an embedded one, which one process may open."""
    from tallybook.events.engines.registry import DEFAULT_SCHEME, scheme_of

    url = settings.events_url
    scheme = DEFAULT_SCHEME if url is None else scheme_of(url).lower()
    return scheme in IN_PROCESS_EVENT_SCHEMES


def _serve_processes(sock: socket.socket, workers: int) -> None:
    """``workers`` uvicorn processes accepting on ``sock``, each building its own app (and
    stores) from the environment; SIGTERM or SIGINT stops them all. None runs the
    background worker: one thread in one of them would die and restart with it."""
    import logging

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    logging.getLogger("tallybook.serve").info(
        "serving from several processes; the background work is not done in them: run "
        "`tallybook worker` beside them",
        extra={"processes": workers},
    )
    config = uvicorn.Config(
        "tallybook.app:create_app_from_environment",
        factory=True,
        workers=workers,
        log_config=None,
    )
    Multiprocess(config, sockets=[sock]).run()


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
    """Run the background work only: evaluations, snapshots, checks, deliveries and report
    exports."""
    import signal
    import threading

    from prometheus_client import start_http_server

    from tallybook.kit.logging import configure
    from tallybook.metrics import Metrics
    from tallybook.worker.loop import Worker

    as_of = _instant(now) if now is not None else None
    if as_of is not None and not once:
        raise _fail("--now is only for --once: a running worker works on the real clock.")
    if not once and _events_embedded(_settings()):
        raise ConfigurationError(
            "tallybook worker: the embedded event store (DuckDB, or chdb) can be opened by "
            "one process only, and `tallybook serve` already runs the worker in its own; set "
            "TALLYBOOK_EVENTS_URL to a PostgreSQL or ClickHouse server to run separate "
            "workers."
        )
    database = _database()
    configure(database.settings.log_level)
    store = _event_store(database.settings)
    measured = Metrics(database)
    if metrics_port is not None:
        try:
            start_http_server(metrics_port, addr=metrics_host, registry=measured.registry)
        except (OSError, OverflowError):
            raise ConfigurationError(
                f"--metrics-port: cannot listen on {metrics_host}:{metrics_port}; the port is "
                "in use or the address is not this machine's."
            ) from None
    runner = Worker(database, store, database.settings, metrics=measured)
    try:
        if once:
            report = runner.run_pass(as_of)
            typer.echo(
                json.dumps(
                    {
                        "targets": report.targets,
                        "deliveries": report.deliveries,
                        "exports": report.exports,
                    },
                    sort_keys=True,
                )
            )
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        collector.settle()
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

    database = _database()
    settings = database.settings
    store = _event_store(settings)
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
    """Load a large history of events: all or nothing into DuckDB (run it while the server
    is stopped: the embedded store allows one process at a time), in batches of 10,000
    into a server engine (loading the same file again skips the events already stored)."""
    import time

    from tallybook.events.bulk import load_file
    from tallybook.events.engines.base import BulkLoadError

    settings = _settings()
    store = _event_store(settings)
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


@events.command("export")
def events_export(
    file: Annotated[str, typer.Argument(help="Output: .parquet for Parquet, else NDJSON.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Write every event of the store to a file that `events load` reads back (to move an
    installation to another event engine). With the embedded DuckDB store, run it while the
    server is stopped."""
    import time

    from tallybook.events.bulk import export_file

    settings = _settings()
    store = _event_store(settings)
    started = time.perf_counter()
    try:
        count = export_file(store, file)
    except OSError as exc:
        raise _fail(f"cannot write {file}: {exc.strerror or type(exc).__name__}.") from None
    finally:
        store.close()
    seconds = time.perf_counter() - started
    _emit(
        as_json,
        {"exported": count, "seconds": round(seconds, 2)},
        f"Exported {count} events to {file} in {seconds:.1f} s",
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
    import duckdb

    from tallybook.events.generate import Spec, organization_ids, write_events

    spec = Spec(events=count, organizations=organizations, days=days, seed=seed)
    try:
        write_events(file, spec)
    except duckdb.IOException:
        raise _fail(f"{file}: cannot be written (is there such a folder to write in?).") from None
    typer.echo(f"Wrote {count} events to {file}; organisations, biggest first:")
    for org_id in organization_ids(organizations, seed):
        typer.echo(f"  {org_id}")


@db.command("copy")
def db_copy(
    source: Annotated[
        str,
        typer.Option("--from", help="The database to copy (sqlite:////path or postgresql://…)."),
    ],
    target: Annotated[
        str, typer.Option("--to", help="An empty database to copy into (postgresql://…).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Copy every table of the relational store into a new, empty database, in one
    transaction (the target is migrated first). Stop the server while it runs."""
    from tallybook.dbcopy import CopyError, copy_database

    try:
        copied = copy_database(source, target)
    except CopyError as exc:
        raise _fail(str(exc)) from None
    _emit(
        as_json,
        {"rows": copied},
        f"Copied {sum(copied.values())} rows of {len(copied)} tables.",
    )


def main() -> None:
    """The command's boundary: a configuration error is one sentence and exit status 2."""
    try:
        app()
    except ConfigurationError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(CONFIGURATION_EXIT)
    except KeyboardInterrupt:
        sys.exit(130)
