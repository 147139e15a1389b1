"""The SMS phone proof through the public API, on SQLite and PostgreSQL: a code to the
order's own number, then a session; single use, five wrong tries, expiry, the cool-down, the
daily caps, only keyed hashes stored, every send and failure an event; the vendors' gateways
end to end against the local vendor servers."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.access.providers import create_provider
from app.main import create_app
from app.models.orders import Event
from app.models.sms import SmsCode
from tests.conftest import Api, intake_pipeline, make_settings, person
from tests.flows import new_order, qr
from tests.phone_match.sms_vendors import (
    ALIYUN_ID,
    ALIYUN_SECRET,
    TENCENT_APP,
    TENCENT_ID,
    TENCENT_KEY,
    vendor_server,
)

_mobiles = itertools.count(13900000000 + 1)
_addresses = itertools.count(1)


def fresh_mobile() -> str:
    return str(next(_mobiles))


@asynccontextmanager
async def _app(db_settings: dict[str, str], **overrides: Any) -> AsyncIterator[Api]:
    settings = make_settings(db_settings, sms_mobile_daily_limit=3, **overrides)
    app = create_app(settings, pipeline=intake_pipeline(settings))
    async with app.router.lifespan_context(app):
        async with app.state.ctx.sessionmaker() as db:
            provider_id, key = await create_provider(db, "sms-provider")
        transport = httpx.ASGITransport(app=app, client=(f"198.51.100.{next(_addresses)}", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, app, key, provider_id)


@pytest.fixture
async def sms_api(db_settings: dict[str, str]) -> AsyncIterator[Api]:
    async with _app(db_settings) as api:
        yield api


async def new_qr(api: Api, mobile: str | None = None) -> tuple[str, str, str]:
    mobile = mobile or fresh_mobile()
    order = await new_order(api, principal=person(mobile=mobile))
    return order["id"], await qr(api, order["id"]), mobile


def outbox(api: Api) -> list[tuple[str, str]]:
    return list(api.app.state.ctx.phones.sms_gateway.outbox)


async def send(api: Api, token: str, **kw: Any) -> httpx.Response:
    return await api.client.post("/m/v1/sms-codes", json={"qr_token": token, **kw})


async def login(api: Api, token: str, code: str) -> httpx.Response:
    return await api.client.post(
        "/m/v1/sessions", json={"qr_token": token, "platform": "sms", "code": code,
                                "device_id": "browser-1"},
    )  # fmt: skip


async def events(api: Api, order_id: str) -> list[Event]:
    async with api.app.state.ctx.sessionmaker() as db:
        rows = await db.execute(select(Event).where(Event.order_id == order_id).order_by(Event.id))
        return list(rows.scalars())


async def shift(api: Api, **delta: timedelta) -> None:
    """Move every code's times back (as if that much time had passed)."""
    async with api.app.state.ctx.sessionmaker() as db:
        for row in (await db.execute(select(SmsCode))).scalars():
            for k, v in delta.items():
                setattr(row, k, getattr(row, k) - v)
        await db.commit()


