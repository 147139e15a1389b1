"""Stored files that no material row names (a capture killed between writing its files and
committing them, a folder write cut short) are deleted by the retention pass once old enough;
files that rows name, and young files (an upload still being checked), are kept."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.models.orders import Material, utcnow
from app.ops.retention import purge_due, sweep_orphans
from tests.conftest import Api
from tests.flows import new_order, open_session, qr, upload


async def test_orphan_files_are_swept_and_named_ones_kept(api: Api) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    assert (await upload(api, s, "subject_document")).status_code == 201
    ctx = api.app.state.ctx
    storage = ctx.storage
    async with ctx.sessionmaker() as db:
        named = set(
            (await db.execute(select(Material.storage_key).where(
                Material.order_id == order["id"], Material.storage_key.is_not(None)
            ))).scalars()
        )  # fmt: skip
    assert named
    orphan = f"orders/{order['id']}/docs/killed-before-commit.jpg"
    storage.put(orphan, b"written, never committed")
    stray = f"orders/{order['id']}/docs/.tmp-cut-short"
    storage.put(stray, b"half")

    async with ctx.sessionmaker() as db:  # young files: an upload may still be in its checks
        assert await sweep_orphans(db, storage, older_than_seconds=3600) == []
    later = utcnow() + timedelta(hours=2)
    async with ctx.sessionmaker() as db:
        done = await purge_due(
            db, storage, retention_days=90, abandon_days=30, orphan_age_seconds=3600, now=later
        )
    assert done["orphan_files"] == 2 and done["orders"] == 0
    assert not storage.exists(orphan) and not storage.exists(stray)
    assert all(storage.exists(k) for k in named)
    r = await api.client.get(f"/v1/orders/{order['id']}/materials", headers=api.auth)
    for item in r.json():
        got = await api.client.get(
            f"/v1/orders/{order['id']}/materials/{item['id']}", headers=api.auth
        )
        assert got.status_code == 200
