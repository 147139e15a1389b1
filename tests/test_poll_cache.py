"""What a process remembers of an unchanged order (app/core/cache.py): its rendered view
and its status, keyed by the version fields the ETag hashes, so never a stale answer."""

from __future__ import annotations

from app.core.cache import ByVersion
from app.orders.state import Status
from tests.conftest import Api, order_body


def test_by_version_entries() -> None:
    now = [100.0]
    cache: ByVersion[str] = ByVersion(2, seconds=10, clock=lambda: now[0])
    cache.put("a", (1, 5), "one")
    assert cache.get("a", (1, 5)) == "one"
    assert cache.get("a", (2, 5)) is None  # another version: never the old value
    now[0] += 10
    assert cache.get("a", (1, 5)) is None  # expired
    cache.put("a", 1, "x")
    cache.put("b", 1, "y")
    cache.put("c", 1, "z")  # full: starts again rather than growing
    assert (cache.get("a", 1), cache.get("c", 1)) == (None, "z")
    off: ByVersion[str] = ByVersion(10, seconds=0)
    off.put("a", 1, "x")
    assert off.get("a", 1) is None


async def test_full_view_answered_again_while_the_etag_holds(api: Api) -> None:
    ctx = api.app.state.ctx
    oid = (await api.client.post("/v1/orders", json=order_body(), headers=api.auth)).json()["id"]
    url = f"/v1/orders/{oid}"
    first = await api.client.get(url, headers=api.auth)
    etag = first.headers["etag"]
    assert ctx.views.get(oid, etag) == first.content
    # Served from the cache while the ETag is the same ...
    ctx.views.put(oid, etag, b'{"from":"cache"}')
    assert (await api.client.get(url, headers=api.auth)).json() == {"from": "cache"}
    # ... and rendered afresh once the order changed (a QR issued is an event).
    qr = await api.client.post(f"{url}/qr", json={"scope": "order"}, headers=api.auth)
    assert qr.status_code == 201
    after = await api.client.get(url, headers=api.auth)
    assert after.headers["etag"] != etag and after.json()["id"] == oid
    # A cached answer is byte for byte the fresh one.
    assert (await api.client.get(url, headers=api.auth)).content == after.content
    ctx.views.put(oid, "another", b"")  # replaces the entry: the next read renders again
    assert (await api.client.get(url, headers=api.auth)).content == after.content


async def test_page_statuses_by_version(api: Api) -> None:
    ctx = api.app.state.ctx
    oid = (await api.client.post("/v1/orders", json=order_body(), headers=api.auth)).json()["id"]

    async def listed() -> str:
        page = await api.client.get("/v1/orders?changed_since=0&limit=500", headers=api.auth)
        return next(o["status"] for o in page.json()["items"] if o["id"] == oid)

    assert await listed() == "pending"
    key = ctx.statuses._entries[oid][0]  # (version, last_event_id, updated_at)
    assert ctx.statuses.get(oid, key) == Status.PENDING
    ctx.statuses.put(oid, key, Status.COMPLETE)  # what the cache says is what a page shows
    assert await listed() == "complete"
    await api.client.post(f"/v1/orders/{oid}/qr", json={"scope": "order"}, headers=api.auth)
    assert await listed() == "pending"  # a new version: derived again