async def test_code_to_the_orders_number_opens_a_session(sms_api: Api) -> None:
    order_id, token, mobile = await new_qr(sms_api)
    masked = mobile[:3] + "****" + mobile[-4:]

    preview = await send(sms_api, token, preview=True)
    assert preview.status_code == 200, preview.text
    assert preview.json() | {} == {"sent": False, "mobile_masked": masked, "code_length": 6,
                                   "expires_in_seconds": 300, "resend_after_seconds": 0,
                                   "expires_at": None}  # fmt: skip
    assert outbox(sms_api)[-1:] != [(masked, "")]  # nothing sent by a preview
    sent_before = len(outbox(sms_api))

    r = await send(sms_api, token)
    assert r.status_code == 200, r.text
    assert r.json()["sent"] is True and r.json()["mobile_masked"] == masked
    assert len(outbox(sms_api)) == sent_before + 1
    to, code = outbox(sms_api)[-1]
    assert to == masked and len(code) == 6 and code.isdigit()
    assert (await send(sms_api, token, preview=True)).json()["resend_after_seconds"] > 0

    r = await login(sms_api, token, code)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["order"]["person"]["mobile"] == masked and body["session_token"]
    assert (await sms_api.client.get("/m/v1/session", headers={
        "Authorization": f"Bearer {body['session_token']}"})).status_code == 200  # fmt: skip

    # Single use: the same code again is refused.
    again = await login(sms_api, token, code)
    assert (again.status_code, again.json()["code"]) == (401, "SMS_CODE_EXPIRED")
    assert again.json()["detail"]

    # Only keyed hashes are stored.
    async with sms_api.app.state.ctx.sessionmaker() as db:
        (row,) = (await db.execute(select(SmsCode).where(SmsCode.order_id == order_id))).scalars()
    assert row.status == "sent" and row.used_at is not None
    stored = " ".join(str(v) for v in vars(row).values())
    assert code not in stored and mobile not in stored
    types = [e.type for e in await events(sms_api, order_id)]
    assert "phone_code.sent" in types and "phone_code.verified" in types
    assert types.index("phone_code.verified") < types.index("session.opened")
    assert [e.platform for e in await events(sms_api, order_id) if e.type == "session.opened"] == [
        "sms"
    ]


