"""Abuse caps per identity (ABUSE_CAPS): per ID number (verifications started, face
failures), per mobile, per device id and per provider. Each refusal is a 429 problem+json with
Retry-After and its own code, an abuse.limited event and a metric; on the database backend
(SQLite and PostgreSQL here) two app instances share one count; the table holds keyed hashes
only. Each test uses people, phones and devices of its own (the windows table outlives it)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select, text

from app.access.providers import create_provider
from app.access.ratelimit import ABUSE_REFUSALS, IdentityCaps
from app.config import DEFAULT_ABUSE_CAPS, Settings
from app.models.orders import Event
from app.orders import abuse
from app.orders import service as orders
from tests.conftest import make_id, make_settings, order_body, person
from tests.flows import bearer, challenge, upload
from tests.test_faults import _app_client, _same_keys

WINDOW = 3600


def _caps(**on: int) -> dict[str, list[tuple[int, int]]]:
    """Every cap off but those named (cap with '.' as '__': limit per WINDOW)."""
    caps: dict[str, list[tuple[int, int]]] = {c: [] for c in DEFAULT_ABUSE_CAPS}
    for name, limit in on.items():
        caps[name.replace("__", ".")] = [(limit, WINDOW)]
    return caps


async def _fresh_window() -> None:
    """Keep a test's hits inside one window (a boundary resets the counts)."""
    if time.time() % WINDOW > WINDOW - 30:
        await asyncio.sleep(WINDOW - time.time() % WINDOW + 1)


class Env:
    def __init__(self, client: httpx.AsyncClient, app: Any, key: str) -> None:
        self.client, self.app, self.key = client, app, key

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def order(self, number: str, mobile: str) -> str:
        body = order_body(principal=person(number=number, mobile=mobile))
        r = await self.client.post("/v1/orders", json=body, headers=self.auth)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def qr(self, oid: str) -> str:
        r = await self.client.post(f"/v1/orders/{oid}/qr", json={"scope": "order"},
                                   headers=self.auth)  # fmt: skip
        assert r.status_code == 201, r.text
        return str(r.json()["token"])

    async def scan(self, token: str, mobile: str, device: str) -> httpx.Response:
        return await self.client.post(
            "/m/v1/sessions",
            json={"qr_token": token, "platform": "dev", "mobile": mobile, "device_id": device},
        )

    async def events(self, oid: str) -> list[Event]:
        async with self.app.state.ctx.sessionmaker() as db:
            rows = await db.execute(select(Event).where(Event.order_id == oid).order_by(Event.id))
            return list(rows.scalars())


def _person() -> tuple[str, str, str]:
    """A made-up ID number (valid check digit), mobile and device id of this test alone."""
    birth = f"19900{random.randint(1, 9)}{random.randint(10, 28)}"
    number = make_id("110105" + birth + "".join(random.choices("0123456789", k=3)))
    return number, "139" + "".join(random.choices("0123456789", k=8)), uuid.uuid4().hex


MakeEnv = Callable[..., AbstractAsyncContextManager[Env]]


@pytest.fixture
def env(db_settings: dict[str, str]) -> MakeEnv:
    @asynccontextmanager
    async def make(backend: str = "auto", **caps: int) -> AsyncIterator[Env]:
        settings = make_settings(
            db_settings, abuse_caps=_caps(**caps), rate_limit_backend=backend,
            webhook_dispatcher=False, retention_interval_seconds=0, sms_sweeper=False,
            **_same_keys(db_settings),
        )  # fmt: skip
        async with _app_client(settings) as (client, app):
            async with app.state.ctx.sessionmaker() as db:
                _, key = await create_provider(db, "abuse-test")
            yield Env(client, app, key)

    return make


