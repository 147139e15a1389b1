"""The webhook endpoint API, the outbox written with each event, tenancy and privacy."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from app.models.webhooks import WebhookDelivery
from app.orders import service as orders
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.service import KNOWN_EVENTS, WebhookInvalid, check_url
from tests.conftest import ID_A, Api
from tests.webhooks.conftest import SECRET, Hook, drain


async def test_put_get_delete(api: Api) -> None:
    _, key = await api.new_provider()
    auth = {"Authorization": f"Bearer {key}"}
    r = await api.client.get("/v1/webhook", headers=auth)
    assert r.status_code == 404
    assert r.json()["code"] == "WEBHOOK_NOT_CONFIGURED"
    body = {"url": "https://filing.example.com/hook", "secret": SECRET, "events": ["*"]}
    r = await api.client.put("/v1/webhook", json=body, headers=auth)
    assert r.status_code == 200, r.text
    r = await api.client.get("/v1/webhook", headers=auth)
    got = r.json()
    assert got["url"] == body["url"]
    assert got["events"] == ["*"]
    assert SECRET not in r.text
    assert got["secret_masked"].startswith(SECRET[:4])
    # PUT replaces.
    body["events"] = ["part.verified", "order.status_changed"]
    r = await api.client.put("/v1/webhook", json=body, headers=auth)
    assert r.json()["events"] == ["order.status_changed", "part.verified"]
    r = await api.client.delete("/v1/webhook", headers=auth)
    assert r.status_code == 204
    r = await api.client.delete("/v1/webhook", headers=auth)
    assert r.status_code == 404
    r = await api.client.get("/v1/webhook")
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"url": "http://filing.example.com/hook"}, "WEBHOOK_URL_INSECURE"),
        ({"url": "ftp://example.com/x"}, "WEBHOOK_URL_INSECURE"),
        ({"url": "not a url"}, "WEBHOOK_URL_INVALID"),
        ({"url": "https://user:pw@example.com/"}, "WEBHOOK_URL_INVALID"),
        ({"secret": "short"}, "VALIDATION_ERROR"),
        ({"secret": " " + SECRET}, "WEBHOOK_SECRET_INVALID"),
        ({"events": ["order.created", "nope"]}, "WEBHOOK_EVENTS_INVALID"),
        ({"events": ["*", "order.created"]}, "WEBHOOK_EVENTS_INVALID"),
        ({"events": []}, "VALIDATION_ERROR"),
    ],
)
async def test_put_refuses_bad_input(api: Api, patch: dict[str, object], code: str) -> None:
    body = {"url": "https://filing.example.com/hook", "secret": SECRET, "events": ["*"], **patch}
    r = await api.client.put("/v1/webhook", json=body, headers=api.auth)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert r.json()["detail"]  # a Chinese message


def test_url_rules_by_mode() -> None:
    assert check_url("http://127.0.0.1:9000/x", dev_mode=True)
    assert check_url("http://localhost/x", dev_mode=True)
    assert check_url("https://filing.example.com/x", dev_mode=False)
    for url in ("http://127.0.0.1:9000/x", "https://127.0.0.1/x", "https://10.1.2.3/x",
                "https://[::1]/x", "https://169.254.169.254/latest"):  # fmt: skip
        with pytest.raises(WebhookInvalid):
            check_url(url, dev_mode=False)


async def _count(api: Api, provider_id: str) -> int:
    async with api.app.state.ctx.sessionmaker() as db:
        n = await db.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.provider_id == provider_id)
        )
        return int(n or 0)


async def test_outbox_row_commits_and_rolls_back_with_the_event(hook: Hook) -> None:
    api = hook.api
    oid = await hook.order()
    assert await _count(api, hook.provider_id) == 1  # order.created
    async with api.app.state.ctx.sessionmaker() as db:
        bundle = await orders.load_bundle(db, oid)
        await orders.record_event(db, bundle.order, "qr.issued", data={"scope": "order"})
        await db.rollback()
    assert await _count(api, hook.provider_id) == 1
    async with api.app.state.ctx.sessionmaker() as db:
        bundle = await orders.load_bundle(db, oid)
        await orders.record_event(db, bundle.order, "qr.issued", data={"scope": "order"})
        await db.commit()
    assert await _count(api, hook.provider_id) == 2


async def test_only_subscribed_types_are_queued(hook: Hook) -> None:
    r = await hook.api.client.put(
        "/v1/webhook",
        json={"url": hook.rx.url, "secret": SECRET, "events": ["qr.issued"]},
        headers=hook.auth,
    )
    assert r.status_code == 200
    oid = await hook.order()
    await hook.qr(oid)
    types = [d["type"] for d in await hook.deliveries()]
    assert types == ["qr.issued"]


async def test_another_providers_deliveries_are_invisible(hook: Hook) -> None:
    await hook.order()
    mine = await hook.deliveries()
    assert mine
    did = mine[0]["id"]
    other = {"Authorization": f"Bearer {(await hook.api.new_provider())[1]}"}
    c = hook.api.client
    r = await c.get("/v1/webhook/deliveries", headers=other)
    assert r.status_code == 200
    assert all(i["id"] != did for i in r.json()["items"])
    r = await c.get(f"/v1/webhook/deliveries/{did}", headers=other)
    assert r.status_code == 404
    assert r.json()["code"] == "DELIVERY_NOT_FOUND"
    r = await c.post(f"/v1/webhook/deliveries/{did}/redeliver", headers=other)
    assert r.status_code == 404
    r = await c.get(f"/v1/webhook/deliveries/{did}", headers=hook.auth)
    assert r.status_code == 200
    r = await c.get("/v1/webhook/deliveries/nope", headers=hook.auth)
    assert r.status_code == 404


async def test_listing_pages_and_filters(hook: Hook) -> None:
    oid = await hook.order()
    for _ in range(4):
        await hook.qr(oid)
    c = hook.api.client
    r = await c.get("/v1/webhook/deliveries", params={"limit": 2}, headers=hook.auth)
    page = r.json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    assert int(page["items"][0]["id"]) > int(page["items"][1]["id"])  # newest first
    assert len(await hook.deliveries()) == 5
    assert len(await hook.deliveries("pending")) == 5
    assert await hook.deliveries("delivered") == []
    r = await c.get("/v1/webhook/deliveries", params={"status": "bogus"}, headers=hook.auth)
    assert r.status_code == 422
    r = await c.get("/v1/webhook/deliveries", params={"cursor": "x"}, headers=hook.auth)
    assert r.json()["code"] == "CURSOR_INVALID"


async def test_full_flow_payloads_carry_no_personal_data(
    hook: Hook, dispatchers: Callable[..., Dispatcher]
) -> None:
    from tests.flows import face, open_session, upload

    api = hook.api
    oid = await hook.order()
    r = await api.client.post(f"/v1/orders/{oid}/qr", json={"scope": "order"}, headers=hook.auth)
    token = r.json()["token"]
    bad = await api.client.post(
        "/m/v1/sessions", json={"qr_token": token, "platform": "dev", "mobile": "13900139000"}
    )
    assert bad.status_code == 409, bad.text  # scan.refused
    s = await open_session(api, token)
    steps = ("subject_document", "subject_principal_id_front", "subject_principal_id_back")
    for seed, step in enumerate(steps):
        r = await upload(api, s, step, seed=seed)
        assert r.status_code == 201, r.text
    r = await face(api, s)
    assert r.status_code == 201, r.text
    r = await upload(api, s, "verification_sheet", seed=9)
    assert r.status_code == 201, r.text
    expected = len(await hook.deliveries())
    d = dispatchers()
    await drain(d, until=lambda: len(hook.rx.ids()) >= expected)
    types = {x.type for x in hook.rx.accepted}
    assert {"order.created", "session.opened", "scan.refused", "part.verified",
            "order.status_changed", "capture.accepted"} <= types  # fmt: skip
    raw = b"".join(x.raw for x in hook.rx.accepted).decode()
    for secret in (ID_A, "张三", "13800138000", "13900139000", "203.0.113.7"):
        assert secret not in raw
    statuses = [x.payload["data"].get("to") for x in hook.rx.accepted
                if x.type == "order.status_changed"]  # fmt: skip
    assert statuses[-1] == "complete"
    for x in hook.rx.accepted:
        assert set(x.payload) == {"id", "type", "created_at", "order_id", "external_id",
                                  "part", "data", "audit_hash"}  # fmt: skip
        assert len(x.payload["audit_hash"]) == 64
        assert json.loads(x.raw) == x.payload


async def test_racing_first_puts_leave_one_endpoint(api: Api) -> None:
    import asyncio

    from app.models.webhooks import WebhookEndpoint

    provider_id, key = await api.new_provider()
    auth = {"Authorization": f"Bearer {key}"}
    bodies = [
        {"url": f"https://filing.example.com/{i}", "secret": SECRET, "events": ["*"]}
        for i in range(4)
    ]
    rs = await asyncio.gather(
        *(api.client.put("/v1/webhook", json=b, headers=auth) for b in bodies)
    )
    assert [r.status_code for r in rs] == [200] * 4, [r.text for r in rs]
    async with api.app.state.ctx.sessionmaker() as db:
        n = await db.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.provider_id == provider_id)
        )
    assert n == 1


def test_every_event_type_written_is_subscribable() -> None:
    """A literal type passed to record_event anywhere in app/ must be in KNOWN_EVENTS."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "app"
    written: dict[str, str] = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or len(node.args) < 3:
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name != "record_event":
                continue
            for sub in ast.walk(node.args[2]):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    written[sub.value] = str(path.relative_to(root.parent))
    assert "order.created" in written
    unknown = {t: where for t, where in written.items() if t not in KNOWN_EVENTS}
    assert not unknown, f"add these to app.webhooks.service.KNOWN_EVENTS: {unknown}"