async def test_five_wrong_tries_kill_the_code(sms_api: Api) -> None:
    order_id, token, _ = await new_qr(sms_api)
    assert (await send(sms_api, token)).status_code == 200
    code = outbox(sms_api)[-1][1]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    lefts = []
    for _ in range(5):
        r = await login(sms_api, token, wrong)
        assert (r.status_code, r.json()["code"]) == (401, "SMS_CODE_INVALID"), r.text
        lefts.append(r.json()["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    assert "还可尝试4次" not in r.json()["detail"]
    # The right code now comes too late: this code is dead, ask for a new one.
    r = await login(sms_api, token, code)
    assert (r.status_code, r.json()["code"]) == (401, "SMS_CODE_EXPIRED")
    failed = [
        e.data["reason"] for e in await events(sms_api, order_id) if e.type == "phone_code.failed"
    ]
    assert failed == ["WRONG_CODE"] * 5 + ["TOO_MANY_TRIES"]
    r = await login(sms_api, token, "12ab")  # malformed counts as a try on a live code only
    assert r.json()["code"] == "SMS_CODE_EXPIRED"


async def test_expired_code_and_no_code(sms_api: Api) -> None:
    _, token, _ = await new_qr(sms_api)
    r = await login(sms_api, token, "123456")
    assert (r.status_code, r.json()["code"]) == (401, "SMS_CODE_EXPIRED")
    assert r.json()["detail"] == "请先获取短信验证码"
    assert (await send(sms_api, token)).status_code == 200
    code = outbox(sms_api)[-1][1]
    await shift(sms_api, expires_at=timedelta(seconds=301))
    r = await login(sms_api, token, code)
    assert (r.status_code, r.json()["code"]) == (401, "SMS_CODE_EXPIRED")
    assert "过期" in r.json()["detail"]


async def test_cooldown_then_resend_replaces_the_old_code(sms_api: Api) -> None:
    order_id, token, _ = await new_qr(sms_api)
    assert (await send(sms_api, token)).status_code == 200
    first = outbox(sms_api)[-1][1]
    r = await send(sms_api, token)
    assert (r.status_code, r.json()["code"]) == (429, "SMS_RATE_LIMITED")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.json()["reason"] == "resend" and r.json()["retry_after_seconds"] == int(
        r.headers["Retry-After"]
    )

    await shift(sms_api, created_at=timedelta(seconds=61))
    assert (await send(sms_api, token)).status_code == 200
    second = outbox(sms_api)[-1][1]
    if first != second:  # a one-in-a-million repeat would make this check meaningless
        r = await login(sms_api, token, first)
        assert r.json()["code"] == "SMS_CODE_INVALID"
    assert (await login(sms_api, token, second)).status_code == 201
    limited = [e for e in await events(sms_api, order_id) if e.type == "phone_code.rate_limited"]
    assert [e.data["reason"] for e in limited] == ["resend"]


async def test_daily_caps_per_mobile_and_address(db_settings: dict[str, str]) -> None:
    async with _app(db_settings, sms_address_daily_limit=4) as api:
        mobile = fresh_mobile()
        for _ in range(3):  # SMS_MOBILE_DAILY_LIMIT=3 here
            _, token, _ = await new_qr(api, mobile)
            assert (await send(api, token)).status_code == 200
            await shift(api, created_at=timedelta(seconds=61))
        _, token, _ = await new_qr(api, mobile)
        r = await send(api, token)
        assert (r.status_code, r.json()["reason"]) == (429, "mobile_daily")
        assert int(r.headers["Retry-After"]) > 23 * 3600
        # Another number from the same address: one more, then the address cap (4).
        _, token, _ = await new_qr(api)
        assert (await send(api, token)).status_code == 200
        await shift(api, created_at=timedelta(seconds=61))
        _, token, _ = await new_qr(api)
        r = await send(api, token)
        assert (r.status_code, r.json()["reason"]) == (429, "address_daily")
        # A day later the caps are free again.
        await shift(api, created_at=timedelta(hours=24))
        assert (await send(api, token)).status_code == 200


async def test_sms_off_in_prod_like_settings(db_settings: dict[str, str]) -> None:
    async with _app(
        db_settings,
        app_env="test",
        sms_gateway="",
    ) as api:
        api.app.state.ctx.settings.app_env = "prod"  # dev_mode off, nothing else changed
        _, token, _ = await new_qr(api)
        r = await send(api, token)
        assert (r.status_code, r.json()["code"]) == (503, "PLATFORM_NOT_CONFIGURED")


@pytest.mark.parametrize("vendor", ["aliyun", "tencent"])
async def test_vendor_gateways_end_to_end(db_settings: dict[str, str], vendor: str) -> None:
    with vendor_server(vendor) as server:
        cfg: dict[str, Any] = {"sms_gateway": vendor, "sms_sign_name": "核验测试",
                               "sms_template_id": "SMS_1" if vendor == "aliyun" else "1110"}  # fmt: skip
        if vendor == "aliyun":
            cfg |= {"aliyun_sms_access_key_id": ALIYUN_ID,
                    "aliyun_sms_access_key_secret": ALIYUN_SECRET,
                    "aliyun_sms_endpoint": server.url}  # fmt: skip
        else:
            cfg |= {"tencent_sms_secret_id": TENCENT_ID, "tencent_sms_secret_key": TENCENT_KEY,
                    "tencent_sms_app_id": TENCENT_APP, "tencent_sms_endpoint": server.url}  # fmt: skip
        async with _app(db_settings, **cfg) as api:
            order_id, token, _ = await new_qr(api)
            server.state.script = ["5xx"]
            r = await send(api, token)
            assert (r.status_code, r.json()["code"]) == (503, "SMS_GATEWAY_UNAVAILABLE")
            assert r.headers["Retry-After"]
            server.state.script = ["throttle"]
            r = await send(api, token)  # a failed send does not start the cool-down
            assert (r.status_code, r.json()["code"]) == (429, "SMS_RATE_LIMITED")
            assert r.json()["reason"] == "gateway"
            server.state.script = ["template"]
            assert (await send(api, token)).json()["code"] == "SMS_GATEWAY_UNAVAILABLE"
            r = await send(api, token)
            assert r.status_code == 200, r.text
            assert all(s.signature_ok for s in server.state.seen) and len(server.state.seen) == 4
            code = server.state.codes[-1]
            assert (await login(api, token, code)).status_code == 201
            failed = [e for e in await events(api, order_id) if e.type == "phone_code.send_failed"]
            assert len(failed) == 3 and all(e.data["gateway"] == vendor for e in failed)
