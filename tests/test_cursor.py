"""The `changed_since` cursor never skips a change whose transaction commits late."""

from __future__ import annotations

import asyncio

import pytest

from app.models.orders import Order
from app.orders.service import record_event
from tests.conftest import Api, order_body


async def _create(api: Api) -> str:
    r = await api.client.post("/v1/orders", json=order_body(), headers=api.auth)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_late_commit_is_not_skipped_by_the_cursor(api: Api) -> None:
    """A takes an event id first but commits after B: a poll in between must not hand out
    B's id as the cursor while A's smaller id is still invisible."""
    first, second = await _create(api), await _create(api)
    r = await api.client.get("/v1/orders", params={"limit": 500}, headers=api.auth)
    cursor = r.json()["next_cursor"]
    while r.json()["has_more"]:
        r = await api.client.get(
            "/v1/orders", params={"changed_since": cursor, "limit": 500}, headers=api.auth
        )
        cursor = r.json()["next_cursor"]

    maker = api.app.state.ctx.sessionmaker
    async with maker() as db_a, maker() as db_b:
        if db_a.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite has a single writer: ids always commit in order")
        order_a = await db_a.get(Order, first)
        assert order_a is not None
        await record_event(db_a, order_a, "test.late")

        async def write_b() -> None:
            order_b = await db_b.get(Order, second)
            assert order_b is not None
            await record_event(db_b, order_b, "test.early")
            await db_b.commit()

        task = asyncio.create_task(write_b())
        await asyncio.sleep(0.5)
        # B waits for A: its event id is drawn only after A commits.
        assert not task.done()
        r = await api.client.get("/v1/orders", params={"changed_since": cursor}, headers=api.auth)
        assert r.json()["items"] == []
        await db_a.commit()
        await asyncio.wait_for(task, 10)

    r = await api.client.get("/v1/orders", params={"changed_since": cursor}, headers=api.auth)
    ids = [item["id"] for item in r.json()["items"]]
    assert ids == [first, second]