def _refused(r: httpx.Response, code: str, limit: int) -> dict[str, Any]:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code
    assert "稍后" in body["detail"] and body["detail_en"]
    assert body["limit"] == limit and body["window_seconds"] == WINDOW
    assert 1 <= int(r.headers["Retry-After"]) <= WINDOW
    assert body["retry_after"] == int(r.headers["Retry-After"])
    return body


async def test_id_number_verifications(env: MakeEnv) -> None:
    await _fresh_window()
    number, mobile, device = _person()
    before = ABUSE_REFUSALS.labels("id_number.verifications")._value.get()
    async with env(id_number__verifications=3) as e:
        # Three orders for the same person, from three phones and devices: one ID number.
        tokens = [await e.qr(await e.order(number, mobile)) for _ in range(3)]
        for i in range(3):
            assert (await e.scan(tokens[i], mobile, f"{device}-{i}")).status_code == 201
        oid = await e.order(number, mobile)
        body = _refused(await e.scan(await e.qr(oid), mobile, device), "IDENTITY_RATE_LIMITED", 3)
        assert number not in str(body) and mobile not in str(body)
        (ev,) = [x for x in await e.events(oid) if x.type == "abuse.limited"]
        assert ev.data["cap"] == "id_number.verifications" and number not in str(ev.data)
        assert ABUSE_REFUSALS.labels("id_number.verifications")._value.get() == before + 1
        # Another person is not held back by this one's cap.
        other, other_mobile, _ = _person()
        token = await e.qr(await e.order(other, other_mobile))
        assert (await e.scan(token, other_mobile, device + "x")).status_code == 201


async def test_mobile_verifications(env: MakeEnv) -> None:
    await _fresh_window()
    number, mobile, device = _person()
    async with env(mobile__verifications=2) as e:
        token = await e.qr(await e.order(number, mobile))
        for _ in range(2):
            assert (await e.scan(token, mobile, device)).status_code == 201
        _refused(await e.scan(token, mobile, device), "MOBILE_RATE_LIMITED", 2)
        # A phone that is not the person's counts too (before the mismatch is found).
        other_number, other_mobile, _ = _person()
        token2 = await e.qr(await e.order(other_number, other_mobile))
        _refused(await e.scan(token2, mobile, device + "y"), "MOBILE_RATE_LIMITED", 2)


async def test_device_verifications(env: MakeEnv) -> None:
    await _fresh_window()
    _, _, device = _person()
    async with env(device__verifications=2) as e:
        for _ in range(2):  # two people on one device
            number, mobile, _ = _person()
            token = await e.qr(await e.order(number, mobile))
            assert (await e.scan(token, mobile, device)).status_code == 201
        number, mobile, _ = _person()
        oid = await e.order(number, mobile)
        _refused(await e.scan(await e.qr(oid), mobile, device), "DEVICE_RATE_LIMITED", 2)
        # The same person on another device passes.
        assert (await e.scan(await e.qr(oid), mobile, device + "z")).status_code == 201


async def test_provider_verifications(env: MakeEnv) -> None:
    await _fresh_window()
    async with env(provider__verifications=2) as e:
        for _ in range(2):
            number, mobile, device = _person()
            assert (await e.scan(await e.qr(await e.order(number, mobile)), mobile,
                                 device)).status_code == 201  # fmt: skip
        number, mobile, device = _person()
        token = await e.qr(await e.order(number, mobile))
        _refused(await e.scan(token, mobile, device), "PROVIDER_RATE_LIMITED", 2)
        # Another provider's orders are counted apart.
        async with e.app.state.ctx.sessionmaker() as db:
            _, key = await create_provider(db, "abuse-other")
        other = Env(e.client, e.app, key)
        token = await other.qr(await other.order(number, mobile))
        assert (await other.scan(token, mobile, device)).status_code == 201


