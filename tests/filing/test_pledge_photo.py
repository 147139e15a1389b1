"""The signed 承诺书 photo (requirements.pledge_photo) through the API, on both backends
(intake-only pipeline: the state machine, the routes, the records and the package; the OCR
checks on labelled-synthetic pages are in test_pledge_photo_checks.py)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tests.conftest import ID_B, Api, order_body, person, synthetic_jpeg
from tests.filing.helpers import WEBSITE_MOBILE
from tests.flows import bearer, face, open_session, qr, status, upload


async def _order(api: Api, **requirements: bool) -> dict[str, Any]:
    body = order_body(
        principal=person(),
        websites=[{"name": "示例官网", "domains": ["example.cn"],
                   "principal": person("李四", ID_B, WEBSITE_MOBILE)}],
    )  # fmt: skip
    body["requirements"] = requirements
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _photo(api: Api, session: dict[str, Any], seed: int = 40) -> Any:
    return await api.client.post(
        "/m/v1/captures/pledge_photo",
        files={"file": ("pledge.jpg", synthetic_jpeg(seed=seed), "image/jpeg")},
        headers=bearer(session),
    )


async def _pledge(api: Api, session: dict[str, Any]) -> None:
    terms = (await api.client.get("/m/v1/pledge", headers=bearer(session))).json()
    ok = await api.client.post(
        "/m/v1/pledge", json={"version": terms["version"], "text_sha256": terms["text_sha256"]},
        headers=bearer(session),
    )  # fmt: skip
    assert ok.status_code == 201, ok.text


async def test_the_sheet_part_needs_the_signed_pledge_photo(api: Api) -> None:
    order = await _order(api, pledge=True, pledge_photo=True)
    oid, wid = order["id"], order["websites"][0]["id"]
    sheet = next(p for p in order["parts"] if p["part"] == "sheet")
    assert [s["step"] for s in sheet["steps"]] == ["pledge", "pledge_photo", "verification_sheet"]
    assert order["requirements"] == {"pledge": True, "pledge_photo": True}

    subject = await open_session(api, await qr(api, oid, "subject"))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, subject, step)).status_code == 201
    site = await open_session(api, await qr(api, oid, f"website:{wid}"), WEBSITE_MOBILE)
    for i, step in enumerate(("website_principal_id_front", "website_principal_id_back")):
        assert (await upload(api, site, step, seed=10 + i)).status_code == 201
    assert (await face(api, site)).status_code == 201

    # The website's session does not own the sheet part; the subject's session lists the step.
    r = await _photo(api, site)
    assert r.status_code == 403 and r.json()["code"] == "STEP_NOT_IN_SCOPE", r.text
    view = (await api.client.get("/m/v1/session", headers=bearer(subject))).json()
    listed = {s["step"]: s for s in view["steps"]}
    assert listed["pledge_photo"]["title"] == "签字承诺书照片"

    await _pledge(api, subject)
    # The sheet waits for the photo.
    r = await upload(api, subject, "verification_sheet", seed=5)
    assert r.status_code == 409 and r.json()["reason"] == "pledge_photo_first", r.text
    assert await status(api, oid) == "website_verified"

    r = await _photo(api, subject)
    assert r.status_code == 201, r.text
    assert r.json()["step"] == "pledge_photo" and r.json()["next_step"] == "verification_sheet"
    again = await _photo(api, subject, seed=41)
    assert again.status_code == 409 and again.json()["code"] == "STEP_ALREADY_DONE"
    r = await upload(api, subject, "verification_sheet", seed=5)
    assert r.status_code == 201 and r.json()["order_status"] == "complete", r.text

    full = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    sheet = next(p for p in full["parts"] if p["part"] == "sheet")
    assert sheet["done"] and all(s["done"] and s["material_id"] for s in sheet["steps"])
    pkg = await api.client.get(f"/v1/orders/{oid}/package.zip", headers=api.auth)
    zf = zipfile.ZipFile(io.BytesIO(pkg.content))
    names = [f["name"] for f in json.loads(zf.read("manifest.json"))["files"]]
    assert "承诺书-深圳市示例科技有限公司.jpg" in names, names
    assert zf.read("承诺书-深圳市示例科技有限公司.jpg")[:2] == b"\xff\xd8"
    # Filed with the sheet: the sheet's limit of each profile (miit_legacy: 150 KB).
    pkg = await api.client.get(
        f"/v1/orders/{oid}/package.zip?profile=miit_legacy", headers=api.auth
    )
    zf = zipfile.ZipFile(io.BytesIO(pkg.content))
    manifest = json.loads(zf.read("manifest.json"))
    entry = next(f for f in manifest["files"] if f["name"] == "承诺书-深圳市示例科技有限公司.jpg")
    limit = manifest["profile"]["limits"]["sheet"]["max_bytes"]
    assert entry["profile_kind"] == "sheet" and limit == 150_000
    assert len(zf.read(entry["name"])) <= limit

    # A re-verify of the website leaves the pledge and its photo (the order's data is the
    # same); the sheet goes.
    r = await api.client.post(
        f"/v1/orders/{oid}/reverify", json={"part": f"website:{wid}"}, headers=api.auth
    )
    assert r.status_code == 200, r.text
    steps = {s["step"]: s["done"] for p in r.json()["parts"] if p["part"] == "sheet"
             for s in p["steps"]}  # fmt: skip
    assert steps == {"pledge": True, "pledge_photo": True, "verification_sheet": False}


async def test_without_the_requirement_there_is_no_pledge_photo(api: Api) -> None:
    order = await _order(api, pledge=True)
    sheet = next(p for p in order["parts"] if p["part"] == "sheet")
    assert [s["step"] for s in sheet["steps"]] == ["pledge", "verification_sheet"]
    subject = await open_session(api, await qr(api, order["id"], "subject"), device="device-pp-2")
    r = await _photo(api, subject)
    assert r.status_code == 404 and r.json()["code"] == "STEP_UNKNOWN", r.text


async def test_the_photo_alone_without_the_pledge_confirmation(api: Api) -> None:
    """pledge_photo without pledge: the photo is the sheet part's only extra step."""
    order = await _order(api, pledge_photo=True)
    sheet = next(p for p in order["parts"] if p["part"] == "sheet")
    assert [s["step"] for s in sheet["steps"]] == ["pledge_photo", "verification_sheet"]
