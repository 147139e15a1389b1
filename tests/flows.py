"""The shared API helpers of the flow tests: a provider's order and QR, a phone's session,
upload and face capture, as the public API sees them (intake-only pipeline unless the test's
app says otherwise). Tests import these from here, never from another test module."""

from __future__ import annotations

import itertools
from typing import Any

from tests.conftest import Api, order_body, synthetic_jpeg, synthetic_mp4


async def new_order(api: Api, **kw: Any) -> dict[str, Any]:
    r = await api.client.post("/v1/orders", json=order_body(**kw), headers=api.auth)
    assert r.status_code == 201, r.text
    return r.json()


async def qr(api: Api, order_id: str, scope: str = "order") -> str:
    r = await api.client.post(f"/v1/orders/{order_id}/qr", json={"scope": scope}, headers=api.auth)
    assert r.status_code == 201, r.text
    return r.json()["token"]


async def open_session(
    api: Api, token: str, mobile: str = "13800138000", device: str = "device-1"
) -> dict[str, Any]:
    r = await api.client.post(
        "/m/v1/sessions",
        json={"qr_token": token, "platform": "dev", "mobile": mobile, "device_id": device},
    )
    assert r.status_code == 201, r.text
    return r.json()


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['session_token']}"}


async def upload(api: Api, session: dict[str, Any], step: str, seed: int = 0) -> Any:
    return await api.client.post(
        f"/m/v1/captures/{step}",
        files={"file": ("photo.jpg", synthetic_jpeg(seed=seed), "image/jpeg")},
        headers=bearer(session),
    )


def consent(session: dict[str, Any]) -> dict[str, Any]:
    """The person accepts the face-processing terms the session showed them."""
    terms = session["face_consent"]
    return {
        "consent": {
            "version": terms["version"],
            "text_sha256": terms["text_sha256"],
            "accepted_at": "2026-11-23T10:00:00Z",
        }
    }


async def challenge(api: Api, session: dict[str, Any]) -> Any:
    return await api.client.post(
        "/m/v1/liveness/challenge", json=consent(session), headers=bearer(session)
    )


async def face(api: Api, session: dict[str, Any]) -> Any:
    ch = await challenge(api, session)
    assert ch.status_code == 201, ch.text
    body = ch.json()
    assert len(body["actions"]) == 5 and body["actions"] == [st["action"] for st in body["steps"]]
    assert all(a != b for a, b in itertools.pairwise(body["actions"]))  # never twice in a row
    return await api.client.post(
        "/m/v1/captures/face",
        files={"video": ("face.mp4", synthetic_mp4(), "video/mp4")},
        data={"challenge_id": ch.json()["challenge_id"]},
        headers=bearer(session),
    )


async def status(api: Api, order_id: str) -> str:
    """The order's status, the same in its full view and in the changed-since list (which
    derives it from a few columns, without the people's names and numbers)."""
    r = await api.client.get(f"/v1/orders/{order_id}", headers=api.auth)
    page = await api.client.get("/v1/orders?changed_since=0&limit=500", headers=api.auth)
    listed = [o["status"] for o in page.json()["items"] if o["id"] == order_id]
    assert listed == [r.json()["status"]]
    return str(r.json()["status"])


def site2_person(body: dict[str, Any], wid: str) -> str:
    return next(w["principal"]["id"] for w in body["websites"] if w["id"] == wid)
