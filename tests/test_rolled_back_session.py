"""Service-level tests in a transaction that is rolled back (tests/conftest.py
``rolled_back_session``): the services run as in a request, commits included, and leave
nothing behind — on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.providers import create_provider
from app.models.orders import Order, Provider
from app.orders import service, state
from app.orders.schemas import OrderIn
from tests.conftest import order_body, rolled_back_session


async def _count(db_settings: dict[str, str], model: type, name: str | None = None) -> int:
    async with rolled_back_session(db_settings) as fresh:
        q = select(func.count()).select_from(model)
        if name is not None:
            q = q.where(Provider.name == name)
        return int((await fresh.execute(q)).scalar_one())


# The app of this backend (fixture api) has configured the keys that encrypt the order's data.
@pytest.mark.usefixtures("api")
async def test_order_service_runs_and_leaves_nothing(db_settings: dict[str, str]) -> None:
    orders_before = await _count(db_settings, Order)
    async with rolled_back_session(db_settings) as db:
        provider_id, _ = await create_provider(db, "rolled-back")  # commits: a SAVEPOINT
        order_id, created = await service.create_order(db, provider_id, OrderIn(**order_body()))
        await db.commit()
        assert created
        bundle = await service.load_bundle(db, order_id, provider_id)
        assert state.derive_status(bundle.shape, bundle.evidence) == state.Status.PENDING
        assert await _count(db_settings, Provider, "rolled-back") == 0  # not visible outside
    assert await _count(db_settings, Provider, "rolled-back") == 0
    assert await _count(db_settings, Order) == orders_before


async def test_the_fixture_gives_a_session_that_sees_its_own_writes(
    rolled_back_db: AsyncSession,
) -> None:
    provider_id, _ = await create_provider(rolled_back_db, "fixture")
    row = await rolled_back_db.get(Provider, provider_id)
    assert row is not None and row.name == "fixture"
