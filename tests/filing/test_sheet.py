"""The electronic verification sheet: PDF content, determinism, the public code check."""

from __future__ import annotations

import hashlib
import io

from pypdf import PdfReader

from app.filing.service import order_events
from app.filing.sheet import build_sheet, display_code
from app.models.orders import Material
from app.orders.service import load_bundle
from tests.conftest import ID_A, ID_B, Api, synthetic_jpeg
from tests.filing.helpers import complete, create


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_sheet_pdf_complete_order(api: Api) -> None:
    order = await create(api)
    oid = order["id"]
    await complete(api, order)
    r = await api.client.get(f"/v1/orders/{oid}/verification-sheet.pdf", headers=api.auth)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    pdf = r.content
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)
    assert "电子版用户真实性核验单" in text
    assert "深圳市示例科技有限公司" in text
    assert "example.cn" in text
    assert "www.example.cn" in text
    assert ID_A in text  # the provider's own sheet: unmasked numbers
    assert ID_B in text
    assert "138****8000" in text  # phones as the sessions saw them
    assert "139****9000" in text
    assert "13800138000" not in text
    assert "未完成" not in text
    assert "核验完成时间" in text
    code = r.headers["heyan-sheet-code"]
    assert display_code(code) in text
    # Every accepted material's hash is on the sheet.
    got = (await api.client.get(f"/v1/orders/{oid}/materials", headers=api.auth)).json()
    for m in got:
        if m["accepted"] and not m["cleared"]:
            assert m["sha256"][:40] in text.replace("\n", "")
    # The ID composites are embedded as images (both people have two-sided IDs).
    images = [img for page in PdfReader(io.BytesIO(pdf)).pages for img in page.images]
    assert len(images) >= 2
    # The font is embedded (a subset), not referenced.
    assert b"/FontFile2" in pdf

    # Deterministic: the same evidence gives the same file and the same code.
    again = await api.client.get(f"/v1/orders/{oid}/verification-sheet.pdf", headers=api.auth)
    assert again.content == pdf
    assert again.headers["heyan-sheet-code"] == code

    # The public check, with the code as printed (dashes, lower case).
    check = await api.client.get(f"/v1/verify-sheet/{display_code(code).lower()}")
    assert check.status_code == 200, check.text
    body = check.json()
    assert body["external_id"] == order["external_id"]
    assert body["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert body["sheet_status"] == body["order_status"] == "complete"
    # Intake-only evidence (this suite's pipeline): never a complete sheet (test_method.py
    # has the model-checked case).
    assert body["sheet_checks"] == "intake_only"
    assert body["sheet_complete"] is False
    assert body["current"] is True
    assert body["subject_name"] == "深" + "*" * 10
    assert "张三" not in check.text
    assert ID_A not in check.text

    # After a re-verify the old sheet still checks out, but is no longer current.
    r = await api.client.post(
        f"/v1/orders/{oid}/reverify", json={"part": "subject"}, headers=api.auth
    )
    assert r.status_code == 200
    body = (await api.client.get(f"/v1/verify-sheet/{code}")).json()
    assert body["current"] is False
    assert body["order_status"] == "pending"


async def test_sheet_of_incomplete_order_says_so(api: Api) -> None:
    order = await create(api)
    r = await api.client.get(f"/v1/orders/{order['id']}/verification-sheet.pdf", headers=api.auth)
    assert r.status_code == 200
    text = text_of(r.content)
    assert "未完成" in text
    assert "深圳市示例科技有限公司" in text
    assert "核验完成时间" not in text  # nothing is complete yet
    body = (await api.client.get(f"/v1/verify-sheet/{r.headers['heyan-sheet-code']}")).json()
    assert body["sheet_complete"] is False
    assert body["sheet_status"] == "pending"


async def test_sheet_other_provider_and_unknown_code(api: Api) -> None:
    order = await create(api)
    _, other_key = await api.new_provider()
    r = await api.client.get(
        f"/v1/orders/{order['id']}/verification-sheet.pdf",
        headers={"Authorization": f"Bearer {other_key}"},
    )
    assert (r.status_code, r.json()["code"]) == (404, "ORDER_NOT_FOUND")
    r = await api.client.get("/v1/verify-sheet/AAAA-BBBB-CCCC")
    assert (r.status_code, r.json()["code"]) == (404, "SHEET_NOT_FOUND")
    r = await api.client.get(f"/v1/orders/{order['id']}/verification-sheet.pdf")
    assert r.status_code == 401


async def test_code_depends_on_the_key(api: Api) -> None:
    order = await create(api)
    ctx = api.app.state.ctx
    async with ctx.sessionmaker() as db:
        bundle = await load_bundle(db, order["id"])
        events = await order_events(db, order["id"])
    a = build_sheet(bundle, ctx.storage, events, {}, "key-one")
    b = build_sheet(bundle, ctx.storage, events, {}, "key-two")
    assert a.content_hash == b.content_hash
    assert a.code != b.code
    assert len(a.code) == 12


async def test_sheet_embeds_the_face_photo(api: Api) -> None:
    order = await create(api)
    oid = order["id"]
    await complete(api, order)
    before = await api.client.get(f"/v1/orders/{oid}/verification-sheet.pdf", headers=api.auth)
    # The intake-only pipeline keeps no best frame: add the one the face models would keep.
    photo = synthetic_jpeg(320, 400, seed=42)
    ctx = api.app.state.ctx
    key = f"{oid}/faces/best-frame-test.jpg"
    ctx.storage.put(key, photo)
    async with ctx.sessionmaker() as db:
        db.add(
            Material(
                order_id=oid, person_id=order["websites"][0]["principal"]["id"], step="face",
                kind="best_frame", storage_key=key, sha256=hashlib.sha256(photo).hexdigest(),
                size=len(photo), content_type="image/jpeg", accepted=True,
            )
        )  # fmt: skip
        await db.commit()
    after = await api.client.get(f"/v1/orders/{oid}/verification-sheet.pdf", headers=api.auth)
    assert after.status_code == 200
    assert "当面核验拍照" in text_of(after.content)
    assert hashlib.sha256(photo).hexdigest()[:40] in text_of(after.content).replace("\n", "")
    count = [
        sum(len(pg.images) for pg in PdfReader(io.BytesIO(r.content)).pages)
        for r in (before, after)
    ]
    assert count[1] == count[0] + 1
    assert after.headers["heyan-sheet-code"] != before.headers["heyan-sheet-code"]
