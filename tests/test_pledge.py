"""The 承诺书 step end to end through the public API: the text served in the session, its
acceptance (hash echoed, idempotent) as evidence of the sheet part, and what the provider,
the sheet, the package and the event trail then show."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from app.filing.provinces import GUANGDONG_PLEDGE
from app.filing.sheet import ROLE_ZH
from tests.conftest import ID_A, ID_B, Api, order_body, person
from tests.filing.helpers import WEBSITE_MOBILE, face
from tests.filing.test_sheet import text_of
from tests.flows import bearer, open_session, qr, status, upload


async def _order(api: Api, *, pledge: bool = True, **kw: Any) -> dict[str, Any]:
    body = order_body(
        principal=person(),
        websites=[{"name": "示例官网", "domains": ["example.cn"],
                   "principal": person("李四", ID_B, WEBSITE_MOBILE)}],
    )  # fmt: skip
    body.update(kw)
    if pledge:
        body["requirements"] = {"pledge": True}
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _verify_parts(api: Api, order: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Subject and website parts done through split sessions; the sheet is left."""
    oid, wid = order["id"], order["websites"][0]["id"]
    subject = await open_session(api, await qr(api, oid, "subject"))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, subject, step)).status_code == 201
    site = await open_session(api, await qr(api, oid, f"website:{wid}"), WEBSITE_MOBILE)
    for i, step in enumerate(("website_principal_id_front", "website_principal_id_back")):
        assert (await upload(api, site, step, seed=10 + i)).status_code == 201
    assert (await face(api, site)).status_code == 201
    return subject, site


def _accept(terms: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"version": terms["version"], "text_sha256": terms["text_sha256"],
            "accepted_at": "2026-12-01T10:00:00Z", **over}  # fmt: skip


async def test_pledge_required_gates_completion_and_is_recorded(api: Api) -> None:
    order = await _order(api)
    oid = order["id"]
    assert order["requirements"] == {"pledge": True}
    subject, site = await _verify_parts(api, order)
    assert await status(api, oid) == "website_verified"

    # The session lists the step before the sheet, and the sheet waits for it.
    view = (await api.client.get("/m/v1/session", headers=bearer(subject))).json()
    names = [s["step"] for s in view["steps"]]
    assert names[-2:] == ["pledge", "verification_sheet"]
    assert view["next_step"] == "pledge"
    sheet_step = view["steps"][-1]
    assert not sheet_step["available"]
    assert sheet_step["blocked_reason"] == "请先阅读并确认《备案真实性承诺书》"
    r = await upload(api, subject, "verification_sheet", seed=5)
    assert r.status_code == 409 and r.json()["reason"] == "pledge_first", r.text

    # The text: a unit's, naming the business type, its hash over exactly the text served.
    got = await api.client.get("/m/v1/pledge", headers=bearer(subject))
    assert got.status_code == 200, got.text
    terms = got.json()
    assert terms["kind"] == "unit" and terms["required"] and terms["in_scope"]
    assert terms["text"].startswith("备案真实性承诺书\n本单位郑重承诺")
    assert "新增备案" in terms["text"]
    assert terms["text_sha256"] == hashlib.sha256(terms["text"].encode()).hexdigest()
    assert terms["handwritten_pledge"] is None  # a unit seals; no copied-out pledge
    assert not terms["accepted"]

    # A hash of another text is refused, and the answer carries the current text.
    bad = await api.client.post(
        "/m/v1/pledge", json=_accept(terms, text_sha256="0" * 64), headers=bearer(subject)
    )
    assert bad.status_code == 409 and bad.json()["code"] == "PLEDGE_TEXT_CHANGED", bad.text
    assert bad.json()["pledge"]["text_sha256"] == terms["text_sha256"]
    assert "message_zh" in bad.json() or "detail" in bad.json()

    # The website principal's session does not own the sheet part: it cannot confirm it.
    other = await api.client.get("/m/v1/pledge", headers=bearer(site))
    assert other.json()["in_scope"] is False
    refused = await api.client.post("/m/v1/pledge", json=_accept(terms), headers=bearer(site))
    assert refused.status_code == 403 and refused.json()["code"] == "STEP_NOT_IN_SCOPE"

    ok = await api.client.post("/m/v1/pledge", json=_accept(terms), headers=bearer(subject))
    assert ok.status_code == 201, ok.text
    assert ok.json()["created"] and ok.json()["order_status"] == "website_verified"
    again = await api.client.post("/m/v1/pledge", json=_accept(terms), headers=bearer(subject))
    assert again.status_code == 200 and not again.json()["created"]
    assert again.json()["material_id"] == ok.json()["material_id"]
    view = (await api.client.get("/m/v1/session", headers=bearer(subject))).json()
    assert view["next_step"] == "verification_sheet"

    r = await upload(api, subject, "verification_sheet", seed=5)
    assert r.status_code == 201 and r.json()["order_status"] == "complete", r.text
    assert await status(api, oid) == "complete"

    # The provider: the sheet part's steps, the pledge's record, the stored text.
    full = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    sheet = next(p for p in full["parts"] if p["part"] == "sheet")
    assert sheet["done"] and [s["step"] for s in sheet["steps"]] == ["pledge", "verification_sheet"]
    rec = sheet["steps"][0]["pledge"]
    assert rec["version"] == terms["version"] and rec["kind"] == "unit"
    assert rec["text_sha256"] == terms["text_sha256"]
    assert rec["accepted_by"] == full["subject"]["principal"]["id"]
    assert rec["role"] == "subject_principal"
    assert rec["client_accepted_at"].startswith("2026-12-01T10:00:00")
    mid = sheet["steps"][0]["material_id"]
    text = await api.client.get(f"/v1/orders/{oid}/materials/{mid}", headers=api.auth)
    assert text.status_code == 200 and text.content.decode() == terms["text"]
    # The pledge is no photo: the method counts the six document photos only.
    assert full["verification_method"]["documents"] == 6

    # One event, with the hash, the version and the session that confirmed it.
    events = (await api.client.get(f"/v1/orders/{oid}/events", headers=api.auth)).json()["items"]
    pledged = [e for e in events if e["type"] == "pledge.accepted"]
    assert len(pledged) == 1
    assert pledged[0]["part"] == "sheet" and pledged[0]["session_id"]
    assert pledged[0]["data"]["text_sha256"] == terms["text_sha256"]
    assert pledged[0]["phone_masked"] == "138****8000"

    # The sheet states it (who, when, which text) and lists the text's hash.
    pdf = await api.client.get(f"/v1/orders/{oid}/verification-sheet.pdf", headers=api.auth)
    flat = text_of(pdf.content).replace("\n", "")
    assert "承诺书确认" in flat and terms["version"] in flat
    assert f"确认人:张三({ROLE_ZH['subject_principal']})" in flat
    assert terms["text_sha256"][:40] in flat

    # The package holds the accepted text as is, and the manifest names it.
    pkg = await api.client.get(f"/v1/orders/{oid}/package.zip", headers=api.auth)
    zf = zipfile.ZipFile(io.BytesIO(pkg.content))
    manifest = json.loads(zf.read("manifest.json"))
    entry = next(f for f in manifest["files"] if f.get("step") == "pledge")
    assert entry["name"].startswith("承诺书确认-") and entry["name"].endswith(".txt")
    assert entry["sha256"] == terms["text_sha256"] and "output" not in entry
    assert zf.read(entry["name"]).decode() == terms["text"]


