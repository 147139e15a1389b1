"""The signed pledge photo end to end with the real document checks (OCR, signature, seal),
both backends: the text the phone is served (GET /m/v1/pledge) printed on a labelled-synthetic
page (tests/filing/render_extra.py); unsigned, it is refused in the pre-check and the upload
(SIGNATURE_MISSING); signed, accepted."""

from __future__ import annotations

from tests.conftest import Api, order_body
from tests.filing import render_extra as X
from tests.flows import bearer, open_session, qr
from tests.real_flows import jpeg

UNIT = "深圳市示例科技有限公司"  # conftest.order_body's subject


async def test_unsigned_refused_signed_accepted(doc_api: Api) -> None:
    api = doc_api
    body = order_body()
    body["requirements"] = {"pledge_photo": True}
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    subject = await open_session(api, await qr(api, r.json()["id"], "subject"), device="pp-real")
    text = (await api.client.get("/m/v1/pledge", headers=bearer(subject))).json()["text"]

    unsigned = {"file": ("p.jpg", jpeg(X.pledge_photo(text, unit=UNIT, sign=False, seed=21)),
                         "image/jpeg")}  # fmt: skip
    r = await api.client.post(
        "/m/v1/precheck?step=pledge_photo", files=unsigned, headers=bearer(subject)
    )
    assert r.status_code == 200, r.text
    failed = [c["code"] for c in r.json()["checks"] if not c["passed"]]
    assert r.json()["accepted"] is False and failed == ["SIGNATURE_MISSING"], r.text
    r = await api.client.post(
        "/m/v1/captures/pledge_photo", files=unsigned, headers=bearer(subject)
    )
    assert r.status_code == 422 and r.json()["code"] == "CAPTURE_REJECTED", r.text
    assert r.json()["detail"] == "未检测到手写签名,请在签字处亲笔签名后重新拍摄"

    signed = {"file": ("p.jpg", jpeg(X.pledge_photo(text, unit=UNIT, seed=22)), "image/jpeg")}
    r = await api.client.post("/m/v1/captures/pledge_photo", files=signed, headers=bearer(subject))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["accepted"] and out["next_step"] == "subject_document"  # the subject part next
    assert out["extracted"]["signed_on"] == "2026-11-20"
    codes = {c["code"] for c in out["checks"]}
    assert {"PLEDGE_TITLE_MISSING", "PLEDGE_WORDING_MISSING", "PLEDGE_DATE_MISSING",
            "SIGNATURE_MISSING", "PLEDGE_SEAL_MISSING"} <= codes  # fmt: skip
