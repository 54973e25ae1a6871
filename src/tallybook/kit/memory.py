"""A process's short memory of values looked up lately (who a token is, whether an
organisation's subscription is active), so that a client's next requests skip the query.

What an operator changes in the database reaches each process within the memory's
``seconds`` (``TALLYBOOK_AUTH_CACHE_SECONDS``; 0 remembers nothing). Values of rows that
never change once committed are kept for the process's life instead
(:class:`KnownCommitted`), and so are hints that the statement using them checks again
(:class:`PerDatabase`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


class Remembered(Generic[K, V]):
    """Values by key, each forgotten ``seconds`` after it was put. Reads and writes are
    single dictionary operations, so threads and the event loop may share one."""

    def __init__(
        self,
        seconds: float,
        *,
        most: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self._most = most
        self._clock = clock
        self._values: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        found = self._values.get(key)
        if found is None or found[0] <= self._clock():
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        if self.seconds <= 0:
            return
        _keep(self._values, self._most, key, (self._clock() + self.seconds, value))


class PerDatabase(Generic[K, V]):
    """Values by key, per database, kept for the process's life (at most ``most`` keys).
    Nothing tells a process when another changes the rows they were read from: keep here
    only what never changes, or what the statement that uses it checks again."""

    def __init__(self, *, most: int = 10_000) -> None:
        self._most = most
        self._by_engine: WeakKeyDictionary[Engine, dict[K, V]] = WeakKeyDictionary()

    def known(self, engine: Engine, key: K) -> V | None:
        values = self._by_engine.get(engine)
        return None if values is None else values.get(key)

    def get(self, session: Session, key: K) -> V | None:
        engine = _engine_of(session)
        return None if engine is None else self.known(engine, key)

    def put(self, session: Session, key: K, value: V) -> None:
        engine = _engine_of(session)
        if engine is not None:
            _keep(self._by_engine.setdefault(engine, {}), self._most, key, value)


class KnownCommitted(PerDatabase[K, V]):
    """Values read of rows that never change once committed (a v4 team's id, a form's
    fields). A row a session made itself is never kept from that session (:meth:`made`
    records it): its transaction could still roll back, and SQLite could then give its id
    to another row."""

    def __init__(self, made_key: str, *, most: int = 10_000) -> None:
        super().__init__(most=most)
        self._made_key = made_key  # the ``session.info`` key of the rows a session made

    def made(self, session: Session, key: K) -> None:
        session.info.setdefault(self._made_key, set()).add(key)

    def made_here(self, session: Session, key: K) -> bool:
        return key in session.info.get(self._made_key, ())

    def put(self, session: Session, key: K, value: V) -> None:
        """Keep ``value`` unless ``session`` made the row (see :meth:`made`)."""
        if not self.made_here(session, key):
            super().put(session, key, value)


def _engine_of(session: Session) -> Engine | None:
    """The engine of the session's database, also when it is bound to one connection
    (as the event loop's units of work are: ``kit.db.Database.loop_unit``)."""
    bind = session.get_bind()
    if isinstance(bind, Connection):
        return bind.engine
    return bind if isinstance(bind, Engine) else None


def _keep(values: dict[K, T], most: int, key: K, value: T) -> None:
    """``values[key] = value``, holding at most ``most`` keys."""
    if len(values) >= most:
        values.clear()  # a burst of new keys: start again rather than grow
    values[key] = value
