"""Protocol details: Allow on 405, WWW-Authenticate on every 401, a problem title constant per
code, 415 for a non-JSON body, readable event-type errors, STEP_UNKNOWN naming the valid
steps, and no null token in the session view."""

from __future__ import annotations

from app.core.errors import AppError, problem_title
from tests.conftest import Api
from tests.flows import bearer, new_order, open_session, qr


async def test_405_carries_allow(api: Api) -> None:
    r = await api.client.delete("/v1/orders", headers=api.auth)
    assert r.status_code == 405
    assert r.json()["code"] == "METHOD_NOT_ALLOWED"
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "POST"}


async def test_every_401_names_the_scheme(api: Api) -> None:
    r = await api.client.get("/m/v1/session")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    r = await api.client.get("/m/v1/session", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert r.json()["code"] == "SESSION_INVALID"
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    r = await api.client.post(
        "/m/v1/sessions", json={"qr_token": "garbage", "platform": "dev", "mobile": "13800138000"}
    )
    assert (r.status_code, r.json()["code"]) == (401, "QR_INVALID")
    assert "www-authenticate" in r.headers
    assert AppError(status=401).headers["WWW-Authenticate"].startswith("Bearer")


def test_title_is_a_function_of_the_code() -> None:
    assert problem_title("QR_INVALID") == "QR invalid"
    assert problem_title("CAPTURE_REJECTED") == "Capture rejected"
    a = AppError(code="VIDEO_TOO_LONG", en="The frames span 20.0 s").problem()
    b = AppError(code="VIDEO_TOO_LONG", en="The frames span 31.5 s").problem()
    assert a["title"] == b["title"] == "Video too long"
    assert a["detail_en"] != b["detail_en"]


async def test_step_unknown_lists_the_sessions_steps_with_one_title(api: Api) -> None:
    order = await new_order(api)
    subject = await open_session(api, await qr(api, order["id"], "subject"))
    r = await api.client.post("/m/v1/captures/selfie", headers=bearer(subject),
                              files={"file": ("a.jpg", b"x", "image/jpeg")})  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (404, "STEP_UNKNOWN")
    steps = [s["step"] for s in subject["steps"]]
    assert r.json()["valid_steps"] == steps
    assert "subject_document" in r.json()["detail_en"]
    wid = order["websites"][0]["id"]
    site = await open_session(api, await qr(api, order["id"], f"website:{wid}"))
    r2 = await api.client.post("/m/v1/captures/selfie", headers=bearer(site),
                               files={"file": ("a.jpg", b"x", "image/jpeg")})  # fmt: skip
    assert r2.json()["valid_steps"] != r.json()["valid_steps"]
    assert r2.json()["title"] == r.json()["title"]  # the detail varies, the title does not
    r = await api.client.post("/m/v1/precheck?step=selfie", headers=bearer(subject),
                              files={"file": ("a.jpg", b"x", "image/jpeg")})  # fmt: skip
    assert r.json()["code"] == "STEP_UNKNOWN"
    assert "face" not in r.json()["valid_steps"]


async def test_text_plain_body_to_a_json_endpoint_is_415(api: Api) -> None:
    r = await api.client.post(
        "/v1/orders", content=b'{"external_id": "x"}',
        headers={**api.auth, "content-type": "text/plain"},
    )  # fmt: skip
    assert r.status_code == 415, r.text
    assert r.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert r.headers["content-type"] == "application/problem+json"
    # A JSON body that is wrong stays a 422 with the fields.
    r = await api.client.post("/v1/orders", json={"external_id": "x"}, headers=api.auth)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_unknown_event_types_are_quoted(api: Api) -> None:
    body = {"url": "https://filing.example.com/hook", "secret": "s" * 20, "events": [" "]}
    r = await api.client.put("/v1/webhook", json=body, headers=api.auth)
    assert (r.status_code, r.json()["code"]) == (422, "WEBHOOK_EVENTS_INVALID")
    assert r.json()["detail_en"].startswith('Unknown event types: " "')
    body["events"] = [""]  # refused by the schema already (minLength 1)
    r = await api.client.put("/v1/webhook", json=body, headers=api.auth)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")
    body["events"] = ["*", "order.created"]
    r = await api.client.put("/v1/webhook", json=body, headers=api.auth)
    assert r.json()["detail_en"].startswith('"*" subscribes to every event type')


async def test_session_view_has_no_null_token(api: Api) -> None:
    order = await new_order(api)
    opened = await open_session(api, await qr(api, order["id"]))
    assert isinstance(opened["session_token"], str) and opened["session_token"]
    r = await api.client.get("/m/v1/session", headers=bearer(opened))
    assert r.status_code == 200
    assert "session_token" not in r.json()
    spec = (await api.client.get("/openapi.json")).json()["components"]["schemas"]
    assert "session_token" not in spec["SessionOut"]["properties"]
    assert "session_token" in spec["SessionOpened"]["required"]
