"""Provider API: creating, reading, polling orders; validation codes; tenancy."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import ID_A, ID_B, Api, order_body, person


async def create(api: Api, body: dict) -> dict:
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_order_is_pending_with_parts(api: Api) -> None:
    order = await create(api, order_body())
    assert order["status"] == "pending"
    assert order["status_zh"] == "未核验"
    parts = {p["part"]: p for p in order["parts"]}
    assert [s["step"] for s in parts["subject"]["steps"]] == [
        "subject_document",
        "subject_principal_id_front",
        "subject_principal_id_back",
    ]
    (website,) = order["websites"]
    # Same person as the subject principal: the website part only needs the face.
    assert [s["step"] for s in parts[f"website:{website['id']}"]["steps"]] == ["face"]
    assert order["subject"]["principal"]["mobile"] == "13800138000"


async def test_idempotent_on_external_id(api: Api) -> None:
    body = order_body()
    first = await create(api, body)
    again = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    changed = copy.deepcopy(body)
    changed["subject"]["name"] = "另一家公司"
    r = await api.client.post("/v1/orders", json=changed, headers=api.auth)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "EXTERNAL_ID_CONFLICT"


async def test_mobile_is_normalised_for_idempotency(api: Api) -> None:
    body = order_body()
    first = await create(api, body)
    spaced = copy.deepcopy(body)
    for p in (spaced["subject"]["principal"], spaced["websites"][0]["principal"]):
        p["mobile"] = "+86 138 0013 8000"
    r = await api.client.post("/v1/orders", json=spaced, headers=api.auth)
    assert r.status_code == 200
    assert r.json()["id"] == first["id"]


def _with(path: str, value: object) -> dict:
    body = order_body()
    target: dict = body
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]  # type: ignore[index]
    target[keys[-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (order_body(principal=person(number=ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1"))), "ID_NUMBER_INVALID"),
        (order_body(principal=person(number="991201199003074011")), "ID_NUMBER_INVALID"),
        (order_body(principal=person(number="44120119901307401X")), "ID_NUMBER_INVALID"),
        (_with("subject.document.number", "91440300MA5F000001"), "USCC_INVALID"),
        # Other personal documents: a resident ID number is not a 港澳 residence permit's
        # (address code 810000/820000), nor "X1234" a travel permit's.
        (order_body(principal={**person(), "document": {"type": "hk_macau_residence", "number": ID_A}}), "DOCUMENT_NUMBER_INVALID"),
        (order_body(principal={**person(), "document": {"type": "hk_macau_permit", "number": "X1234"}}), "DOCUMENT_NUMBER_INVALID"),
        (order_body(principal=person(mobile="12345")), "MOBILE_INVALID"),
        (order_body(principal=person(mobile="1380013800")), "MOBILE_INVALID"),
        (order_body(websites=[{"name": "x", "domains": ["http://example.cn/"], "principal": person()}]), "DOMAIN_INVALID"),
        (order_body(websites=[{"name": "x", "domains": ["localhost"], "principal": person()}]), "DOMAIN_INVALID"),
        (_with("subject.document", {"type": "resident_id", "number": ID_A}), "NATURE_DOCUMENT_MISMATCH"),
        (order_body(websites=[{"name": "x", "domains": ["a.cn"], "principal": person(name="王五")}]), "PRINCIPAL_INCONSISTENT"),
    ],
)  # fmt: skip
async def test_validation_codes(api: Api, body: dict, code: str) -> None:
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == code
    assert problem["status"] == 422
    assert problem["detail"]  # a Chinese message a screen can show
    assert any(e["code"] == code for e in problem["errors"])


async def test_schema_errors_are_problem_json(api: Api) -> None:
    r = await api.client.post("/v1/orders", json={"external_id": "x"}, headers=api.auth)
    assert r.status_code == 422
    assert r.json()["code"] == "VALIDATION_ERROR"
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_auth_required_and_tenancy(api: Api) -> None:
    order = await create(api, order_body())
    r = await api.client.get(f"/v1/orders/{order['id']}")
    assert r.status_code == 401
    assert r.json()["code"] == "API_KEY_MISSING"
    r = await api.client.get(
        f"/v1/orders/{order['id']}", headers={"Authorization": "Bearer hy_wrong"}
    )
    assert r.json()["code"] == "API_KEY_INVALID"
    _, other_key = await api.new_provider()
    other = {"Authorization": f"Bearer {other_key}"}
    # A conditional read must not tell another provider that the order exists (no 304).
    r = await api.client.get(f"/v1/orders/{order['id']}", headers={**other, "If-None-Match": "*"})
    assert r.status_code == 404
    for path in ("", "/events", "/qr.png"):
        r = await api.client.get(f"/v1/orders/{order['id']}{path}", headers=other)
        assert r.status_code == 404, path
        assert r.json()["code"] == "ORDER_NOT_FOUND"
    # The other provider may use the same external_id for its own order.
    r = await api.client.post("/v1/orders", json=order_body(order["external_id"]), headers=other)
    assert r.status_code == 201
    assert r.json()["id"] != order["id"]


async def test_etag_and_304(api: Api) -> None:
    order = await create(api, order_body())
    r = await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)
    etag = r.headers["etag"]
    assert etag.startswith('"')
    r2 = await api.client.get(
        f"/v1/orders/{order['id']}", headers={**api.auth, "If-None-Match": etag}
    )
    assert r2.status_code == 304
    assert r2.content == b""
    await api.client.post(
        f"/v1/orders/{order['id']}/reverify", json={"part": "subject"}, headers=api.auth
    )
    r3 = await api.client.get(
        f"/v1/orders/{order['id']}", headers={**api.auth, "If-None-Match": etag}
    )
    assert r3.status_code == 200
    assert r3.headers["etag"] != etag


async def test_changed_since_pages_through_changes(api: Api) -> None:
    first = await api.client.get("/v1/orders?changed_since=0&limit=500", headers=api.auth)
    cursor = first.json()["next_cursor"]
    while first.json()["has_more"]:
        first = await api.client.get(
            f"/v1/orders?changed_since={cursor}&limit=500", headers=api.auth
        )
        cursor = first.json()["next_cursor"]
    a = await create(api, order_body())
    b = await create(api, order_body())
    page = (
        await api.client.get(f"/v1/orders?changed_since={cursor}&limit=1", headers=api.auth)
    ).json()
    assert [i["id"] for i in page["items"]] == [a["id"]]
    assert page["has_more"] is True
    page2 = (
        await api.client.get(f"/v1/orders?changed_since={page['next_cursor']}", headers=api.auth)
    ).json()
    assert [i["id"] for i in page2["items"]] == [b["id"]]
    # Touch `a` again: it moves after `b`.
    await api.client.post(f"/v1/orders/{a['id']}/qr", json={"scope": "order"}, headers=api.auth)
    page3 = (
        await api.client.get(f"/v1/orders?changed_since={page2['next_cursor']}", headers=api.auth)
    ).json()
    assert [i["id"] for i in page3["items"]] == [a["id"]]
    assert page3["items"][0]["status"] == "pending"


async def test_qr_issue_png_svg_and_scopes(api: Api) -> None:
    body = order_body(
        websites=[
            {"name": "一", "domains": ["a.cn"], "principal": person()},
            {"name": "二", "domains": ["b.cn"], "principal": person("李四", ID_B, "13900139000")},
        ]
    )
    order = await create(api, body)
    oid = order["id"]
    r = await api.client.post(f"/v1/orders/{oid}/qr", json={"scope": "order"}, headers=api.auth)
    assert r.status_code == 409
    assert r.json()["code"] == "SCOPE_NEEDS_SPLIT"
    r = await api.client.post(
        f"/v1/orders/{oid}/qr", json={"scope": "website:nope"}, headers=api.auth
    )
    assert r.json()["code"] == "SCOPE_INVALID"
    wid = order["websites"][1]["id"]
    r = await api.client.post(
        f"/v1/orders/{oid}/qr", json={"scope": f"website:{wid}"}, headers=api.auth
    )
    assert r.status_code == 201
    qr = r.json()
    assert qr["url"] == f"https://heyan.example/m/qr?t={qr['token']}"
    png = await api.client.get(f"/v1/orders/{oid}/qr.png?scope=subject", headers=api.auth)
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    svg = await api.client.get(f"/v1/orders/{oid}/qr.svg?scope=subject", headers=api.auth)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content


async def test_health_and_ready(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    r = await api.client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"


async def test_openapi_lists_every_endpoint(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    paths = spec["paths"]
    for p in (
        "/v1/orders", "/v1/orders/{order_id}", "/v1/orders/{order_id}/qr",
        "/v1/orders/{order_id}/qr.png", "/v1/orders/{order_id}/reverify",
        "/v1/orders/{order_id}/events", "/m/v1/sessions", "/m/v1/session",
        "/m/v1/captures/{step}", "/m/v1/liveness/challenge",
    ):  # fmt: skip
        assert p in paths, p
    assert "multipart/form-data" in paths["/m/v1/captures/{step}"]["post"]["requestBody"]["content"]
