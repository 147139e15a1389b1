"""Backup and restore drill (issue #19 item 5), on real PostgreSQL and a real S3 store.

The procedure README "Backup and restore" gives an operator, run while the service is busy:
``pg_dump`` of the database FIRST, then a copy of the bucket (the way ``aws s3 sync`` or
``rclone copy`` would, object by object). That order is what makes the pair consistent
without stopping anything: a material's blob is written before the row that names it is
committed and is never rewritten, so every row in the dump names a blob that the later copy
holds; a blob copied without a row is an upload that was still being checked, harmless.

The copy is restored into a fresh database and a fresh prefix, a second app serves from them
with the same DATA_DIR keys (the keys are backed up separately: without them the materials
and the sealed fields cannot be read), and for every order the restored database holds:
each current material downloads with its recorded SHA-256, the sheet's verification code
verifies as current, the audit chain verifies, the status and ETag are those of the source
for orders completed before the dump, and no row names a blob missing from the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from app.access.providers import create_provider
from app.main import create_app
from app.models.orders import Material
from app.orders.audit import verify_all
from app.security import crypto
from app.storage import EncryptedStorage
from app.storage.s3 import S3Storage
from tests.conftest import PG_URL, Api, _pg_exec, intake_pipeline, make_settings, require_postgres
from tests.flows import face, new_order, open_session, qr, upload
from tests.storage.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS

STEPS = ("subject_document", "subject_principal_id_front", "subject_principal_id_back")


def _settings(db: dict[str, str], seaweedfs: SeaweedFS, prefix: str) -> Any:
    return make_settings(
        db,
        storage_url=f"s3://{seaweedfs.bucket}/{prefix}",
        s3_endpoint_url=seaweedfs.endpoint,
        s3_region="us-east-1",
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        s3_max_attempts=2,
        webhook_dispatcher=False,
    )


@contextlib.asynccontextmanager
async def _serve(settings: Any, provider: tuple[str, str] | None = None) -> AsyncIterator[Api]:
    app = create_app(settings, pipeline=intake_pipeline(settings))
    async with app.router.lifespan_context(app):
        if provider is None:
            async with app.state.ctx.sessionmaker() as db:
                provider = await create_provider(db, "drill-provider")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.21", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield Api(c, app, provider[1], provider[0])


async def _whole_flow(api: Api, seed: int) -> str:
    order = await new_order(api, external_id=f"drill-{uuid.uuid4().hex[:10]}")
    s = await open_session(api, await qr(api, order["id"]))
    for i, step in enumerate(STEPS):
        r = await upload(api, s, step, seed=seed * 10 + i)
        assert r.status_code == 201, r.text
    r = await face(api, s)
    assert r.status_code == 201, r.text
    r = await upload(api, s, "verification_sheet", seed=seed * 10 + 9)
    assert r.status_code == 201 and r.json()["order_status"] == "complete", r.text
    return str(order["id"])


async def _busy(api: Api, stop: asyncio.Event, done: list[str]) -> None:
    """The load during the backup: whole flows, and polls of every order between them."""
    seed = 100
    while not stop.is_set():
        done.append(await _whole_flow(api, seed))
        seed += 1
        for oid in done[-3:]:
            r = await api.client.get(f"/v1/orders/{oid}", headers=api.auth)
            assert r.status_code == 200


async def _run(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await proc.communicate()
    assert proc.returncode == 0, (argv[0], err.decode()[-2000:])


def _bucket(api: Api) -> S3Storage:
    storage = api.app.state.ctx.storage
    assert isinstance(storage, EncryptedStorage) and isinstance(storage.inner, S3Storage)
    return storage.inner


def _copy_bucket(store: S3Storage, to_prefix: str) -> int:
    """Object by object, as ``aws s3 sync`` does: the store's ciphertext, byte for byte."""
    n = 0
    for page in store.client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=store.prefix
    ):
        for o in page.get("Contents", []):
            rel = o["Key"][len(store.prefix) :]
            store.client.copy_object(
                Bucket=store.bucket,
                Key=f"{to_prefix.rstrip('/')}/{rel.lstrip('/')}",
                CopySource={"Bucket": store.bucket, "Key": o["Key"]},
            )
            n += 1
    return n


async def _snapshot(api: Api, oid: str) -> dict[str, Any]:
    r = await api.client.get(f"/v1/orders/{oid}", headers=api.auth)
    assert r.status_code == 200
    return {"status": r.json()["status"], "etag": r.headers["ETag"]}