async def test_face_failures_per_id_number(env: MakeEnv) -> None:
    """Two refused face captures of one person: the next face capture is refused (429)
    before anything is analysed, on any order of theirs."""
    await _fresh_window()
    number, mobile, device = _person()
    async with env(id_number__face_failures=2) as e:
        oid = await e.order(number, mobile)
        r = await e.scan(await e.qr(oid), mobile, device)
        assert r.status_code == 201
        s = r.json()
        for step in ("subject_document", "subject_principal_id_front",
                     "subject_principal_id_back"):  # fmt: skip
            assert (await upload(e, s, step)).status_code == 201  # type: ignore[arg-type]
        ctx = e.app.state.ctx
        async with ctx.sessionmaker() as db:
            bundle = await orders.load_bundle(db, oid)
        principal = bundle.principals[bundle.order.subject_principal_id]
        for _ in range(2):  # what take_capture counts when a face capture is refused
            await abuse.face_failed(ctx, principal)
        ch = await challenge(e, s)  # type: ignore[arg-type]
        assert ch.status_code == 201, ch.text
        r = await e.client.post(
            "/m/v1/captures/face", files={"video": ("f.mp4", b"x" * 64, "video/mp4")},
            data={"challenge_id": ch.json()["challenge_id"]}, headers=bearer(s),
        )  # fmt: skip
        _refused(r, "FACE_FAILURES_LIMITED", 2)
        (ev,) = [x for x in await e.events(oid) if x.type == "abuse.limited"]
        assert ev.data["cap"] == "id_number.face_failures" and ev.session_id is not None


async def test_face_failure_gate_refuses_at_the_limit() -> None:
    """Looking (n=0) refuses once the count is at the limit; counting refuses past it."""
    await _fresh_window()
    number, _, _ = _person()
    caps = IdentityCaps(_caps(id_number__face_failures=2), engine=None)
    hmac = "h-" + number
    assert await caps.hit("id_number.face_failures", hmac, n=0) is None
    assert await caps.hit("id_number.face_failures", hmac) is None
    assert await caps.hit("id_number.face_failures", hmac, n=0) is None
    assert await caps.hit("id_number.face_failures", hmac) is None
    hit = await caps.hit("id_number.face_failures", hmac, n=0)
    assert hit is not None and hit.limit == 2 and 1 <= hit.retry_after <= WINDOW


async def test_two_app_instances_share_the_caps(env: MakeEnv) -> None:
    await _fresh_window()
    number, mobile, device = _person()
    async with (
        env("database", id_number__verifications=3) as one,
        env("database", id_number__verifications=3) as two,
    ):
        assert one.app.state.ctx.engine is not two.app.state.ctx.engine
        tokens = [await one.qr(await one.order(number, mobile)) for _ in range(4)]
        codes = [
            (await e.scan(t, mobile, f"{device}-{i}")).status_code
            for i, (e, t) in enumerate(zip((one, two, one, two), tokens, strict=True))
        ]
        assert codes == [201, 201, 201, 429]
        # Only keyed hashes in the shared table: no ID number, mobile or device in clear.
        async with one.app.state.ctx.sessionmaker() as db:
            keys = list((await db.execute(text("SELECT key FROM rate_limit_windows"))).scalars())
        assert keys and all(len(k) == 64 for k in keys)
        joined = " ".join(keys)
        assert number not in joined and mobile not in joined and device not in joined


def test_the_caps_table_is_checked() -> None:
    with pytest.raises(ValidationError, match="ABUSE_CAPS"):
        Settings(app_env="test", abuse_caps={"id_number.nope": [(1, 60)]})
    with pytest.raises(ValidationError, match="ABUSE_CAPS"):
        Settings(app_env="test", abuse_caps={"device.verifications": [(0, 60)]})
    table = Settings(app_env="test", abuse_caps={"device.verifications": [(5, 600)]})
    caps = table.abuse_cap_table()
    assert caps["device.verifications"] == [(5, 600)]
    assert caps["id_number.verifications"] == [(15, 60), (30, 86400)]  # the default kept
    assert caps["id_number.face_failures"] == [(5, 180)]
