"""Encryption at rest: after a full flow, no ID number, name or mobile in the tables or files."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from app.security import crypto
from tests.conftest import ID_A, Api
from tests.flows import face, new_order, open_session, qr, upload

HOOK_SECRET = "whsec_privacy_0123456789abcdef"
SECRETS = [ID_A, "张三", "13800138000", "深圳市示例科技有限公司", ID_A[-8:], HOOK_SECRET]


async def put_webhook(api: Api, secret: str = HOOK_SECRET) -> tuple[str, dict[str, str]]:
    """A provider's signing secret, kept encrypted like the identity data.

    A provider of its own, with no orders: nothing is ever sent to this endpoint, and the
    shared test provider's events do not queue deliveries for the other tests.
    """
    provider_id, key = await api.new_provider()
    auth = {"Authorization": f"Bearer {key}"}
    body = {"url": "https://hooks.example.com/heyan", "secret": secret, "events": ["*"]}
    r = await api.client.put("/v1/webhook", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return provider_id, auth


async def test_no_plaintext_identity_data_at_rest(api: Api) -> None:
    hook_provider, hook_auth = await put_webhook(api)
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, s, step)).status_code == 201
    assert (await face(api, s)).status_code == 201

    ctx = api.app.state.ctx
    async with ctx.engine.connect() as conn:
        tables = [
            "providers", "api_keys", "orders", "principals", "websites", "qr_tokens",
            "sessions", "challenges", "materials", "checks", "events", "webhook_endpoints",
            "webhook_deliveries", "rate_limit_windows",
        ]  # fmt: skip
        dump = []
        for t in tables:
            rows = (await conn.execute(text(f"SELECT * FROM {t}"))).all()
            dump.extend(str(tuple(r)) for r in rows)
    blob = "\n".join(dump)
    assert order["id"] in blob  # the dump really holds this order's rows
    for secret in SECRETS:
        assert secret not in blob, secret
    # The SQLite file itself (and its write-ahead log), byte for byte.
    url = ctx.settings.database_url
    if url.startswith("sqlite"):
        db_file = Path(url.split("///", 1)[1])
        # Read through another process: closing any descriptor of a SQLite file in this
        # process would drop this process's POSIX locks on it (a known SQLite pitfall).
        import subprocess

        paths = [str(p) for p in db_file.parent.glob(db_file.name + "*")]
        raw = subprocess.run(["cat", *paths], capture_output=True, check=True).stdout
        for secret in SECRETS:
            assert secret.encode() not in raw, secret
    # Every material file is ciphertext; faces use the face keyring.
    files = list((ctx.settings.data_dir / "materials").rglob("*.*"))
    assert files
    for f in files:
        data = f.read_bytes()
        assert data.startswith(crypto.FILE_MAGIC), f
        assert b"JFIF" not in data[:64] and b"ftyp" not in data[:64]
    # The raw face video is never kept (only a chosen frame, when the models pick one).
    assert not [f for f in files if f.suffix in (".mp4", ".mov", ".webm")]
    ring = crypto.keyring("faces")
    ctx.storage.put("orders/x/faces/probe.jpg", b"face bytes")
    raw = (ctx.settings.data_dir / "materials" / "orders/x/faces/probe.jpg").read_bytes()
    assert crypto.Keyring.kid_of(raw) == ring.current_kid != crypto.keyring("documents").current_kid
    assert ctx.storage.get("orders/x/faces/probe.jpg") == b"face bytes"
    ctx.storage.delete("orders/x/faces/probe.jpg")
    # The provider still reads everything, decrypted.
    got = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert got["subject"]["principal"]["document"]["number"] == ID_A
    # The signing secret is still usable: the dispatcher reads it decrypted.
    from app.webhooks.service import get_endpoint

    async with ctx.sessionmaker() as db:
        endpoint = await get_endpoint(db, hook_provider)
    assert endpoint is not None and endpoint.secret == HOOK_SECRET
    assert (await api.client.delete("/v1/webhook", headers=hook_auth)).status_code == 204


def test_ciphertext_is_bound_to_its_column_and_key() -> None:
    ring = crypto.Keyring("fields", crypto.parse_keys(crypto.new_key_spec("a")))
    token = ring.seal("441201199003074015", "principals.doc_number")
    assert ring.open(token, "principals.doc_number") == "441201199003074015"
    import pytest

    with pytest.raises(crypto.KeyError_):
        ring.open(token, "principals.mobile")
    other = crypto.Keyring("fields", crypto.parse_keys(crypto.new_key_spec("a")))
    with pytest.raises(crypto.KeyError_):
        other.open(token, "principals.doc_number")


def test_rotation_keeps_old_rows_readable() -> None:
    old = crypto.new_key_spec("old")
    new = crypto.new_key_spec("new")
    before = crypto.Keyring("fields", crypto.parse_keys(old))
    token = before.seal("张三", "principals.name")
    after = crypto.Keyring("fields", crypto.parse_keys(f"{old},{new}"))
    assert after.open(token, "principals.name") == "张三"
    assert crypto.Keyring.kid_of(after.seal("张三", "principals.name")) == "new"


async def test_keys_rotate_reencrypts_rows_and_files(api: Api) -> None:
    from sqlalchemy import Text, select, type_coerce

    from app.models.orders import Principal
    from app.models.webhooks import WebhookEndpoint
    from app.ops.rotate import rotate

    hook_provider, hook_auth = await put_webhook(api, "whsec_rotate_0123456789abcdef")
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    assert (await upload(api, s, "subject_document")).status_code == 201
    ctx = api.app.state.ctx
    # The new key stays installed afterwards: later tests read rows it now encrypts.
    fields_keys = crypto.keyring("fields").keys
    face_keys = crypto.keyring("faces").keys
    new_fields = crypto.parse_keys(crypto.new_key_spec("rot"))
    crypto._KEYRINGS["fields"] = crypto.Keyring("fields", fields_keys + new_fields)
    crypto._KEYRINGS["documents"] = crypto.Keyring("documents", fields_keys + new_fields)
    crypto._KEYRINGS["faces"] = crypto.Keyring("faces", face_keys)
    async with ctx.sessionmaker() as db:
        counts = await rotate(db, ctx.storage)
        assert counts["rows"] > 0 and counts["files"] > 0
        raw = (await db.execute(select(type_coerce(Principal.mobile, Text)))).scalars().all()
        assert all(crypto.Keyring.kid_of(v) == "rot" for v in raw)
        secrets = (
            (await db.execute(select(type_coerce(WebhookEndpoint.secret, Text)))).scalars().all()
        )
        assert secrets and all(crypto.Keyring.kid_of(v) == "rot" for v in secrets)
        endpoint = (
            await db.execute(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.provider_id == hook_provider)
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        assert endpoint.secret == "whsec_rotate_0123456789abcdef"
        again = await rotate(db, ctx.storage)
        assert again == {"rows": 0, "files": 0}
    got = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert got["subject"]["principal"]["mobile"] == "13800138000"
    mid = got["materials"][0]["id"]
    dl = await api.client.get(f"/v1/orders/{order['id']}/materials/{mid}", headers=api.auth)
    assert dl.status_code == 200
    assert (await api.client.delete("/v1/webhook", headers=hook_auth)).status_code == 204


async def test_purge_leaves_only_the_audit_trail(api: Api) -> None:
    from datetime import timedelta

    from app.models.orders import utcnow
    from app.ops.retention import purge_due

    order = await new_order(api)
    oid = order["id"]
    s = await open_session(api, await qr(api, oid))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, s, step)).status_code == 201
    ctx = api.app.state.ctx
    before = (await api.client.get(f"/v1/orders/{oid}/materials", headers=api.auth)).json()
    keys = list((ctx.settings.data_dir / "materials" / "orders" / oid).rglob("*.*"))
    assert len(keys) == 3
    async with ctx.sessionmaker() as db:
        # Not due yet: nothing happens.
        assert (await purge_due(db, ctx.storage, retention_days=90, abandon_days=30))["files"] == 0
        later = utcnow() + timedelta(days=31)
        result = await purge_due(db, ctx.storage, retention_days=90, abandon_days=30, now=later)
        assert result["files"] >= 3
    assert not list((ctx.settings.data_dir / "materials" / "orders" / oid).rglob("*.*"))
    got = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    assert got["subject"]["principal"]["name"] == ""
    assert got["subject"]["principal"]["mobile"] == ""
    assert got["materials"] == []
    async with ctx.engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT * FROM principals WHERE order_id = :o"), {"o": oid})
        ).all()
    assert all(ID_A not in str(r) for r in rows)
    events = (await api.client.get(f"/v1/orders/{oid}/events?limit=500", headers=api.auth)).json()
    purged = [e for e in events["items"] if e["type"] == "order.purged"]
    assert len(purged) == 1
    assert {f["sha256"] for f in purged[0]["data"]["files"]} == {m["sha256"] for m in before}
