"""The request's unit of work (app.deps.get_db): one commit when the endpoint returns, a
rollback when it raises, a commit for an error that keeps its writes, and the commit before
the response is sent. Routes are added to the real app, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter
from sqlalchemy import select

from app.core.errors import AppError
from app.deps import DbDep
from app.models.orders import Provider, new_id
from tests.conftest import Api


class _Refused(AppError):
    status = 409
    code = "TEST_REFUSED"


class _RefusedOnRecord(AppError):
    status = 429
    code = "TEST_REFUSED_ON_RECORD"
    keeps_writes = True


def _routes(api: Api) -> None:
    router = APIRouter()

    @router.post("/_uow/{mode}/{name}")
    async def write(mode: str, name: str, db: DbDep) -> dict[str, Any]:
        db.add(Provider(id=new_id(), name=name))
        await db.flush()
        if mode == "refuse":
            raise _Refused(zh="拒绝", en="refused")
        if mode == "record":
            raise _RefusedOnRecord(zh="拒绝并记录", en="refused, on record")
        if mode == "crash":
            raise RuntimeError("boom")
        return {"ok": True}

    api.app.include_router(router)


async def _exists(api: Api, name: str) -> bool:
    async with api.app.state.ctx.sessionmaker() as db:
        return (await db.execute(select(Provider).where(Provider.name == name))).first() is not None


async def test_commit_on_return_rollback_on_error(api: Api) -> None:
    _routes(api)
    r = await api.client.post("/_uow/ok/uow-ok")
    assert r.status_code == 200
    # Committed before the response was sent: visible from another session at once.
    assert await _exists(api, "uow-ok")

    r = await api.client.post("/_uow/refuse/uow-refused")
    assert r.status_code == 409 and r.json()["code"] == "TEST_REFUSED"
    assert not await _exists(api, "uow-refused")

    r = await api.client.post("/_uow/record/uow-recorded")
    assert r.status_code == 429 and r.json()["code"] == "TEST_REFUSED_ON_RECORD"
    assert await _exists(api, "uow-recorded")


async def test_unexpected_error_rolls_back(api: Api) -> None:
    _routes(api)
    # The in-process transport re-raises what the app raised after the 500 went out; a
    # server does not, so the client here is told not to.
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post("/_uow/crash/uow-crashed")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert not await _exists(api, "uow-crashed")
