"""The whole service with STORAGE_URL=s3://... on a real S3 server (SeaweedFS).

The mini-program flow stores its materials in the bucket; the provider downloads them and
package.zip from there; the bucket holds only ciphertext (our AES-GCM envelope, plus the
store's own SSE); purging an order deletes its objects; a store that is down answers 503.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.access.providers import create_provider
from app.main import create_app
from app.models.orders import Material
from app.ops.retention import purge_order
from app.security import crypto
from app.storage import EncryptedStorage
from app.storage.s3 import S3Storage
from tests.conftest import ID_A, Api, intake_pipeline, make_settings
from tests.flows import face, new_order, open_session, qr, upload
from tests.storage.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS


@pytest.fixture(scope="module")
async def s3_api(db_settings: dict[str, str], seaweedfs: SeaweedFS) -> AsyncIterator[Api]:
    prefix = f"api-{uuid.uuid4().hex[:8]}"
    settings = make_settings(
        db_settings,
        storage_url=f"s3://{seaweedfs.bucket}/{prefix}",
        s3_endpoint_url=seaweedfs.endpoint,
        s3_region="us-east-1",
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        s3_sse="AES256",
        s3_max_attempts=2,
        webhook_dispatcher=False,  # the session's other app owns the outbox in tests
    )
    # The lifespan reinstalls the keyrings from DATA_DIR; give the session's back afterwards
    # (tests elsewhere may have added a rotation key to them).
    saved = dict(crypto._KEYRINGS), crypto._INDEX_KEY
    app = create_app(settings, pipeline=intake_pipeline(settings))
    try:
        async with app.router.lifespan_context(app):
            async with app.state.ctx.sessionmaker() as db:
                provider_id, key = await create_provider(db, "s3-provider")
            transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield Api(c, app, key, provider_id)
    finally:
        crypto._KEYRINGS.clear()
        crypto._KEYRINGS.update(saved[0])
        crypto._INDEX_KEY = saved[1]


def bucket_of(api: Api) -> S3Storage:
    storage = api.app.state.ctx.storage
    assert isinstance(storage, EncryptedStorage) and isinstance(storage.inner, S3Storage)
    return storage.inner


def objects(store: S3Storage, under: str) -> dict[str, bytes]:
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix + under)
    return {
        o["Key"][len(store.prefix) :]: store.client.get_object(Bucket=store.bucket, Key=o["Key"])[
            "Body"
        ].read()
        for o in listed.get("Contents", [])
    }


async def test_flow_stores_downloads_and_purges_materials_in_s3(s3_api: Api) -> None:
    api = s3_api
    ctx = api.app.state.ctx
    store = bucket_of(api)
    order = await new_order(api)
    oid = order["id"]
    s = await open_session(api, await qr(api, oid))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        r = await upload(api, s, step)
        assert r.status_code == 201, r.text
    assert (await face(api, s)).status_code == 201
    r = await upload(api, s, "verification_sheet", seed=3)
    assert r.json()["order_status"] == "complete"

    # Every stored material is an object in the bucket, and nothing landed on local disk.
    async with ctx.sessionmaker() as db:
        keys = set(
            (
                await db.execute(
                    select(Material.storage_key).where(
                        Material.order_id == oid, Material.storage_key.is_not(None)
                    )
                )
            ).scalars()
        )
    raw = objects(store, f"orders/{oid}/")
    assert keys and set(raw) == keys
    assert not (Path(ctx.settings.data_dir) / "materials" / "orders" / oid).exists()

    # The provider downloads each material, streamed from S3 and decrypted.
    items = (await api.client.get(f"/v1/orders/{oid}/materials", headers=api.auth)).json()
    assert len(items) == len(keys)
    plain: dict[str, bytes] = {}
    for item in items:
        dl = await api.client.get(f"/v1/orders/{oid}/materials/{item['id']}", headers=api.auth)
        assert dl.status_code == 200, dl.text
        assert dl.headers["content-length"] == str(item["size"])
        assert hashlib.sha256(dl.content).hexdigest() == item["sha256"]
        plain[item["id"]] = dl.content

    # The bucket holds only our envelope, under the store's SSE as well.
    for key, blob in raw.items():
        assert blob.startswith(crypto.FILE_MAGIC), key
        assert b"JFIF" not in blob and b"\xff\xd8\xff" not in blob[:16]
        for content in plain.values():
            assert content[64:128] not in blob
        head = store.client.head_object(Bucket=store.bucket, Key=store.object_key(key))
        assert head["ServerSideEncryption"] == "AES256"
    assert ID_A.encode() not in b"".join(raw.values())

    # package.zip is built from the bucket too.
    r = await api.client.get(f"/v1/orders/{oid}/package.zip", headers=api.auth)
    assert r.status_code == 200
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    manifest = json.loads(zf.read("manifest.json"))
    stored = [f for f in manifest["files"] if "material_id" in f]
    assert len(stored) >= 4 and {f["material_id"] for f in stored} <= set(plain)
    for f in stored:
        assert zf.read(f["name"]) == plain[f["material_id"]]
    assert "证件合成图-张三.jpg" in zf.namelist()

    # Retention deletes the objects; the downloads are gone with them.
    async with ctx.sessionmaker() as db:
        assert await purge_order(db, ctx.storage, oid, "retention") == len(keys)
    assert objects(store, f"orders/{oid}/") == {}
    dl = await api.client.get(f"/v1/orders/{oid}/materials/{items[0]['id']}", headers=api.auth)
    assert dl.status_code == 404
    assert dl.json()["code"] == "MATERIAL_NOT_FOUND"


async def test_missing_object_is_404_not_500(s3_api: Api) -> None:
    api = s3_api
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    assert (await upload(api, s, "subject_document")).status_code == 201
    item = (await api.client.get(f"/v1/orders/{order['id']}/materials", headers=api.auth)).json()[0]
    async with api.app.state.ctx.sessionmaker() as db:
        m = await db.get(Material, item["id"])
        assert m is not None and m.storage_key
        bucket_of(api).delete(m.storage_key)  # lost from the store behind our back
    dl = await api.client.get(f"/v1/orders/{order['id']}/materials/{item['id']}", headers=api.auth)
    assert dl.status_code == 404
    assert dl.headers["content-type"] == "application/problem+json"


async def test_ready_and_store_down(s3_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api = s3_api
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    assert (await upload(api, s, "subject_document")).status_code == 201
    item = (await api.client.get(f"/v1/orders/{order['id']}/materials", headers=api.auth)).json()[0]
    ctx = api.app.state.ctx
    down = EncryptedStorage(
        S3Storage(
            bucket_of(api).bucket, bucket_of(api).prefix, endpoint_url="http://127.0.0.1:9",
            region="us-east-1", access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
            max_attempts=1, timeout_seconds=1,
        )
    )  # fmt: skip
    monkeypatch.setattr(ctx, "storage", down)
    r = await api.client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "storage": "unreachable"}
    dl = await api.client.get(f"/v1/orders/{order['id']}/materials/{item['id']}", headers=api.auth)
    assert dl.status_code == 503
    assert dl.json()["code"] == "STORAGE_UNAVAILABLE"
    assert dl.headers["retry-after"] == "5"
    # A capture that cannot be stored is refused whole: no material row is left behind.
    r = await upload(api, s, "subject_principal_id_front")
    assert r.status_code == 503
    assert r.json()["code"] == "STORAGE_UNAVAILABLE"
    monkeypatch.undo()
    got = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert [m["step"] for m in got["materials"]] == ["subject_document"]
    down.close()
