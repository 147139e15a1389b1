"""Pre-check (预检) of the extra-document steps through the API, both backends (intake-only
pipeline): the 法人授权书, a 域名证书 and the signed pledge photo are pre-checked like any
document step (nothing stored, no state change), from the phone by step and from the
provider's PC by kind or by the order's step; the pledge confirmation (JSON) and the face are
not photos to pre-check."""

from __future__ import annotations

from typing import Any

from tests.conftest import ID_B, Api, order_body, person, synthetic_jpeg
from tests.filing.helpers import WEBSITE_MOBILE
from tests.flows import bearer, open_session, qr

PHOTO = {"file": ("p.jpg", synthetic_jpeg(seed=50), "image/jpeg")}


async def _order(api: Api) -> dict[str, Any]:
    body = order_body(
        principal=person(),
        websites=[{"name": "示例官网", "domains": ["example.cn"],
                   "principal": person("李四", ID_B, WEBSITE_MOBILE)}],
    )  # fmt: skip
    body["requirements"] = {"pledge": True, "pledge_photo": True, "authorisation_letter": True,
                            "domain_certificate": True}  # fmt: skip
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_phone_precheck_of_the_extra_steps(api: Api) -> None:
    order = await _order(api)
    oid, wid = order["id"], order["websites"][0]["id"]
    subject = await open_session(api, await qr(api, oid, "subject"), device="device-pc-1")
    site = await open_session(
        api, await qr(api, oid, f"website:{wid}"), WEBSITE_MOBILE, device="device-pc-2"
    )
    for session, step in ((site, "authorisation_letter"), (site, f"domain_certificate:{wid}"),
                          (subject, "pledge_photo")):  # fmt: skip
        r = await api.client.post(f"/m/v1/precheck?step={step}", files=PHOTO,
                                  headers=bearer(session))  # fmt: skip
        assert r.status_code == 200, (step, r.text)
        assert r.json()["step"] == step and r.json()["accepted"] is True
    # Another session's step, an unknown one, the JSON pledge.
    r = await api.client.post("/m/v1/precheck?step=pledge_photo", files=PHOTO, headers=bearer(site))
    assert r.status_code == 403 and r.json()["code"] == "STEP_NOT_IN_SCOPE", r.text
    r = await api.client.post(
        "/m/v1/precheck?step=domain_certificate:" + "0" * 32, files=PHOTO, headers=bearer(site)
    )
    assert r.status_code == 404 and r.json()["code"] == "STEP_UNKNOWN", r.text
    r = await api.client.post("/m/v1/precheck?step=pledge", files=PHOTO, headers=bearer(subject))
    assert r.status_code == 404 and "pledge" not in r.json()["valid_steps"], r.text
    assert "pledge_photo" in r.json()["valid_steps"]

    got = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    assert got["materials"] == [] and got["status"] == "pending"


async def test_provider_precheck_of_the_extra_kinds_and_steps(api: Api) -> None:
    order = await _order(api)
    oid, wid = order["id"], order["websites"][0]["id"]
    for kind in ("authorisation_letter", "domain_certificate", "pledge_photo"):
        r = await api.client.post(f"/v1/precheck?kind={kind}", files=PHOTO, headers=api.auth)
        assert r.status_code == 200 and r.json()["accepted"] is True, (kind, r.text)
    for step in ("authorisation_letter", f"domain_certificate:{wid}", "pledge_photo"):
        r = await api.client.post(
            f"/v1/precheck?order_id={oid}&step={step}", files=PHOTO, headers=api.auth
        )
        assert r.status_code == 200 and r.json()["accepted"] is True, (step, r.text)
    r = await api.client.post(
        f"/v1/precheck?order_id={oid}&step=pledge", files=PHOTO, headers=api.auth
    )
    assert r.status_code == 404 and r.json()["code"] == "STEP_UNKNOWN", r.text
    got = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    assert got["materials"] == []
