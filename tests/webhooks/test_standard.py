"""Standard Webhooks per endpoint, checked with the reference library (standardwebhooks, PyPI):
the three headers, whsec_ secrets, both signatures during a rotation's overlap, and the
payload cap with thin events."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.models.orders import utcnow
from app.models.webhooks import WebhookEndpoint
from app.orders import service as orders
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.signing import new_standard_secret, standard_key
from tests.webhooks.conftest import SECRET, Hook, Received, drain

MakeDispatcher = Callable[..., Dispatcher]


async def _put(hook: Hook, **body: Any) -> dict[str, Any]:
    payload = {"url": hook.rx.url, "secret": SECRET, "events": ["*"], **body}
    r = await hook.api.client.put("/v1/webhook", json=payload, headers=hook.auth)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def _standard(hook: Hook, secret: str, **body: Any) -> dict[str, Any]:
    hook.rx.scheme, hook.rx.secret = "standard", secret
    return await _put(hook, secret=secret, signature_scheme="standard", **body)


def _verifies(secret: str, got: Received) -> bool:
    try:
        Webhook(secret).verify(got.raw, got.headers)
    except WebhookVerificationError:
        return False
    return True


async def _one_delivery(hook: Hook, dispatchers: MakeDispatcher) -> Received:
    before = len(hook.rx.accepted)
    r = await hook.api.client.post("/v1/webhook/test", headers=hook.auth)
    assert r.status_code == 202, r.text
    await drain(dispatchers(), until=lambda: len(hook.rx.accepted) == before + 1)
    return hook.rx.accepted[-1]


async def test_standard_scheme_verifies_with_the_reference_library(
    hook: Hook, dispatchers: MakeDispatcher
) -> None:
    secret = new_standard_secret()
    view = await _standard(hook, secret)
    assert view["signature_scheme"] == "standard"
    assert view["previous_secret_valid_until"] is None
    oid = await hook.order()
    await hook.qr(oid)
    expected = {d["event_id"] for d in await hook.deliveries()}
    await drain(dispatchers(), until=lambda: hook.rx.ids() == expected)
    assert hook.rx.bad_signatures == 0
    for got in hook.rx.accepted:
        h = {k.lower(): v for k, v in got.headers.items()}
        assert h["webhook-id"] == got.event_id == h["heyan-event-id"]
        assert "heyan-signature" not in h
        assert len(h["webhook-signature"].split(" ")) == 1
        assert h["webhook-signature"].startswith("v1,")
        assert _verifies(secret, got)
        assert not _verifies(new_standard_secret(), got)
        # The signature covers the body and the id.
        tampered = Received(**{**got.__dict__, "raw": got.raw.replace(b"}", b" }", 1)})
        assert not _verifies(secret, tampered)
        other_id = {**got.headers, "webhook-id": got.event_id + "0"}
        assert not _verifies(secret, Received(**{**got.__dict__, "headers": other_id}))


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    hook: Hook, dispatchers: MakeDispatcher
) -> None:
    old, new = new_standard_secret(), new_standard_secret()
    await _standard(hook, old)
    view = await _standard(hook, new)
    assert view["previous_secret_valid_until"] is not None
    got = await _one_delivery(hook, dispatchers)
    sigs = {k.lower(): v for k, v in got.headers.items()}["webhook-signature"].split(" ")
    assert len(sigs) == 2
    assert _verifies(new, got) and _verifies(old, got)  # a receiver still on the old one
    assert not _verifies(new_standard_secret(), got)
    # The overlap ends: only the new secret signs.
    async with hook.api.app.state.ctx.sessionmaker() as db:
        await db.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.provider_id == hook.provider_id)
            .values(previous_until=utcnow())
        )
        await db.commit()
    got = await _one_delivery(hook, dispatchers)
    assert _verifies(new, got) and not _verifies(old, got)
    r = await hook.api.client.get("/v1/webhook", headers=hook.auth)
    assert r.json()["previous_secret_valid_until"] is None


async def test_a_change_of_scheme_keeps_no_old_secret(
    hook: Hook, dispatchers: MakeDispatcher
) -> None:
    await _put(hook)  # heyan, SECRET
    secret = new_standard_secret()
    view = await _standard(hook, secret)
    assert view["previous_secret_valid_until"] is None
    got = await _one_delivery(hook, dispatchers)
    assert len({k.lower(): v for k, v in got.headers.items()}["webhook-signature"].split()) == 1
    # And back to heyan: README's check of Heyan-Signature passes again.
    hook.rx.scheme, hook.rx.secret = "heyan", SECRET
    await _put(hook)
    got = await _one_delivery(hook, dispatchers)
    assert "Heyan-Signature" in got.headers and "webhook-signature" not in {
        k.lower() for k in got.headers
    }


@pytest.mark.parametrize(
    "secret",
    [SECRET, "whsec_" + "A" * 20, "whsec_not base64!!!!!!!!!!!!!!!!!!!!", "x" * 40],
)
async def test_standard_scheme_refuses_a_secret_that_is_not_whsec(hook: Hook, secret: str) -> None:
    r = await hook.api.client.put(
        "/v1/webhook",
        json={"url": hook.rx.url, "secret": secret, "signature_scheme": "standard"},
        headers=hook.auth,
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "WEBHOOK_SECRET_INVALID"
    assert standard_key(secret) is None


async def test_payload_cap_and_thin_events(hook: Hook, dispatchers: MakeDispatcher) -> None:
    api = hook.api
    cap = api.app.state.ctx.settings.webhook_max_payload_bytes
    r = await api.client.put(
        "/v1/webhook",
        json={"url": hook.rx.url, "secret": SECRET, "max_payload_bytes": cap + 1},
        headers=hook.auth,
    )
    assert r.status_code == 422 and r.json()["code"] == "WEBHOOK_PAYLOAD_CAP_INVALID"
    view = await _put(hook, max_payload_bytes=1024)
    assert view["max_payload_bytes"] == 1024 and view["thin_events"] is False
    oid = await hook.order()
    async with api.app.state.ctx.sessionmaker() as db:
        bundle = await orders.load_bundle(db, oid)
        small = await orders.record_event(db, bundle.order, "qr.issued", data={"scope": "order"})
        big = await orders.record_event(
            db, bundle.order, "qr.issued", data={"scope": "order", "pad": "x" * 2000}
        )
        await db.commit()
    await _put(hook, thin_events=True)
    await hook.qr(oid)
    items = {d["event_id"]: d for d in await hook.deliveries()}
    await drain(dispatchers(), until=lambda: hook.rx.ids() == set(items))
    assert hook.rx.bad_signatures == 0
    by_id = {g.event_id: g for g in hook.rx.accepted}
    full = by_id[str(small.id)].payload
    assert full["data"] == {"scope": "order"} and "thin" not in full
    capped = by_id[str(big.id)]
    assert len(capped.raw) <= 1024
    assert capped.payload["thin"] is True and capped.payload["thin_reason"] == "size"
    assert "data" not in capped.payload and capped.payload["order_id"] == oid
    (asked,) = [g for g in hook.rx.accepted if int(g.event_id) > big.id]
    assert asked.payload["thin"] is True and asked.payload["thin_reason"] == "endpoint"
    assert asked.payload["type"] == "qr.issued"
    # The receiver fetches the rest: the order's view is at GET /v1/orders/{order_id}.
    r = await api.client.get(f"/v1/orders/{asked.payload['order_id']}", headers=hook.auth)
    assert r.status_code == 200
    assert json.loads(capped.raw)["external_id"] == r.json()["external_id"]
