"""A process's short memory of values looked up lately (who a token is, whether an
organisation's subscription is active), so that a client's next requests skip the query.

What an operator changes in the database reaches each process within the memory's
``seconds`` (``TALLYBOOK_AUTH_CACHE_SECONDS``; 0 remembers nothing)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


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
        if len(self._values) >= self._most:
            self._values.clear()  # a burst of new keys: start again rather than grow
        self._values[key] = (self._clock() + self.seconds, value)
