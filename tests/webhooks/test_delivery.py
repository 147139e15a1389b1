"""Delivery against a real receiver: signatures, failures then recovery, order, dead, redeliver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.access.providers import create_provider
from app.core.db import make_engine, make_sessionmaker
from app.main import create_app
from app.models.webhooks import WebhookDelivery
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.signing import sign, verify
from tests.conftest import intake_pipeline, make_settings
from tests.webhooks.conftest import SECRET, Hook, Receiver, drain, readme_verifier

MakeDispatcher = Callable[..., Dispatcher]


def test_readme_snippet_and_signer_agree() -> None:
    readme = readme_verifier()
    body = '{"id":"1","data":{"x":"核验"}}'.encode()
    now = int(time.time())
    header = sign(SECRET, body, now)
    assert readme(SECRET, body, header)
    assert verify(SECRET, body, header)
    assert not readme(SECRET, body + b" ", header)
    assert not readme("another-secret-0123456789", body, header)
    assert not readme(SECRET, body, sign(SECRET, body, now - 301))  # a replay
    assert not readme(SECRET, body, "garbage")
    assert not readme(SECRET, body, f"t={now}")


async def test_ping_is_signed_and_logged(hook: Hook, dispatchers: MakeDispatcher) -> None:
    r = await hook.api.client.post("/v1/webhook/test", headers=hook.auth)
    assert r.status_code == 202, r.text
    ping = r.json()
    assert ping["status"] == "pending"
    assert ping["type"] == "ping"
    await drain(dispatchers(), until=lambda: len(hook.rx.accepted) == 1)
    got = hook.rx.accepted[0]
    assert got.event_id == ping["event_id"]
    assert got.headers["Heyan-Event-Type"] == "ping"
    assert got.payload["type"] == "ping"
    assert hook.rx.bad_signatures == 0
    r = await hook.api.client.get(f"/v1/webhook/deliveries/{ping['id']}", headers=hook.auth)
    detail = r.json()
    assert detail["status"] == "delivered"
    assert detail["attempts"] == 1
    assert detail["last_status_code"] == 200
    assert [a["status_code"] for a in detail["attempt_log"]] == [200]


async def test_failures_then_recovery_exactly_once_in_order(
    hook: Hook, dispatchers: MakeDispatcher
) -> None:
    rx = hook.rx
    rx.slow = 0.8  # past the 0.4 s delivery timeout
    rx.script.extend(["500", "timeout", "close", "500", "close", "timeout", "500", "500"])
    orders = [await hook.order() for _ in range(3)]
    for oid in orders:
        await hook.qr(oid)
        await hook.qr(oid)
    expected = {d["event_id"] for d in await hook.deliveries()}
    assert len(expected) == 9
    await drain(dispatchers(), until=lambda: rx.ids() == expected, timeout=20)
    assert all(n == 1 for n in rx.counts.values()), rx.counts  # no duplicates
    assert rx.bad_signatures == 0
    for oid, ids in rx.per_order().items():
        assert ids == sorted(ids), f"order {oid} out of order: {ids}"
    assert not rx.script  # every scripted failure was served
    items = await hook.deliveries()
    assert {i["status"] for i in items} == {"delivered"}
    assert sum(i["attempts"] for i in items) == 9 + 8
    retried = [i for i in items if i["attempts"] > 1]
    assert retried
    r = await hook.api.client.get(f"/v1/webhook/deliveries/{retried[0]['id']}", headers=hook.auth)
    log = r.json()["attempt_log"]
    assert log[-1]["status_code"] == 200
    assert all(a["status_code"] in (500, None) for a in log[:-1])
    assert all(a["error"] for a in log[:-1])


async def test_later_event_waits_for_an_earlier_one_of_the_same_order(
    hook: Hook, dispatchers: MakeDispatcher
) -> None:
    rx = hook.rx
    rx.default = "500"
    a = await hook.order()
    b = await hook.order()
    await hook.qr(a)
    d = dispatchers(base_delay=30, max_delay=30)  # a failed one stays failed during the test
    await d.run_once()
    # The first event of each order was tried; the qr.issued of order a waits behind it.
    items = {i["event_id"]: i for i in await hook.deliveries()}
    by_order: dict[str, list[dict[str, object]]] = {}
    for i in sorted(items.values(), key=lambda i: int(i["id"])):
        by_order.setdefault(str(i["order_id"]), []).append(i)
    assert [i["status"] for i in by_order[a]] == ["failed", "pending"]
    assert [i["status"] for i in by_order[b]] == ["failed"]
    assert await d.run_once() == 0  # nothing is due: retries are 15 s or more away


async def test_dead_after_max_age_then_redeliver(hook: Hook, dispatchers: MakeDispatcher) -> None:
    rx = hook.rx
    rx.default = "500"
    offset = timedelta(0)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    d = dispatchers(clock=clock, base_delay=600, max_delay=3600, max_age=timedelta(hours=24))
    oid = await hook.order()
    await hook.qr(oid)
    assert await d.run_once() == 1
    first = sorted(await hook.deliveries(), key=lambda i: int(i["id"]))
    assert [i["status"] for i in first] == ["failed", "pending"]
    # Retries keep going inside the 24 hours...
    offset = timedelta(hours=23)
    assert await d.run_once() == 1
    items = sorted(await hook.deliveries(), key=lambda i: int(i["id"]))
    assert items[0]["status"] == "failed"
    assert items[0]["attempts"] == 2
    # ...and the first failure after them marks it dead; the next event is no longer held.
    offset = timedelta(hours=24, minutes=5)
    assert await d.run_once() == 1
    items = sorted(await hook.deliveries(), key=lambda i: int(i["id"]))
    assert [i["status"] for i in items] == ["dead", "pending"]
    assert items[0]["last_status_code"] == 500
    assert items[0]["attempts"] == 3
    assert [i["event_id"] for i in await hook.deliveries("dead")] == [items[0]["event_id"]]
    rx.default = "ok"
    assert await d.run_once() == 1
    assert rx.ids() == {items[1]["event_id"]}

    # The provider is back: redeliver the dead one, with a fresh 24-hour window.
    r = await hook.api.client.post(
        f"/v1/webhook/deliveries/{items[0]['id']}/redeliver", headers=hook.auth
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    await drain(d, until=lambda: len(rx.ids()) == 2)
    items = sorted(await hook.deliveries(), key=lambda i: int(i["id"]))
    assert [i["status"] for i in items] == ["delivered", "delivered"]

    # Redelivering a delivered event sends the same Heyan-Event-Id again.
    r = await hook.api.client.post(
        f"/v1/webhook/deliveries/{items[1]['id']}/redeliver", headers=hook.auth
    )
    assert r.status_code == 202
    await drain(d, until=lambda: rx.counts[items[1]["event_id"]] == 2)
    assert len(rx.ids()) == 2


async def test_deleting_the_webhook_kills_waiting_deliveries(hook: Hook) -> None:
    await hook.order()
    r = await hook.api.client.delete("/v1/webhook", headers=hook.auth)
    assert r.status_code == 204
    items = await hook.deliveries()
    assert [(i["status"], i["last_error"]) for i in items] == [("dead", "webhook removed")]
    r = await hook.api.client.post(
        f"/v1/webhook/deliveries/{items[0]['id']}/redeliver", headers=hook.auth
    )
    assert r.status_code == 404
    assert r.json()["code"] == "WEBHOOK_NOT_CONFIGURED"


async def test_two_dispatchers_never_send_twice(hook: Hook, dispatchers: MakeDispatcher) -> None:
    """Two engines (two connection pools) drain one outbox side by side."""
    ctx = hook.api.app.state.ctx
    settings = ctx.settings
    engines = [
        make_engine(settings.database_url, schema=settings.database_schema or None)
        for _ in range(2)
    ]
    try:
        rx = hook.rx
        rx.script.extend(["500", "close", "500"])
        orders = [await hook.order() for _ in range(6)]
        for oid in orders:
            await hook.qr(oid)
            await hook.qr(oid)
        expected = {d["event_id"] for d in await hook.deliveries()}
        ds = [dispatchers(make_sessionmaker(e), batch=3) for e in engines]
        await drain(*ds, until=lambda: rx.ids() == expected, timeout=20)
        assert all(n == 1 for n in rx.counts.values()), rx.counts
        for ids in rx.per_order().values():
            assert ids == sorted(ids)
        async with ctx.sessionmaker() as db:
            workers = set(
                (
                    await db.execute(
                        select(WebhookDelivery.status).where(
                            WebhookDelivery.provider_id == hook.provider_id
                        )
                    )
                ).scalars()
            )
        assert workers == {"delivered"}
    finally:
        for e in engines:
            await e.dispose()


async def test_lifespan_runs_the_dispatcher(
    db_settings: dict[str, str], receiver: Receiver, api: object
) -> None:
    """The background task delivers without anyone calling run_once, and stops on shutdown."""
    from tests.webhooks.conftest import stop_background

    await stop_background(api)  # type: ignore[arg-type]
    settings = make_settings(
        db_settings, webhook_poll_seconds=0.05, webhook_retry_base_seconds=0.05
    )
    app = create_app(settings, pipeline=intake_pipeline(settings))
    import httpx

    async with app.router.lifespan_context(app):
        dispatcher = app.state.webhook_dispatcher
        assert dispatcher is not None
        assert dispatcher.running
        async with app.state.ctx.sessionmaker() as db:
            _, key = await create_provider(db, "lifespan")
        auth = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.put(
                "/v1/webhook", json={"url": receiver.url, "secret": SECRET}, headers=auth
            )
            assert r.status_code == 200
            r = await c.post("/v1/webhook/test", headers=auth)
            assert r.status_code == 202
            for _ in range(200):
                if receiver.accepted:
                    break
                await asyncio.sleep(0.02)
            assert [x.type for x in receiver.accepted] == ["ping"]
            await c.delete("/v1/webhook", headers=auth)
    assert not dispatcher.running
    off = create_app(make_settings(db_settings, webhook_dispatcher=False),
                     pipeline=intake_pipeline(settings))  # fmt: skip
    async with off.router.lifespan_context(off):
        assert off.state.webhook_dispatcher is None


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    d = Dispatcher(async_sessionmaker(), base_delay=10, max_delay=3600)
    for attempt, full in [(1, 10), (2, 20), (3, 40), (9, 2560), (10, 3600), (60, 3600)]:
        delays = [d.backoff(attempt) for _ in range(200)]
        assert all(full / 2 <= x <= full for x in delays), (attempt, min(delays), max(delays))
        assert max(delays) - min(delays) > full / 10  # jittered, not lock-step
    # Retries over 24 hours: about 30 attempts, the last ones an hour apart.
    total, n = 0.0, 0
    while total < 24 * 3600:
        n += 1
        total += d.backoff(n)
    assert 25 <= n <= 60


async def test_a_slow_endpoint_does_not_hold_up_the_loop(
    hook: Hook, dispatchers: MakeDispatcher
) -> None:
    """The background loop keeps other orders moving while one send hangs."""
    rx = hook.rx
    rx.slow = 20.0  # longer than the test: order a's first send hangs throughout
    a = await hook.order()
    b = await hook.order()
    await hook.qr(b)
    await hook.qr(b)
    items = await hook.deliveries()
    b_ids = {d["event_id"] for d in items if d["order_id"] == b}
    rx.hang_ids = {d["event_id"] for d in items if d["order_id"] == a}
    d = dispatchers(timeout_seconds=15, lease_seconds=30, poll_seconds=0.02)
    d.start()
    try:
        deadline = time.monotonic() + 10
        while not b_ids <= rx.ids():
            assert time.monotonic() < deadline, "order b waited for order a's send"
            await asyncio.sleep(0.02)
        async with hook.api.app.state.ctx.sessionmaker() as db:
            first_a = (
                await db.execute(
                    select(WebhookDelivery.attempts).where(WebhookDelivery.order_id == a)
                )
            ).scalar_one()
        assert first_a == 0  # order a's send is still in flight
    finally:
        await d.stop(grace_seconds=0.1)  # cancels the hung send; its lease would expire
