"""The hot reads (app.core.db.OneRow / Rows): raw asyncpg on the engine's pool, with the
pool's rules kept (a cancelled read never hands a busy connection to the next request)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import bindparam, literal_column, select

from app.core.db import OneRow, Rows, make_engine
from tests.conftest import PG_URL, require_postgres


async def test_cancelled_read_does_not_return_its_connection_busy() -> None:
    require_postgres()
    engine = make_engine(PG_URL, pool_size=1, pool_timeout=5)
    slow = OneRow(select(literal_column("pg_sleep(30)").label("x")))
    pid = OneRow(select(literal_column("pg_backend_pid()").label("pid")))
    try:
        before = (await pid.first(engine, {}))["pid"]
        task = asyncio.create_task(slow.first(engine, {}))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        started = time.monotonic()
        after = (await pid.first(engine, {}))["pid"]
        # Not the connection with pg_sleep(30) in flight: a new one, at once.
        assert after != before
        assert time.monotonic() - started < 5
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("url", ["sqlite", "postgresql"])
async def test_rows_have_attributes_and_bind_by_name(url: str, tmp_path: object) -> None:
    if url == "postgresql":
        require_postgres()
        engine = make_engine(PG_URL)
    else:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    stmt = select(
        (bindparam("a") + literal_column("1")).label("n"), bindparam("b").label("s")
    ).where(bindparam("a") > bindparam("c"))
    try:
        rows = await Rows(stmt).all(engine, {"a": 41, "b": "x", "c": 0})
        assert [(r.n, r.s) for r in rows] == [(42, "x")]
        assert await Rows(stmt).all(engine, {"a": 0, "b": "x", "c": 1}) == []
        row = await OneRow(stmt).first(engine, {"a": 1, "b": "y", "c": 0})
        assert (row["n"], row["s"]) == (2, "y")
        with pytest.raises(AttributeError):
            _ = rows[0].missing
    finally:
        await engine.dispose()
