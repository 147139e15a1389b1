"""Every JSON endpoint returns its pydantic response model (#12 item 4): the function's
return annotation is the declared response_model, never Any or a dict, so FastAPI
validates an instance once and serialises it; the view is built as that model.

Endpoints that answer a prebuilt Response are listed below, each with why."""

from __future__ import annotations

import typing
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette.responses import Response

from app.filing.schemas import PledgeOut
from tests.conftest import Api, order_body
from tests.flows import bearer, open_session, qr

# (method, path) → why it returns a Response and not its model.
RESPONSE_ENDPOINTS: dict[tuple[str, str], str] = {
    # The hot poll: 304 from one row, or the view's JSON bytes rendered once per ETag and
    # served again from the cache (app/core/cache.py); its model is OrderOut all the same.
    ("GET", "/v1/orders/{order_id}"): "304 / cached bytes",
    # Files.
    ("GET", "/v1/orders/{order_id}/qr.png"): "image/png",
    ("GET", "/v1/orders/{order_id}/qr.svg"): "image/svg+xml",
    ("GET", "/v1/orders/{order_id}/materials/{material_id}"): "the stored material, streamed",
    ("GET", "/v1/orders/{order_id}/materials/id-composite"): "image/jpeg",
    ("GET", "/v1/orders/{order_id}/package.zip"): "application/zip, streamed",
    ("GET", "/v1/orders/{order_id}/verification-sheet.pdf"): "application/pdf",
    ("GET", "/v1/orders/{order_id}/verification-sheet-template.pdf"): "application/pdf",
    # No body.
    ("DELETE", "/v1/webhook"): "204",
    # Prometheus text.
    ("GET", "/metrics"): "text/plain exposition",
    # Pages and their assets (not in the OpenAPI document).
    ("GET", "/docs"): "HTML",
    ("GET", "/redoc"): "HTML",
    ("GET", "/m/qr"): "the capture web app's HTML",
    ("GET", "/m/app/{name}"): "the page's script and style",
}


def _routes(app: Any) -> list[tuple[str, str, APIRoute, Any]]:
    out = []
    for rc in iter_route_contexts(app.routes):
        route = rc.route
        if not isinstance(route, APIRoute):
            continue
        ret = typing.get_type_hints(rc.endpoint).get("return")
        for method in sorted(rc.methods or ()):
            out.append((method, rc.path, route, ret))
    return out


def _is_response(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, Response)


def _is_model(t: Any) -> bool:
    """A pydantic model, or a list of one."""
    if typing.get_origin(t) is list:
        (t,) = typing.get_args(t)
    return isinstance(t, type) and issubclass(t, BaseModel)


async def test_every_json_endpoint_returns_its_response_model(api: Api) -> None:
    routes = _routes(api.app)
    assert len(routes) > 40  # the walk sees the included routers, not only the top level
    bad = []
    for method, path, route, ret in routes:
        where = f"{method} {path}"
        if (method, path) in RESPONSE_ENDPOINTS:
            if not _is_response(ret):
                bad.append(f"{where}: allow-listed as a Response but returns {ret}")
            continue
        if ret is None or ret is Any or typing.get_origin(ret) is dict or ret is dict:
            bad.append(f"{where}: returns {ret}, not a response model")
        elif _is_response(ret):
            bad.append(f"{where}: returns a {ret.__name__}: return the model (or allow-list it)")
        elif not _is_model(ret):
            bad.append(f"{where}: returns {ret}, not a pydantic model")
        elif route.response_model is not None and route.response_model != ret:
            bad.append(f"{where}: returns {ret} but declares {route.response_model}")
    assert not bad, "\n".join(bad)
    seen = {(m, p) for m, p, _r, _t in routes}
    assert not set(RESPONSE_ENDPOINTS) - seen, "allow-list entries for no endpoint"


async def test_the_hot_read_still_documents_its_model(api: Api) -> None:
    """The Response-returning JSON read keeps OrderOut in the OpenAPI document."""
    doc = (await api.client.get("/openapi.json")).json()
    ok = doc["paths"]["/v1/orders/{order_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OrderOut"}
    health = doc["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]
    assert health["schema"] == {"$ref": "#/components/schemas/HealthOut"}


async def test_pledge_text_changed_after_acceptance_answers_409(api: Api) -> None:
    """The 409 carries the pledge view through its schema: with the acceptance time in it
    (the dict it replaced held a datetime the problem body could not encode: a crash)."""
    body = order_body()
    body["requirements"] = {"pledge": True}
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    h = bearer(await open_session(api, await qr(api, r.json()["id"])))
    p = (await api.client.get("/m/v1/pledge", headers=h)).json()
    echo = {"version": p["version"], "text_sha256": p["text_sha256"]}
    assert (await api.client.post("/m/v1/pledge", json=echo, headers=h)).status_code == 201
    r = await api.client.post("/m/v1/pledge", json={**echo, "version": "old"}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "PLEDGE_TEXT_CHANGED")
    shown = r.json()["pledge"]
    assert shown["accepted"] is True and shown["accepted_at"].startswith("20")
    assert set(shown) == set(PledgeOut.model_fields)
