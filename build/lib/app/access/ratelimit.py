"""Per-address and per-API-key rate limits: fixed one-minute windows.

Two backends behind one interface (``await limiter.check(key)``):

- :class:`RateLimiter` counts in this process. With N processes behind a load balancer the
  effective limit is up to N times the setting; fine for one process (the SQLite default).
- :class:`DatabaseRateLimiter` counts in the ``rate_limit_windows`` table with
  ``INSERT … ON CONFLICT DO UPDATE SET count = count + n RETURNING count``, so every process
  and machine on one database shares one limit. A key far below its limit is written at most
  once a second per process (up to 5 % of the limit counted locally and sent as ``n``); from
  half the limit on, every request is written, so N processes can overshoot the limit by at
  most N x 5 % of it (requests not yet sent when the others crossed half). If the
  database cannot be reached, it falls back to the per-process window for a few seconds (and
  logs once): a database outage never turns into 500s or into no limit at all.

``RATE_LIMIT_BACKEND`` chooses (``auto``: database on PostgreSQL, memory on SQLite, where
every request would otherwise take SQLite's single write lock).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import JSONResponse

from app.core.errors import AppError
from app.models.orders import RateLimitWindow
from app.security import crypto

log = logging.getLogger("heyan.ratelimit")

# The same statement on PostgreSQL and SQLite (≥ 3.35). A plain string: this runs on every
# request, and a Core insert construct costs more to build and cache-key than to send.
_UPSERT = text(
    "INSERT INTO rate_limit_windows (key, minute, count) VALUES (:key, :minute, :n) "
    "ON CONFLICT (key, minute) DO UPDATE SET count = rate_limit_windows.count + :n "
    "RETURNING count"
)


class RateLimiter:
    """Fixed one-minute windows counted in this process."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._windows: dict[str, tuple[int, int]] = {}

    def hit(self, key: str) -> int | None:
        """Count a request; return seconds to wait when over the limit, else None."""
        now = self.clock()
        window = int(now // 60)
        start, count = self._windows.get(key, (window, 0))
        if start != window:
            start, count = window, 0
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > 100_000:  # bounded memory under an address sweep
            self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        return self._verdict(count, now)

    def _verdict(self, count: int, now: float) -> int | None:
        if count > self.per_minute:
            return int(60 - now % 60) + 1
        return None

    async def check(self, key: str) -> int | None:
        return self.hit(key)


class DatabaseRateLimiter(RateLimiter):
    """Fixed one-minute windows counted in the database: one limit for every process.

    The window is the wall-clock minute (``time.time() // 60``), so processes on several
    machines agree as long as their clocks are synchronised (NTP).
    """

    CLEANUP_EVERY = 60.0  # seconds between deletions of finished windows, per process
    FALLBACK_SECONDS = 5.0  # after a database error, count in memory this long
    SYNC_SECONDS = 1.0  # a key far below its limit is written at most this often
    # ... and with at most this share of the limit unsent: N processes can let through at
    # most N x 5 % of the limit more than it, and only while the key is below half of it.
    BATCH_SHARE = 0.05

    def __init__(
        self,
        per_minute: int,
        engine: Callable[[], AsyncEngine],
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(per_minute, clock)
        self._engine = engine
        self._next_cleanup = 0.0
        self._fallback_until = 0.0
        self._for: AsyncEngine | None = None
        self._auto: AsyncEngine | None = None
        # key -> [minute, count last read from the table, local requests not yet sent,
        #         when it was last sent]
        self._seen: dict[str, list[float]] = {}

    @staticmethod
    def _db_key(key: str) -> str:
        # Client addresses are personal data: only a keyed hash is written.
        if crypto.is_configured():
            return crypto.blind_index(key, "ratelimit")
        return hashlib.sha256(key.encode()).hexdigest()

    async def check(self, key: str) -> int | None:
        now = self.clock()
        if now < self._fallback_until:
            return self.hit(key)
        minute = int(now // 60)
        seen = self._seen.get(key)
        if seen is None or seen[0] != minute:
            if len(self._seen) > 100_000:  # bounded memory under an address sweep
                self._seen = {k: v for k, v in self._seen.items() if v[0] == minute}
            seen = self._seen[key] = [minute, 0, 0, float("-inf")]
        seen[2] += 1
        if (
            now - seen[3] < self.SYNC_SECONDS
            and seen[2] <= self.per_minute * self.BATCH_SHARE
            and 2 * (seen[1] + seen[2]) < self.per_minute
        ):
            return None  # far below the limit, few unsent, sent less than a second ago
        pending, seen[2], seen[3] = int(seen[2]), 0, now
        try:
            seen[1] = max(seen[1], await self._count(self._db_key(key), minute, pending))
            count = int(seen[1] + seen[2])
            if now >= self._next_cleanup:
                self._next_cleanup = now + self.CLEANUP_EVERY
                await self.cleanup(int(now // 60))
        except Exception as exc:
            self._fallback_until = now + self.FALLBACK_SECONDS
            log.warning(
                "rate limit: database unavailable (%s); counting per process for %.0f s",
                type(exc).__name__,
                self.FALLBACK_SECONDS,
            )
            return self.hit(key)
        return self._verdict(count, now)

    def _autocommit(self) -> AsyncEngine:
        # One statement, one round trip: no BEGIN/COMMIT around the upsert, so the row lock
        # on a hot key (one busy provider) is held only for the statement itself.
        engine = self._engine()
        if self._for is not engine:
            self._for, self._auto = engine, engine.execution_options(isolation_level="AUTOCOMMIT")
        assert self._auto is not None
        return self._auto

    async def _count(self, db_key: str, minute: int, n: int = 1) -> int:
        async with self._autocommit().connect() as conn:
            result = await conn.execute(_UPSERT, {"key": db_key, "minute": minute, "n": n})
            return int(result.scalar_one())

    async def cleanup(self, minute: int) -> int:
        """Delete windows that ended before the previous minute; return how many."""
        async with self._autocommit().connect() as conn:
            result = await conn.execute(
                delete(RateLimitWindow).where(RateLimitWindow.minute < minute - 1)
            )
        return int(result.rowcount)


def build_limiters(
    backend: str, database_url: str, provider_per_minute: int, address_per_minute: int,
    engine: Callable[[], AsyncEngine],
) -> tuple[RateLimiter, RateLimiter]:  # fmt: skip
    """(per-provider, per-address) limiters for RATE_LIMIT_BACKEND."""
    if backend == "auto":
        backend = "database" if database_url.startswith("postgresql") else "memory"
    if backend == "database":
        return (
            DatabaseRateLimiter(provider_per_minute, engine),
            DatabaseRateLimiter(address_per_minute, engine),
        )
    return RateLimiter(provider_per_minute), RateLimiter(address_per_minute)


class RateLimits:
    """The two limits every request passes: per API key on /v1, per client address on /m."""

    def __init__(self, provider: RateLimiter, address: RateLimiter) -> None:
        self.provider = provider
        self.address = address

    async def check(self, path: str, authorization: bytes, client: str) -> int | None:
        """Count the request; seconds to wait when it is over its limit, else None."""
        if path.startswith("/v1/"):
            # The header hashed: the raw key never sits in the counters (nor in the table).
            key = hashlib.sha256(authorization).hexdigest()[:32]
            return await self.provider.check("p:" + key)
        if path.startswith("/m/"):
            return await self.address.check("a:" + client)
        return None

    @staticmethod
    def refusal(path: str, wait: int) -> JSONResponse:
        err = AppError(
            code="RATE_LIMITED",
            status=429,
            zh="请求过于频繁,请稍后再试",
            en="Too many requests",
            headers={"Retry-After": str(wait)},
        )
        return JSONResponse(
            err.problem(path), status_code=429, media_type="application/problem+json",
            headers=err.headers,
        )  # fmt: skip
