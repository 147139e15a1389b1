"""One 域名证书 per registered domain (requirements.domain_certificate_per_domain): the steps
(pure), the API on both backends with the intake pipeline (each domain's own certificate),
and with the real document checks (one certificate listing several domains covers them; a
certificate of another domain is refused). A website's one certificate
(requirements.domain_certificate) is unchanged: tests/filing/test_extra_documents.py."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from app.orders import state
from tests.conftest import Api, order_body, person, synthetic_jpeg
from tests.filing import render_extra as X
from tests.flows import bearer, face, open_session, qr, status, upload
from tests.real_flows import jpeg

DOMAINS = ["example.cn", "www.example.cn", "shop.example.com.cn", "example.com"]
UNIT = "深圳市示例科技有限公司"  # conftest.order_body's subject


@pytest.mark.parametrize(
    ("host", "registered"),
    [("example.cn", "example.cn"), ("www.example.cn", "example.cn"),
     ("shop.example.com.cn", "example.com.cn"), ("a.b.example.gd.cn", "example.gd.cn"),
     ("WWW.Example.COM.", "example.com"), ("example.co.uk", "example.co.uk")],
)  # fmt: skip
def test_registered_domain(host: str, registered: str) -> None:
    assert state.registered_domain(host) == registered


def test_steps() -> None:
    sp = state.PersonShape("sp", "resident_id", "A")
    site = state.WebsiteShape("w1", sp, "website", tuple(DOMAINS))
    app = state.WebsiteShape("a1", sp, "app")
    per = state.OrderShape("enterprise", sp, (site, app), domain_certificate_per_domain=True)
    assert state.domain_certificate_steps(per, site) == [
        "domain_certificate:w1:example.cn", "domain_certificate:w1:example.com.cn",
        "domain_certificate:w1:example.com",
    ]  # fmt: skip
    assert state.domain_certificate_steps(per, app) == []
    one = state.OrderShape("enterprise", sp, (site,), domain_certificates=True)
    assert state.domain_certificate_steps(one, site) == ["domain_certificate:w1"]
    evidence = frozenset({(None, "subject_document"), ("sp", "id_front"), ("sp", "id_back"),
                          ("sp", "face"), (None, "domain_certificate:w1:example.cn"),
                          (None, "domain_certificate:w1:example.com.cn")})  # fmt: skip
    only_site = state.OrderShape("enterprise", sp, (site,), domain_certificate_per_domain=True)
    assert not state.website_done(site, evidence, only_site)
    assert state.website_done(site, evidence | {(None, "domain_certificate:w1:example.com")},
                              only_site)  # fmt: skip


async def _order(api: Api, domains: list[str]) -> dict[str, Any]:
    body = order_body(websites=[{"name": "示例官网", "domains": domains, "principal": person()}])
    body["requirements"] = {"domain_certificate_per_domain": True}
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _cert(api: Api, session: dict[str, Any], step: str, data: bytes) -> Any:
    return await api.client.post(
        f"/m/v1/captures/{step}", files={"file": ("c.jpg", data, "image/jpeg")},
        headers=bearer(session),
    )  # fmt: skip


async def test_each_domain_its_own_certificate(api: Api) -> None:
    order = await _order(api, DOMAINS)
    oid, wid = order["id"], order["websites"][0]["id"]
    part = next(p for p in order["parts"] if p["part"] == f"website:{wid}")
    wanted = [f"domain_certificate:{wid}:{d}" for d in ("example.cn", "example.com.cn",
                                                        "example.com")]  # fmt: skip
    assert [s["step"] for s in part["steps"]] == [*wanted, "face"]
    assert order["requirements"] == {"domain_certificate_per_domain": True}
    subject = await open_session(api, await qr(api, oid, "subject"), device="dc-0")
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, subject, step)).status_code == 201
    s = await open_session(api, await qr(api, oid, f"website:{wid}"), device="dc-1")
    assert (await face(api, s)).status_code == 201
    # The website part waits for every domain's certificate, in the full view and in the
    # changed-since list (which derives the status from a few columns, the domains among them).
    assert await status(api, oid) == "subject_verified"
    # The website's one-certificate step is not this order's; nor a domain it does not use.
    for step in (f"domain_certificate:{wid}", f"domain_certificate:{wid}:other.cn"):
        r = await _cert(api, s, step, synthetic_jpeg(seed=60))
        assert r.status_code == 404 and r.json()["code"] == "STEP_UNKNOWN", r.text
        assert r.json()["valid_steps"] == sorted(wanted)
    for i, step in enumerate(wanted):
        assert await status(api, oid) == "subject_verified"
        r = await _cert(api, s, step, synthetic_jpeg(seed=61 + i))
        assert r.status_code == 201 and r.json()["step"] == step, r.text
    assert await status(api, oid) == "website_verified"
    full = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    steps = {x["step"]: x["done"] for p in full["parts"] for x in p["steps"]}
    assert all(steps[w] for w in wanted)
    pkg = await api.client.get(f"/v1/orders/{oid}/package.zip", headers=api.auth)
    names = [f["name"] for f in json.loads(
        zipfile.ZipFile(io.BytesIO(pkg.content)).read("manifest.json"))["files"]]  # fmt: skip
    for d in ("example.cn", "example.com.cn", "example.com"):
        assert f"域名证书-示例官网-{d}.jpg" in names, names


async def test_one_certificate_listing_several_domains_covers_them(doc_api: Api) -> None:
    api = doc_api
    order = await _order(api, ["example.cn", "www.example.cn", "example.com", "example.net"])
    oid, wid = order["id"], order["websites"][0]["id"]
    s = await open_session(api, await qr(api, oid, f"website:{wid}"), device="dc-2")
    other = jpeg(X.domain_certificate("other-site.cn", UNIT, "2030年05月01日", seed=70))
    r = await _cert(api, s, f"domain_certificate:{wid}:example.cn", other)
    assert r.status_code == 422, r.text
    assert [c["code"] for c in r.json()["checks"] if not c["passed"]] == ["DOMAIN_CERT_MISMATCH"]

    both = jpeg(X.domain_certificate("example.cn、example.com", UNIT, "2030年05月01日", seed=71))
    r = await _cert(api, s, f"domain_certificate:{wid}:example.cn", both)
    assert r.status_code == 201, r.text
    assert r.json()["extracted"]["domains"] == "example.cn,example.com"
    assert r.json()["next_step"] == f"domain_certificate:{wid}:example.net"  # .com covered
    full = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    steps = {x["step"]: x for p in full["parts"] for x in p["steps"]}
    done = {n: x["done"] for n, x in steps.items() if n.startswith("domain_certificate:")}
    assert done == {f"domain_certificate:{wid}:example.cn": True,
                    f"domain_certificate:{wid}:example.com": True,
                    f"domain_certificate:{wid}:example.net": False}  # fmt: skip
    events = (await api.client.get(f"/v1/orders/{oid}/events", headers=api.auth)).json()
    rows = events["items"] if isinstance(events, dict) else events
    accepted = [e for e in rows if e["type"] == "capture.accepted"]
    assert any(e["data"].get("covers") == [f"domain_certificate:{wid}:example.com"]
               for e in accepted), accepted  # fmt: skip
