"""The mini-program flow through the public API, as a phone and a provider see it.

Runs with the intake checks only (the fake-free, model-free pipeline); the document and
face checks have their own tests on images.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import ID_B, Api, person, synthetic_jpeg, synthetic_mp4
from tests.flows import (
    bearer,
    challenge,
    consent,
    face,
    new_order,
    open_session,
    qr,
    site2_person,
    status,
    upload,
)


async def test_full_flow_moves_order_to_complete(api: Api) -> None:
    order = await new_order(api)
    oid = order["id"]
    s = await open_session(api, await qr(api, oid))
    assert s["scope"] == "order"
    assert s["next_step"] == "subject_document"
    view = s["order"]
    assert (
        view["person"]["document_number"]
        == "4412**********4011"[:4] + "*" * 10 + view["person"]["document_number"][-4:]
    )
    assert view["person"]["mobile"] == "138****8000"
    assert view["person"]["name"] == "张*"
    assert "13800138000" not in str(s)

    r = await upload(api, s, "verification_sheet")
    assert r.status_code == 409
    assert r.json()["code"] == "STEP_OUT_OF_ORDER"
    r = await upload(api, s, "face")
    assert r.json()["code"] == "STEP_OUT_OF_ORDER"

    for step in ("subject_document", "subject_principal_id_front"):
        r = await upload(api, s, step)
        assert r.status_code == 201, r.text
        assert r.json()["accepted"] is True
        assert await status(api, oid) == "pending"
    r = await upload(api, s, "subject_principal_id_back")
    assert r.json()["order_status"] == "subject_verified"
    assert r.json()["next_step"] == "face"
    assert await status(api, oid) == "subject_verified"

    r = await upload(api, s, "subject_principal_id_back")
    assert r.status_code == 409
    assert r.json()["code"] == "STEP_ALREADY_DONE"

    r = await face(api, s)
    assert r.status_code == 201, r.text
    assert await status(api, oid) == "website_verified"
    r = await upload(api, s, "verification_sheet")
    assert r.status_code == 201
    assert r.json()["order_status"] == "complete"
    assert r.json()["next_step"] is None

    got = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    assert got["status"] == "complete"
    assert got["status_zh"] == "核验完成"
    assert all(p["done"] for p in got["parts"])
    material = got["materials"][0]
    dl = await api.client.get(f"/v1/orders/{oid}/materials/{material['id']}", headers=api.auth)
    assert dl.status_code == 200
    assert dl.headers["content-type"] == "image/jpeg"
    import hashlib

    assert hashlib.sha256(dl.content).hexdigest() == material["sha256"]

    events = (await api.client.get(f"/v1/orders/{oid}/events", headers=api.auth)).json()["items"]
    types = [e["type"] for e in events]
    assert types.count("order.status_changed") == 3
    assert "session.opened" in types
    verified = [e for e in events if e["type"] == "part.verified"]
    assert {e["part"] for e in verified} == {
        "subject",
        f"website:{order['websites'][0]['id']}",
        "sheet",
    }
    opened = next(e for e in events if e["type"] == "session.opened")
    assert opened["phone_masked"] == "138****8000"
    assert opened["client_ip"] == "203.0.113.7"


async def test_phone_mismatch_refused_and_recorded(api: Api) -> None:
    order = await new_order(api)
    token = await qr(api, order["id"], "subject")
    r = await api.client.post(
        "/m/v1/sessions", json={"qr_token": token, "platform": "dev", "mobile": "13900000000"}
    )
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "PHONE_MISMATCH"
    assert problem["detail"] == "小程序绑定手机号码与主体负责人手机号码不一致,请重新核验"
    token = await qr(api, order["id"], "order")
    r = await api.client.post(
        "/m/v1/sessions", json={"qr_token": token, "platform": "dev", "mobile": "13900000000"}
    )
    assert r.json()["detail"] == "小程序绑定手机号码与网站负责人手机号码不一致,请重新核验"
    events = (await api.client.get(f"/v1/orders/{order['id']}/events", headers=api.auth)).json()
    refused = [e for e in events["items"] if e["type"] == "scan.refused"]
    assert len(refused) == 2
    assert refused[0]["phone_masked"] == "139****0000"
    assert refused[0]["data"]["reason"] == "PHONE_MISMATCH"
    assert "session.opened" not in [e["type"] for e in events["items"]]


async def test_qr_errors(api: Api) -> None:
    order = await new_order(api)
    old = await qr(api, order["id"])
    new = await qr(api, order["id"])
    r = await api.client.post(
        "/m/v1/sessions", json={"qr_token": old, "platform": "dev", "mobile": "13800138000"}
    )
    assert (r.status_code, r.json()["code"]) == (410, "QR_REVOKED")
    forged = new[:-4] + ("AAAA" if not new.endswith("AAAA") else "BBBB")
    r = await api.client.post(
        "/m/v1/sessions", json={"qr_token": forged, "platform": "dev", "mobile": "13800138000"}
    )
    assert (r.status_code, r.json()["code"]) == (401, "QR_INVALID")
    r = await api.client.post(
        "/m/v1/sessions", json={"qr_token": "garbage", "platform": "dev", "mobile": "13800138000"}
    )
    assert (r.status_code, r.json()["code"]) == (401, "QR_INVALID")
    # A genuine token past its expiry.
    from datetime import timedelta

    from app.models.orders import QrToken, utcnow
    from app.security.tokens import QrClaims

    codec = api.app.state.ctx.codec
    async with api.app.state.ctx.sessionmaker() as db:
        row = await db.get(QrToken, codec.read_short_qr(new))
        assert row is not None
    # The JWT format issued before the short tokens, past its expiry.
    expired = codec.qr_token(
        QrClaims(row.id, row.order_id, row.scope, row.version, utcnow() - timedelta(seconds=5))
    )
    r = await api.client.post(
        "/m/v1/sessions", json={"qr_token": expired, "platform": "dev", "mobile": "13800138000"}
    )
    assert (r.status_code, r.json()["code"]) == (410, "QR_EXPIRED")
    r = await api.client.post(
        "/m/v1/sessions", json={"qr_token": new, "platform": "wechat", "code": "x"}
    )
    assert r.json()["code"] == "PLATFORM_NOT_CONFIGURED"


async def test_split_capture_scopes(api: Api) -> None:
    sp = person()
    wp = person("李四", ID_B, "13900139000")
    order = await new_order(api, principal=sp, websites=[
        {"name": "一", "domains": ["a.cn"], "principal": sp},
        {"name": "二", "domains": ["b.cn"], "principal": wp},
    ])  # fmt: skip
    oid = order["id"]
    w1, w2 = (w["id"] for w in order["websites"])
    subject = await open_session(api, await qr(api, oid, "subject"))
    assert [st["step"] for st in subject["steps"]] == [
        "subject_document", "subject_principal_id_front", "subject_principal_id_back",
        "verification_sheet",
    ]  # fmt: skip
    site2 = await open_session(api, await qr(api, oid, f"website:{w2}"), "13900139000")
    assert [st["step"] for st in site2["steps"]] == [
        "website_principal_id_front", "website_principal_id_back", "face",
    ]  # fmt: skip
    assert site2["order"]["person"]["mobile"] == "139****9000"
    assert [w["id"] for w in site2["order"]["websites"]] == [w2]
    r = await upload(api, site2, "subject_document")
    assert (r.status_code, r.json()["code"]) == (403, "STEP_NOT_IN_SCOPE")
    r = await upload(api, site2, "no_such_step")
    assert r.json()["code"] == "STEP_UNKNOWN"
    # Person B works on website 2 while person A does the subject: both proceed.
    for step in ("website_principal_id_front", "website_principal_id_back"):
        assert (await upload(api, site2, step)).status_code == 201
    assert (await face(api, site2)).status_code == 201
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, subject, step)).status_code == 201
    assert await status(api, oid) == "subject_verified"  # website 1 still needs its face
    site1 = await open_session(api, await qr(api, oid, f"website:{w1}"))
    assert [st["step"] for st in site1["steps"]] == ["face"]
    assert (await face(api, site1)).status_code == 201
    assert await status(api, oid) == "website_verified"
    assert (await upload(api, subject, "verification_sheet")).status_code == 201
    assert await status(api, oid) == "complete"

    # 重核网站: website 2 goes back, and the sheet with it.
    r = await api.client.post(
        f"/v1/orders/{oid}/reverify", json={"part": f"website:{w2}"}, headers=api.auth
    )
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "subject_verified"
    parts = {p["part"]: p["done"] for p in body["parts"]}
    assert parts == {"subject": True, f"website:{w1}": True, f"website:{w2}": False, "sheet": False}
    assert all(m["cleared"] for m in body["materials"] if m["person_id"] == site2_person(body, w2))
    r = await api.client.post(
        f"/v1/orders/{oid}/reverify", json={"part": "bogus"}, headers=api.auth
    )
    assert r.json()["code"] == "PART_INVALID"
    # The same session can capture website 2 again.
    assert (await upload(api, site2, "website_principal_id_front")).status_code == 201


async def test_intake_errors(api: Api) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    h = bearer(s)
    big = b"\xff\xd8\xff" + b"0" * (4 * 1024 * 1024 + 10)
    r = await api.client.post(
        "/m/v1/captures/subject_document", files={"file": ("a.jpg", big, "image/jpeg")}, headers=h
    )
    assert (r.status_code, r.json()["code"]) == (413, "FILE_TOO_LARGE")
    r = await api.client.post(
        "/m/v1/captures/subject_document",
        files={"file": ("a.jpg", b"%PDF-1.4 fake", "image/jpeg")},
        headers=h,
    )
    assert (r.status_code, r.json()["code"]) == (415, "UNSUPPORTED_FORMAT")
    r = await api.client.post(
        "/m/v1/captures/subject_document",
        files={"file": ("a.jpg", synthetic_jpeg()[:300], "image/jpeg")},
        headers=h,
    )
    assert (r.status_code, r.json()["code"]) == (422, "FILE_UNDECODABLE")
    r = await api.client.post(
        "/m/v1/captures/subject_document",
        files={"file": ("a.jpg", synthetic_jpeg(100, 80), "image/jpeg")},
        headers=h,
    )
    assert r.status_code == 422
    assert r.json()["code"] == "CAPTURE_REJECTED"
    assert r.json()["accepted"] is False
    assert [c["code"] for c in r.json()["checks"] if not c["passed"]] == ["IMAGE_TOO_SMALL"]
    r = await api.client.post("/m/v1/captures/subject_document", headers=h)
    assert r.json()["code"] == "UPLOAD_MALFORMED"
    r = await api.client.post(
        "/m/v1/captures/subject_document",
        files={"other": ("a.jpg", synthetic_jpeg(), "image/jpeg")},
        headers=h,
    )
    assert r.json()["code"] == "FILE_MISSING"
    r = await api.client.post(
        "/m/v1/captures/subject_document", files={"file": ("a.jpg", synthetic_jpeg(), "image/jpeg")}
    )
    assert (r.status_code, r.json()["code"]) == (401, "SESSION_INVALID")
    # Nothing was accepted by any of that.
    got = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert not any(m["accepted"] for m in got["materials"])
    assert got["status"] == "pending"


async def test_face_step_needs_a_fresh_challenge(api: Api) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, s, step)).status_code == 201
    h = bearer(s)
    video = synthetic_mp4()
    r = await api.client.post(
        "/m/v1/captures/face", files={"video": ("f.mp4", video, "video/mp4")}, headers=h
    )
    assert r.json()["code"] == "CHALLENGE_REQUIRED"
    ch = (await challenge(api, s)).json()
    r = await api.client.post(
        "/m/v1/captures/face",
        files={"video": ("f.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, "video/mp4")},
        data={"challenge_id": ch["challenge_id"]},
        headers=h,
    )
    assert r.json()["code"] == "FILE_UNDECODABLE"
    r = await api.client.post(
        "/m/v1/captures/face",
        files={"video": ("f.mp4", video, "video/mp4")},
        data={"challenge_id": ch["challenge_id"]},
        headers=h,
    )
    assert (r.status_code, r.json()["code"]) == (410, "CHALLENGE_EXPIRED")  # single use


async def test_racing_uploads_leave_one_result(api: Api) -> None:
    order = await new_order(api)
    # Two sessions that both own the subject document: the order scope and the subject scope.
    a = await open_session(api, await qr(api, order["id"], "order"))
    b = await open_session(api, await qr(api, order["id"], "subject"))
    results = await asyncio.gather(
        *(upload(api, s, "subject_document", seed=i) for i, s in enumerate([a, b, a, b]))
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1, [r.text for r in results]
    assert all(c == 409 for c in codes if c != 201)
    got = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    accepted = [m for m in got["materials"] if m["accepted"] and m["step"] == "subject_document"]
    assert len(accepted) == 1
    events = (await api.client.get(f"/v1/orders/{order['id']}/events", headers=api.auth)).json()[
        "items"
    ]
    assert [e["type"] for e in events].count("capture.accepted") == 1


@pytest.mark.parametrize("platform", ["dev"])
async def test_session_read(api: Api, platform: str) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    r = await api.client.get("/m/v1/session", headers=bearer(s))
    assert r.status_code == 200
    body = r.json()
    assert "session_token" not in body  # the caller holds it already
    assert [st["done"] for st in body["steps"]] == [False] * 5
    assert body["steps"][3]["available"] is False
    assert body["steps"][3]["blocked_reason"] == "请先完成本人证件拍摄"
    assert platform == "dev"


async def test_materials_list_and_package(api: Api) -> None:
    import io
    import json
    import zipfile

    order = await new_order(api)
    oid = order["id"]
    s = await open_session(api, await qr(api, oid))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, s, step)).status_code == 201
    assert (await face(api, s)).status_code == 201
    items = (await api.client.get(f"/v1/orders/{oid}/materials", headers=api.auth)).json()
    labels = sorted(i["label"] for i in items)
    assert "主办单位证件-深圳市示例科技有限公司" in labels
    assert "主体负责人证件-张三-人像面" in labels
    assert "主体负责人证件-张三-国徽面" in labels
    comp = await api.client.get(
        f"/v1/orders/{oid}/materials/id-composite?person=subject_principal", headers=api.auth
    )
    assert comp.status_code == 200, comp.text
    assert comp.headers["content-type"] == "image/jpeg"
    assert len(comp.content) <= 2 * 1024 * 1024
    r = await api.client.get(f"/v1/orders/{oid}/package.zip", headers=api.auth)
    assert r.status_code == 200
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    names = zf.namelist()
    assert "manifest.json" in names
    assert "证件合成图-张三.jpg" in names
    sheet = next(n for n in names if n.startswith("电子核验单-"))
    assert zf.read(sheet).startswith(b"%PDF")
    manifest = json.loads(zf.read("manifest.json"))
    import hashlib

    for f in manifest["files"]:
        assert hashlib.sha256(zf.read(f["name"])).hexdigest() == f["sha256"]
    assert any(e["type"] == "part.verified" for e in manifest["events"])
    other = await api.new_provider()
    r = await api.client.get(
        f"/v1/orders/{oid}/package.zip", headers={"Authorization": f"Bearer {other[1]}"}
    )
    assert r.status_code == 404


async def test_one_active_session_per_qr(api: Api) -> None:
    sp = person()
    wp = person("李四", ID_B, "13900139000")
    order = await new_order(api, principal=sp, websites=[
        {"name": "二", "domains": ["b.cn"], "principal": wp},
    ])  # fmt: skip
    token = await qr(api, order["id"], "order")
    first = await open_session(api, token, "13900139000")
    again = await open_session(api, token, "13900139000")  # same phone: a fresh session
    r = await api.client.get("/m/v1/session", headers=bearer(first))
    assert (r.status_code, r.json()["code"]) == (401, "SESSION_INVALID")
    assert (await api.client.get("/m/v1/session", headers=bearer(again))).status_code == 200
    # Another device cannot take the QR code over while that session is active.
    r = await api.client.post(
        "/m/v1/sessions",
        json={"qr_token": token, "platform": "dev", "mobile": "13900139000", "device_id": "x"},
    )
    assert (r.status_code, r.json()["code"]) == (409, "SESSION_ACTIVE")
    assert (await api.client.get("/m/v1/session", headers=bearer(again))).status_code == 200


async def test_qr_locked_after_five_mismatches(api: Api) -> None:
    order = await new_order(api)
    token = await qr(api, order["id"])
    for _ in range(5):
        r = await api.client.post(
            "/m/v1/sessions", json={"qr_token": token, "platform": "dev", "mobile": "13900000000"}
        )
        assert r.json()["code"] == "PHONE_MISMATCH"
    r = await api.client.post(
        "/m/v1/sessions", json={"qr_token": token, "platform": "dev", "mobile": "13800138000"}
    )
    assert (r.status_code, r.json()["code"]) == (423, "QR_LOCKED")
    # A new QR code from the provider works again.
    await open_session(api, await qr(api, order["id"]))


async def test_face_needs_separate_consent(api: Api) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    terms = s["face_consent"]
    assert terms["version"] and terms["text"]
    h = bearer(s)
    r = await api.client.post("/m/v1/liveness/challenge", headers=h)
    assert (r.status_code, r.json()["code"]) == (428, "CONSENT_REQUIRED")
    assert r.json()["consent"]["text_sha256"] == terms["text_sha256"]
    stale = consent(s)
    stale["consent"]["text_sha256"] = "0" * 64
    r = await api.client.post("/m/v1/liveness/challenge", json=stale, headers=h)
    assert r.status_code == 428
    assert (await challenge(api, s)).status_code == 201
    events = (await api.client.get(f"/v1/orders/{order['id']}/events", headers=api.auth)).json()
    accepted = [e for e in events["items"] if e["type"] == "consent.face_accepted"]
    assert len(accepted) == 1
    assert accepted[0]["data"]["version"] == terms["version"]


async def test_etag_changes_with_every_capture_and_304_matches_200(api: Api) -> None:
    """Polling answers 304 from the order row alone; every capture (accepted or refused)
    and every status change must still change the ETag, and 304 must carry the same ETag
    as the 200 that preceded it."""
    order = await new_order(api)
    url = f"/v1/orders/{order['id']}"

    async def poll(etag: str | None) -> Any:
        headers = {**api.auth, **({"If-None-Match": etag} if etag else {})}
        return await api.client.get(url, headers=headers)

    first = await poll(None)
    etag = first.headers["etag"]
    same = await poll(etag)
    assert same.status_code == 304 and same.headers["etag"] == etag
    # A list of tags matches when any one of them does.
    assert (await poll(f'"nope", {etag}')).status_code == 304
    assert (await poll('"nope"')).status_code == 200

    session = await open_session(api, await qr(api, order["id"]))
    after_qr = await poll(etag)  # qr.issued and session.opened are events
    assert after_qr.status_code == 200 and after_qr.headers["etag"] != etag
    etag = after_qr.headers["etag"]

    refused = await api.client.post(
        "/m/v1/captures/subject_document",
        files={"file": ("photo.jpg", b"\xff\xd8 not a jpeg", "image/jpeg")},
        headers=bearer(session),
    )
    assert refused.status_code >= 400
    r = await upload(api, session, "subject_document")
    assert r.status_code == 201, r.text
    changed = await poll(etag)
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert any(m["step"] == "subject_document" for m in changed.json()["materials"])
    assert (await poll(changed.headers["etag"])).status_code == 304
