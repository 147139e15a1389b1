"""The dispatcher: claims due deliveries from the outbox, signs and sends them, records results.

One asyncio task per API process (started by the lifespan), or a process of its own:
``python -m app.webhooks.dispatcher`` (same settings as the API).

Guarantees:
- at least once: a delivery leaves the outbox only on a 2xx; a claim is a lease, so a delivery
  held by a process that died is taken again when the lease expires (receivers de-duplicate on
  Heyan-Event-Id);
- one sender at a time: PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``; on both databases
  the claim itself is a conditional UPDATE on the lease, so two processes cannot both win;
- in order per order: only the oldest unfinished delivery of an order is due; later ones wait
  while it is pending or retrying (a dead one no longer holds the line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from app.config import Settings, get_settings
from app.core.db import make_engine, make_sessionmaker
from app.models.orders import utcnow
from app.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.security import crypto
from app.webhooks.service import signing_secrets
from app.webhooks.signing import sign, standard_headers

log = logging.getLogger("heyan.webhooks")
USER_AGENT = "Heyan-Webhooks/1"


@dataclass
class _Claimed:
    id: int
    provider_id: str
    event_key: str
    type: str
    body: str
    attempts: int
    retry_since: datetime


@dataclass
class _Result:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Dispatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 10.0,
        base_delay: float = 10.0,
        max_delay: float = 3600.0,
        max_age: timedelta = timedelta(hours=24),
        lease_seconds: float | None = None,
        batch: int = 20,
        clock: Callable[[], datetime] = utcnow,
        worker_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_age = max_age
        # Longer than any one send, so a live sender never loses its claim mid-request.
        self.lease = timedelta(seconds=lease_seconds or timeout_seconds * 2 + 30)
        if self.lease.total_seconds() <= timeout_seconds:
            raise ValueError("the claim lease must be longer than the delivery timeout")
        self.batch = batch
        self.clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment between us and the provider
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, **kw: object
    ) -> Dispatcher:

        assert isinstance(settings, Settings)
        return cls(
            sessionmaker,
            poll_seconds=settings.webhook_poll_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
            base_delay=settings.webhook_retry_base_seconds,
            max_delay=settings.webhook_retry_max_seconds,
            max_age=timedelta(seconds=settings.webhook_max_age_seconds),
            lease_seconds=settings.webhook_lease_seconds or None,
            batch=settings.webhook_batch,
            **kw,  # type: ignore[arg-type]
        )

    # ----------------------------------------------------------------------------------
    # The background loop

    def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._loop(), name="heyan-webhook-dispatcher")

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Stop polling; let sends in flight finish (bounded), then close the client."""
        self._stop.set()
        if self._task is not None:
            # Cancelled mid-send: the lease expires and another process retries it.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, grace_seconds or self.timeout_seconds + 5)
            self._task = None
        await self._client.aclose()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _loop(self) -> None:
        """Keep up to ``batch`` sends in flight; a slow endpoint holds one slot, not the pass."""
        inflight: set[asyncio.Task[None]] = set()
        stopping = asyncio.create_task(self._stop.wait())
        try:
            while not self._stop.is_set():
                claimed: list[_Claimed] = []
                endpoints: dict[str, WebhookEndpoint] = {}
                if len(inflight) < self.batch:
                    try:  # the database may be down: keep polling, don't die
                        claimed = await self._claim(self.batch - len(inflight))
                        if claimed:
                            endpoints = await self._endpoints({c.provider_id for c in claimed})
                    except Exception:
                        log.exception("webhook dispatcher: claiming failed")
                        claimed = []
                for c in claimed:
                    task = asyncio.create_task(self._deliver(c, endpoints.get(c.provider_id)))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                if not claimed:
                    # Sleep until the next poll, a free slot, or stop().
                    await asyncio.wait(
                        {stopping, *inflight},
                        timeout=self.poll_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
            if inflight:
                await asyncio.wait(inflight)  # sends in flight end within the timeout
        finally:
            stopping.cancel()
            for task in inflight:
                task.cancel()

    # ----------------------------------------------------------------------------------
    # One pass

    async def run_once(self) -> int:
        """Claim the due deliveries, send them concurrently, record the outcomes."""
        claimed = await self._claim(self.batch)
        if not claimed:
            return 0
        endpoints = await self._endpoints({c.provider_id for c in claimed})
        await asyncio.gather(*(self._deliver(c, endpoints.get(c.provider_id)) for c in claimed))
        return len(claimed)

    async def _deliver(self, c: _Claimed, endpoint: WebhookEndpoint | None) -> None:
        result = await self._send(c, endpoint)
        try:
            await self._record(c, result)
        except Exception:
            # Not recorded: the lease expires and it is sent again (receivers de-duplicate).
            log.exception("webhook delivery %s: could not record the outcome", c.id)

    async def _claim(self, limit: int) -> list[_Claimed]:
        """One statement: ``UPDATE ... WHERE id IN (SELECT due ... FOR UPDATE SKIP LOCKED)``.

        A single write statement also suits SQLite, where a read transaction that later
        writes can fail with a stale snapshot when another process wrote in between.
        """
        now = self.clock()
        d = WebhookDelivery
        cand = aliased(WebhookDelivery)
        earlier = aliased(WebhookDelivery)
        blocked = (
            exists()
            .where(
                earlier.order_id == cand.order_id,
                earlier.id < cand.id,
                earlier.status.in_(("pending", "failed")),
            )
            .correlate(cand)
        )
        due = (
            select(cand.id)
            .where(
                cand.status.in_(("pending", "failed")),
                cand.next_attempt_at <= now,
                or_(cand.locked_until.is_(None), cand.locked_until < now),
                ~blocked,
            )
            .order_by(cand.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=cand)  # PostgreSQL; SQLite ignores it
        )
        claim = (
            update(d)
            .where(
                d.id.in_(due.scalar_subquery()),
                d.status.in_(("pending", "failed")),
                or_(d.locked_until.is_(None), d.locked_until < now),
            )
            .values(locked_by=self.worker_id, locked_until=now + self.lease)
            .returning(d.id, d.provider_id, d.event_key, d.type, d.body, d.attempts, d.retry_since)
            .execution_options(synchronize_session=False)
        )
        async with self.sessionmaker() as db:
            rows = (await db.execute(claim)).all()
            await db.commit()
        return sorted((_Claimed(*r) for r in rows), key=lambda c: c.id)

    async def _endpoints(self, provider_ids: set[str]) -> dict[str, WebhookEndpoint]:
        async with self.sessionmaker() as db:
            rows = (
                await db.execute(
                    select(WebhookEndpoint).where(WebhookEndpoint.provider_id.in_(provider_ids))
                )
            ).scalars()
            return {e.provider_id: e for e in rows}

    async def _send(self, c: _Claimed, endpoint: WebhookEndpoint | None) -> _Result:
        if endpoint is None:
            return _Result(None, "webhook removed", 0)
        body = c.body.encode()
        # Wall-clock time, not the injectable scheduling clock: receivers compare it to theirs.
        t = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Heyan-Event-Id": c.event_key,
            "Heyan-Event-Type": c.type,
            "Heyan-Delivery-Attempt": str(c.attempts + 1),
        }
        if endpoint.signature_scheme == "standard":
            # webhook-id is the event key: the same on every retry (receivers de-duplicate).
            keys = signing_secrets(endpoint, utcnow())
            headers.update(standard_headers(keys, c.event_key, t, body))
        else:
            headers["Heyan-Signature"] = sign(endpoint.secret, body, t)
        started = time.monotonic()
        try:
            # Streamed and never read: only the status matters, whatever size the answer is.
            async with self._client.stream(
                "POST", endpoint.url, content=body, headers=headers
            ) as r:
                code, error = r.status_code, None if r.is_success else f"HTTP {r.status_code}"
        except httpx.TimeoutException:
            code, error = None, "timeout"
        except httpx.HTTPError as exc:
            code, error = None, f"{type(exc).__name__}: {exc}"[:300]
        return _Result(code, error, int((time.monotonic() - started) * 1000))

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number ``attempts``: doubling, capped, with equal jitter."""
        delay = min(self.max_delay, self.base_delay * 2.0 ** min(attempts - 1, 30))
        return delay / 2 + random.uniform(0, delay / 2)

    async def _record(self, c: _Claimed, r: _Result) -> None:
        now = self.clock()
        attempts = c.attempts + 1
        values: dict[str, object] = {
            "attempts": attempts, "last_status_code": r.status_code, "last_error": r.error,
            "last_attempt_at": now, "locked_by": None, "locked_until": None,
        }  # fmt: skip
        if r.ok:
            values.update(status="delivered", delivered_at=now)
        elif r.error == "webhook removed" or now - c.retry_since >= self.max_age:
            values.update(status="dead")
        else:
            values.update(
                status="failed", next_attempt_at=now + timedelta(seconds=self.backoff(attempts))
            )
        d = WebhookDelivery
        async with self.sessionmaker() as db:
            db.add(
                WebhookAttempt(
                    delivery_id=c.id, attempted_at=now, status_code=r.status_code,
                    error=r.error, duration_ms=r.duration_ms, worker=self.worker_id,
                )
            )  # fmt: skip
            result = await db.execute(
                update(d)
                .where(and_(d.id == c.id, d.locked_by == self.worker_id))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                # Our lease expired and another sender took over: it owns the outcome now.
                log.warning("webhook delivery %s: lease lost before the result was saved", c.id)
            await db.commit()


async def _main() -> None:
    settings = get_settings()
    # Endpoint secrets are encrypted at rest: this process needs the same DATA_KEYS.
    crypto.configure(*settings.encryption_keys())
    engine = make_engine(
        settings.database_url,
        schema=settings.database_schema or None,
        connect_timeout=settings.database_connect_timeout_seconds,
    )
    dispatcher = Dispatcher.from_settings(make_sessionmaker(engine), settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, dispatcher._stop.set)
    dispatcher.start()
    log.info("webhook dispatcher %s started", dispatcher.worker_id)
    try:
        assert dispatcher._task is not None
        await dispatcher._task
    finally:
        await dispatcher.stop()
        await engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_main())
