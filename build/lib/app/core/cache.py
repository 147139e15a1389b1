"""What a process remembers of an order while the order stays as it was: its status (for
the changed-since pages) and its rendered provider view (for the full GET).

An entry is keyed by the order's version fields (``version``, ``last_event_id``,
``updated_at``), the same ones the ETag hashes: every write that changes the view changes
one of them (app.orders.service.order_etag), so an entry found under the fields read now is
exactly what would be computed now, in any process. Entries for older versions are simply
never looked up again; they are dropped after ``seconds`` or when the cache is full.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class ByVersion(Generic[T]):
    def __init__(
        self,
        max_entries: int,
        seconds: float = float("inf"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.seconds = seconds
        self.clock = clock
        self._entries: dict[str, tuple[Hashable, float, T]] = {}

    def get(self, order_id: str, version: Hashable) -> T | None:
        hit = self._entries.get(order_id)
        if hit is None or hit[0] != version:
            return None
        if self.clock() >= hit[1]:
            del self._entries[order_id]
            return None
        return hit[2]

    def put(self, order_id: str, version: Hashable, value: T) -> None:
        if self.max_entries <= 0 or self.seconds <= 0:
            return
        if order_id not in self._entries and len(self._entries) >= self.max_entries:
            self._entries.clear()  # rare (that many orders polled at once): start again
        self._entries[order_id] = (version, self.clock() + self.seconds, value)