async def test_backup_under_load_restores_every_order(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    restored_db = f"drill_{uuid.uuid4().hex[:10]}"
    src_prefix, copy_prefix = f"drill-src-{schema}", f"drill-copy-{schema}"
    data_dir = tmp_path / "data"  # the keys: backed up separately, given to the restore
    await _pg_exec(f'CREATE SCHEMA "{schema}"')
    saved = dict(crypto._KEYRINGS), crypto._INDEX_KEY
    try:
        src = {"database_url": PG_URL, "database_schema": schema, "data_dir": str(data_dir)}
        from app.core.migrate import upgrade

        await asyncio.to_thread(upgrade, PG_URL, "head", schema)
        async with _serve(_settings(src, seaweedfs, src_prefix)) as api:
            before = [await _whole_flow(api, seed) for seed in range(3)]
            snapshots = {oid: await _snapshot(api, oid) for oid in before}
            # One order left half way: its accepted materials must come back too.
            half = await new_order(api, external_id="drill-half")
            hs = await open_session(api, await qr(api, half["id"]))
            assert (await upload(api, hs, STEPS[0], seed=77)).status_code == 201

            stop, during = asyncio.Event(), []
            load = asyncio.create_task(_busy(api, stop, during))
            await asyncio.sleep(0.2)  # the load is under way
            dump = tmp_path / "heyan.dump"
            await _run(
                "pg_dump", "-Fc", "-h", "127.0.0.1", "-U", "postgres", "-n", schema,
                "-f", str(dump), "test",
            )  # fmt: skip
            copied = await asyncio.to_thread(_copy_bucket, _bucket(api), copy_prefix)
            stop.set()
            await load
            assert during, "the load completed no flow while the backup ran"
            provider = (api.provider_id, api.api_key)

        await _pg_exec(f'CREATE DATABASE "{restored_db}"')
        await _run(
            "pg_restore", "-h", "127.0.0.1", "-U", "postgres", "-d", restored_db,
            "--no-owner", str(dump),
        )  # fmt: skip
        url = PG_URL.rsplit("/", 1)[0] + f"/{restored_db}"
        dst = {"database_url": url, "database_schema": schema, "data_dir": str(data_dir)}
        async with _serve(_settings(dst, seaweedfs, copy_prefix), provider) as back:
            async with back.app.state.ctx.sessionmaker() as db:
                rows = list((await db.execute(select(Material))).scalars())
                chains = [c async for c in verify_all(db)]
            store = _bucket(back)
            # No row names a blob the copy lacks (dump first, then the bucket).
            missing = [m.id for m in rows if m.storage_key and not store.exists(m.storage_key)]
            assert not missing, missing
            assert all(c["ok"] for c in chains), [c for c in chains if not c["ok"]]

            page = await back.client.get("/v1/orders?changed_since=0&limit=500", headers=back.auth)
            restored = {o["id"]: o["status"] for o in page.json()["items"]}
            assert set(before) | {half["id"]} <= set(restored)
            for oid, snap in snapshots.items():  # completed before the dump: exactly as then
                assert await _snapshot(back, oid) == snap
            complete = [oid for oid, st in restored.items() if st == "complete"]
            assert len(complete) >= len(before)
            for oid in [*complete, half["id"]]:
                listed = await back.client.get(f"/v1/orders/{oid}/materials", headers=back.auth)
                items = [i for i in listed.json() if i["accepted"]]
                assert items
                for item in items:
                    r = await back.client.get(
                        f"/v1/orders/{oid}/materials/{item['id']}", headers=back.auth
                    )
                    assert r.status_code == 200, (oid, item["kind"], r.text[:200])
                    assert hashlib.sha256(r.content).hexdigest() == item["sha256"]
            for oid in complete:
                sheet = await back.client.get(
                    f"/v1/orders/{oid}/verification-sheet.pdf", headers=back.auth
                )
                assert sheet.status_code == 200
                check = await back.client.get(
                    f"/v1/verify-sheet/{sheet.headers['Heyan-Sheet-Code']}"
                )
                assert check.status_code == 200 and check.json()["current"] is True
                # Intake-only captures (this drill): the sheet never claims full checks.
                assert check.json()["sheet_status"] == "complete"
                assert check.json()["sheet_checks"] == "intake_only"
                assert check.json()["order_status"] == "complete"
        print(  # noqa: T201  (the drill's figures, shown with -s)
            f"drill: {len(before)} orders before, {len(during)} completed during the backup, "
            f"{len(complete)} complete after restore, {copied} objects copied"
        )
    finally:
        crypto._KEYRINGS.clear()
        crypto._KEYRINGS.update(saved[0])
        crypto._INDEX_KEY = saved[1]
        await _pg_exec(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await _pg_exec(f'DROP DATABASE IF EXISTS "{restored_db}"')