async def test_the_pledge_survives_a_reverify(api: Api) -> None:
    order = await _order(api)
    oid = order["id"]
    subject, _site = await _verify_parts(api, order)
    terms = (await api.client.get("/m/v1/pledge", headers=bearer(subject))).json()
    assert (
        await api.client.post("/m/v1/pledge", json=_accept(terms), headers=bearer(subject))
    ).status_code == 201
    r = await api.client.post(
        f"/v1/orders/{oid}/reverify", json={"part": "subject"}, headers=api.auth
    )
    assert r.status_code in (200, 202, 204), r.text
    full = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    sheet = next(p for p in full["parts"] if p["part"] == "sheet")
    assert sheet["steps"][0]["step"] == "pledge" and sheet["steps"][0]["done"]


async def test_order_without_the_requirement_completes_as_before(api: Api) -> None:
    order = await _order(api, pledge=False)
    oid = order["id"]
    assert order["requirements"] == {}
    subject, _site = await _verify_parts(api, order)
    view = (await api.client.get("/m/v1/session", headers=bearer(subject))).json()
    assert "pledge" not in [s["step"] for s in view["steps"]]
    terms = (await api.client.get("/m/v1/pledge", headers=bearer(subject))).json()
    assert terms["required"] is False
    r = await upload(api, subject, "verification_sheet", seed=5)
    assert r.json()["order_status"] == "complete", r.text
    full = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    sheet = next(p for p in full["parts"] if p["part"] == "sheet")
    assert [s["step"] for s in sheet["steps"]] == ["verification_sheet"]
    # Confirmed though not asked: recorded, shown as a done step, the order stays complete.
    ok = await api.client.post("/m/v1/pledge", json=_accept(terms), headers=bearer(subject))
    assert ok.status_code == 201 and ok.json()["order_status"] == "complete"
    full = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    sheet = next(p for p in full["parts"] if p["part"] == "sheet")
    assert [s["step"] for s in sheet["steps"]] == ["pledge", "verification_sheet"]


async def test_requirements_keep_idempotency(api: Api) -> None:
    body = order_body()
    body["requirements"] = {"pledge": False}
    first = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert first.status_code == 201 and first.json()["requirements"] == {}
    del body["requirements"]  # nothing asked hashes like no requirements at all
    assert (await api.client.post("/v1/orders", json=body, headers=api.auth)).status_code == 200
    body["requirements"] = {"pledge": True}
    clash = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert clash.status_code == 409 and clash.json()["code"] == "EXTERNAL_ID_CONFLICT"
    body["requirements"] = {"pledge": True, "other": True}
    assert (await api.client.post("/v1/orders", json=body, headers=api.auth)).status_code == 422


async def test_individual_in_guangdong_reads_the_handwritten_wording(api: Api) -> None:
    p = person()
    body = order_body(principal=p)
    body["subject"].update(nature="individual", name="张三",
                           document={"type": "resident_id", "number": ID_A})  # fmt: skip
    body["requirements"] = {"pledge": True}
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    session = await open_session(api, await qr(api, r.json()["id"], "order"))
    terms = (await api.client.get("/m/v1/pledge", headers=bearer(session))).json()
    assert terms["kind"] == "individual" and terms["province"] == "广东"
    assert terms["handwritten_pledge"] == GUANGDONG_PLEDGE
    assert GUANGDONG_PLEDGE in terms["text"] and "本人郑重承诺" in terms["text"]
    assert terms["version"].endswith("individual-广东")
    # No name or number of the person in the text a phone shows.
    assert "张三" not in terms["text"] and ID_A not in terms["text"]
    ok = await api.client.post("/m/v1/pledge", json=_accept(terms), headers=bearer(session))
    assert ok.status_code == 201, ok.text
