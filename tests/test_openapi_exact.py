"""The OpenAPI document is as strict as the server: what the server refuses for its shape
(empty or blank strings, a missing file), the document refuses too."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import Api
from tests.flows import new_order


def _param(doc: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    op = doc["paths"][path]["get"]
    (p,) = [p for p in op["parameters"] if p["name"] == name]
    schema = p["schema"]
    return dict(schema["anyOf"][0] if "anyOf" in schema else schema)


async def test_document_refuses_what_the_server_refuses(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    for model, field in (("QrIn", "scope"), ("ReverifyIn", "part"), ("OrderIn", "external_id"),
                         ("PrincipalIn", "name"), ("SessionIn", "qr_token")):  # fmt: skip
        prop = schemas[model]["properties"][field]
        assert prop["minLength"] == 1, (model, field)
        assert re.search(prop["pattern"], " x ") and not re.search(prop["pattern"], "  ")
    assert schemas["WebhookIn"]["properties"]["events"]["items"]["minLength"] == 1
    assert _param(doc, "/v1/orders/{order_id}/qr.png", "scope")["minLength"] == 1
    assert _param(doc, "/v1/orders/{order_id}/materials/id-composite", "person")["minLength"] == 1
    assert _param(doc, "/v1/webhook/deliveries", "cursor")["minLength"] == 1
    for path in ("/m/v1/precheck", "/v1/precheck"):
        body = doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        assert body["schema"]["required"] == ["file"]
        assert set(body["schema"]["properties"]) == {"file"}

    # And the server refuses the same inputs for their shape (422 VALIDATION_ERROR).
    order = await new_order(api)
    r = await api.client.post(
        f"/v1/orders/{order['id']}/qr", json={"scope": "  "}, headers=api.auth
    )
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")
    r = await api.client.get(f"/v1/orders/{order['id']}/qr.png?scope=", headers=api.auth)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_operation_ids_are_short_and_unique(api: Api) -> None:
    """Client generators name methods after operation ids: each is the endpoint function's
    name (no path or method appended), and no two are the same."""
    doc = (await api.client.get("/openapi.json")).json()
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) and "_v1_" not in i for i in ids), ids
    assert doc["paths"]["/v1/orders/{order_id}"]["get"]["operationId"] == "get_order"
    assert doc["paths"]["/v1/orders"]["post"]["operationId"] == "create_order"
