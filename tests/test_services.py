"""Services beyond websites (工信部信管〔2023〕105号): an order with a website, an APP and a
mini-program, each with its own principal part, completes through the API like websites;
the view, the sheet and the SMS table cover every kind; bad APP fields are refused."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader

from tests.conftest import ID_A, ID_B, Api, order_body, person
from tests.flows import face, open_session, qr, upload

CERT = "AB:CD:" + "12" * 30  # a SHA-256 fingerprint written with colons, as keytool prints it
APP = {
    "kind": "app", "name": "示例 APP", "platforms": ["android", "ios"],
    "package_name": "cn.example.app", "bundle_id": "cn.example.app", "signing_cert_sha256": CERT,
}  # fmt: skip
MINI = {"kind": "mini_program", "name": "示例小程序", "platform": "wechat",
        "platform_id": "wx1234567890abcdef"}  # fmt: skip


def _body() -> dict[str, Any]:
    boss, site_lead = person(), person("李四", ID_B, "13900139000")
    body = order_body(
        principal=boss,
        websites=[{"name": "示例官网", "domains": ["example.cn"], "principal": boss}],
    )
    body["services"] = [{**APP, "principal": site_lead}, {**MINI, "principal": site_lead}]
    return body


async def test_an_order_with_a_website_an_app_and_a_mini_program_completes(api: Api) -> None:
    r = await api.client.post("/v1/orders", json=_body(), headers=api.auth)
    assert r.status_code == 201, r.text
    order = r.json()
    assert [w["name"] for w in order["websites"]] == ["示例官网"]  # websites as before
    kinds = {s["kind"]: s for s in order["services"]}
    assert set(kinds) == {"website", "app", "mini_program"}
    app = kinds["app"]["attrs"]
    assert app["signing_cert_sha256"] == "abcd" + "12" * 30  # normalised
    assert app["platforms"] == ["android", "ios"]
    assert kinds["mini_program"]["attrs"] == {"platform": "wechat",
                                              "platform_id": "wx1234567890abcdef"}  # fmt: skip
    parts = [p["part"] for p in order["parts"]]
    assert parts == ["subject", *(f"website:{s['id']}" for s in order["services"]), "sheet"]

    oid = order["id"]
    subject = await open_session(api, await qr(api, oid, "subject"))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, subject, step)).status_code == 201
    # The website's principal is the subject's: one face. The APP's principal does their
    # documents and face in the APP part's session; the mini-program has the same principal,
    # so the evidence (keyed by person and step) completes its part too.
    site = await open_session(api, await qr(api, oid, f"website:{kinds['website']['id']}"))
    assert (await face(api, site)).status_code == 201
    s = await open_session(api, await qr(api, oid, f"website:{kinds['app']['id']}"), "13900139000")
    for i, step in enumerate(("website_principal_id_front", "website_principal_id_back")):
        assert (await upload(api, s, step, seed=20 + i)).status_code == 201
    assert (await face(api, s)).status_code == 201
    view = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    done = {p["part"]: p["done"] for p in view["parts"]}
    assert done[f"website:{kinds['mini_program']['id']}"] is True
    r = await upload(api, subject, "verification_sheet", seed=5)
    assert r.json()["order_status"] == "complete", r.text

    sheet = await api.client.get(f"/v1/orders/{oid}/verification-sheet.pdf", headers=api.auth)
    assert sheet.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(sheet.content)).pages)
    for expected in ("APP", "小程序", "cn.example.app", "wx1234567890abcdef", "示例官网"):
        assert expected in text, expected
    sub = await api.client.post(f"/v1/orders/{oid}/submitted", headers=api.auth)
    assert sub.status_code in (200, 201), sub.text
    sms = (await api.client.get(f"/v1/orders/{oid}/sms", headers=api.auth)).json()
    # new_filing: the subject principal and every service's principal answer the SMS.
    assert len(sms["people"]) == 2, sms


async def test_bad_service_fields_are_refused_with_their_codes(api: Api) -> None:
    body = _body()
    body["services"][0] = {**APP, "package_name": "not a package", "signing_cert_sha256": "xyz",
                           "principal": person()}  # fmt: skip
    body["services"][1] = {**MINI, "platform_id": "", "principal": person()}
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 422
    codes = {(e["code"], e["field"]) for e in r.json()["errors"]}
    assert ("APP_PACKAGE_INVALID", "services[0].package_name") in codes
    assert ("APP_CERT_FINGERPRINT_INVALID", "services[0].signing_cert_sha256") in codes
    assert ("PLATFORM_ID_INVALID", "services[1].platform_id") in codes
    assert r.json()["detail"] and r.json()["errors"][0]["detail"]  # zh, shown as is


async def test_an_order_needs_a_service(api: Api) -> None:
    body = order_body()
    body["websites"] = []
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 422 and r.json()["code"] == "SERVICES_MISSING", r.text


async def test_a_websites_only_order_is_idempotent_as_before(api: Api) -> None:
    body = order_body()
    a = await api.client.post("/v1/orders", json=body, headers=api.auth)
    b = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert a.status_code == 201 and b.status_code == 200 and a.json()["id"] == b.json()["id"]
    assert [s["kind"] for s in a.json()["services"]] == ["website"]
    assert ID_A  # the subject's principal (a resident ID) is the default person
