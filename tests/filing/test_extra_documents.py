"""The issue's whole order through the API (intake-only pipeline: the state machine, the
routes and the records; the OCR checks of these documents are in test_domain_certificate.py):
a unit with a website, an APP and a mini-program, whose website principal is not the legal
representative, completes with the 承诺书, the 法人授权书 and the 域名证书."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from PIL import Image

from tests.conftest import ID_B, Api, order_body, person, synthetic_jpeg
from tests.filing.helpers import WEBSITE_MOBILE
from tests.flows import bearer, face, open_session, qr, status, upload
from tests.test_services import APP, MINI


def _body(**requirements: bool) -> dict[str, Any]:
    boss, lead = person(), person("李四", ID_B, WEBSITE_MOBILE)
    body = order_body(
        principal=boss,
        websites=[{"name": "示例官网", "domains": ["example.cn", "www.example.cn"],
                   "principal": lead}],
    )  # fmt: skip
    body["services"] = [{**APP, "principal": lead}, {**MINI, "principal": boss}]
    body["requirements"] = requirements
    return body


async def _file(api: Api, session: dict[str, Any], step: str, seed: int = 0) -> Any:
    return await api.client.post(
        f"/m/v1/captures/{step}",
        files={"file": ("doc.jpg", synthetic_jpeg(seed=seed), "image/jpeg")},
        headers=bearer(session),
    )


async def test_the_issues_order_completes_with_pledge_letter_and_domain_certificate(
    api: Api,
) -> None:
    body = _body(pledge=True, authorisation_letter=True, domain_certificate=True)
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    order = r.json()
    oid = order["id"]
    kinds = {s["kind"]: s["id"] for s in order["services"]}
    wid, app_id, mini_id = kinds["website"], kinds["app"], kinds["mini_program"]
    cert_step = f"domain_certificate:{wid}"
    steps = {p["part"]: [s["step"] for s in p["steps"]] for p in order["parts"]}
    assert steps[f"website:{wid}"] == ["website_principal_id_front", "website_principal_id_back",
                                       "authorisation_letter", cert_step, "face"]  # fmt: skip
    # The APP's principal is the website's (one letter for the person), no domain; the
    # mini-program's is the legal representative: no letter.
    assert steps[f"website:{app_id}"] == ["website_principal_id_front",
                                          "website_principal_id_back",
                                          "authorisation_letter", "face"]  # fmt: skip
    assert steps[f"website:{mini_id}"] == ["face"]

    subject = await open_session(api, await qr(api, oid, "subject"))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, subject, step)).status_code == 201
    site = await open_session(api, await qr(api, oid, f"website:{wid}"), WEBSITE_MOBILE)
    view = (await api.client.get("/m/v1/session", headers=bearer(site))).json()
    titles = {s["step"]: s["title"] for s in view["steps"]}
    assert titles["authorisation_letter"] == "法人授权书" and titles[cert_step] == "域名证书"
    for i, step in enumerate(("website_principal_id_front", "website_principal_id_back")):
        assert (await upload(api, site, step, seed=10 + i)).status_code == 201
    assert (await face(api, site)).status_code == 201
    # ID and face done, but the part waits for its documents.
    full = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    assert not next(p for p in full["parts"] if p["part"] == f"website:{wid}")["done"]

    # Another service's session cannot upload this website's certificate; an unknown one is
    # no step at all; a session's own steps are taken once.
    app_session = await open_session(
        api, await qr(api, oid, f"website:{app_id}"), WEBSITE_MOBILE, device="device-2"
    )
    r = await _file(api, app_session, cert_step)
    assert r.status_code == 403 and r.json()["code"] == "STEP_NOT_IN_SCOPE", r.text
    r = await _file(api, site, "domain_certificate:" + "0" * 32)
    assert r.status_code == 404 and r.json()["code"] == "STEP_UNKNOWN"
    assert r.json()["valid_steps"] == ["authorisation_letter", cert_step]

    r = await _file(api, site, "authorisation_letter", seed=30)
    assert r.status_code == 201, r.text
    assert r.json()["step"] == "authorisation_letter" and r.json()["next_step"] == cert_step
    again = await _file(api, app_session, "authorisation_letter", seed=31)
    assert again.status_code == 409 and again.json()["code"] == "STEP_ALREADY_DONE"
    r = await _file(api, site, cert_step, seed=32)
    assert r.status_code == 201 and r.json()["next_step"] is None, r.text

    mini = await open_session(api, await qr(api, oid, f"website:{mini_id}"), device="device-3")
    assert (await face(api, mini)).status_code == 201
    assert await status(api, oid) == "website_verified"  # every service part, not the sheet

    terms = (await api.client.get("/m/v1/pledge", headers=bearer(subject))).json()
    ok = await api.client.post(
        "/m/v1/pledge", json={"version": terms["version"], "text_sha256": terms["text_sha256"]},
        headers=bearer(subject),
    )  # fmt: skip
    assert ok.status_code == 201, ok.text
    r = await upload(api, subject, "verification_sheet", seed=5)
    assert r.status_code == 201 and r.json()["order_status"] == "complete", r.text
    assert await status(api, oid) == "complete"

    full = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    assert full["requirements"] == {"pledge": True, "authorisation_letter": True,
                                    "domain_certificate": True}  # fmt: skip
    site_part = next(p for p in full["parts"] if p["part"] == f"website:{wid}")
    assert site_part["done"] and all(s["done"] and s["material_id"] for s in site_part["steps"])
    pkg = await api.client.get(f"/v1/orders/{oid}/package.zip", headers=api.auth)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(pkg.content)).read("manifest.json"))
    names = [f["name"] for f in manifest["files"]]
    assert any(n.startswith("法人授权书-") and "李四" in n for n in names), names
    assert "域名证书-示例官网.jpg" in names
    assert any(n.startswith("承诺书确认-") for n in names)
    # Stitched with the ID (the letter) and the licence (the certificate), in every profile
    # within the profile's composite limit.
    for profile in ("original", "miit_legacy", "algorithm_filing"):
        pkg = await api.client.get(
            f"/v1/orders/{oid}/package.zip?profile={profile}", headers=api.auth
        )
        zf = zipfile.ZipFile(io.BytesIO(pkg.content))
        manifest = json.loads(zf.read("manifest.json"))
        limit = manifest["profile"]["limits"]["composite"]
        stitched = {f["name"]: f for f in manifest["files"] if f["name"].endswith("-合成图.jpg")}
        assert "域名证书-示例官网-合成图.jpg" in stitched, list(stitched)
        letter = [n for n in stitched if n.startswith("法人授权书-")]
        assert len(letter) == 1 and "李四" in letter[0]
        for name, entry in stitched.items():
            data = zf.read(name)
            assert data[:2] == b"\xff\xd8" and entry["profile_kind"] == "composite"
            assert limit["max_bytes"] is None or len(data) <= limit["max_bytes"], (profile, name)
            image = Image.open(io.BytesIO(data))
            assert image.info.get("dpi", (0,))[0] == pytest.approx(entry["output"]["dpi"])
            assert image.width > image.height  # the page and its partner side by side

    # Re-verifying the website clears its letter and certificate with its face.
    r = await api.client.post(
        f"/v1/orders/{oid}/reverify", json={"part": f"website:{wid}"}, headers=api.auth
    )
    assert r.status_code == 200, r.text
    site_part = next(p for p in r.json()["parts"] if p["part"] == f"website:{wid}")
    assert not any(s["done"] for s in site_part["steps"])


async def test_without_the_requirements_no_extra_steps(api: Api) -> None:
    r = await api.client.post("/v1/orders", json=_body(), headers=api.auth)
    assert r.status_code == 201, r.text
    order = r.json()
    wid = next(s["id"] for s in order["services"] if s["kind"] == "website")
    site = next(p for p in order["parts"] if p["part"] == f"website:{wid}")
    assert [s["step"] for s in site["steps"]] == ["website_principal_id_front",
                                                  "website_principal_id_back", "face"]  # fmt: skip
    session = await open_session(
        api, await qr(api, order["id"], f"website:{wid}"), WEBSITE_MOBILE, device="device-9"
    )
    r = await _file(api, session, "authorisation_letter")
    assert r.status_code == 404 and r.json()["code"] == "STEP_UNKNOWN"


async def test_individuals_need_no_letter(api: Api) -> None:
    body = _body(authorisation_letter=True, domain_certificate=True)
    body["subject"].update(nature="individual", name="张三",
                           document=body["subject"]["principal"]["document"])  # fmt: skip
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    names = [s["step"] for p in r.json()["parts"] for s in p["steps"]]
    assert "authorisation_letter" not in names
    assert sum(n.startswith("domain_certificate:") for n in names) == 1
