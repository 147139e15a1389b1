"""Orders driven to complete through the public API (intake-only pipeline)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import ID_B, Api, order_body, person, synthetic_mp4
from tests.flows import bearer, open_session, qr, upload

SUBJECT_MOBILE = "13800138000"
WEBSITE_MOBILE = "13900139000"


async def create(api: Api, business_type: str = "new_filing", split: bool = True) -> dict[str, Any]:
    sp = person()
    wp = person("李四", ID_B, WEBSITE_MOBILE) if split else sp
    body = order_body(
        principal=sp,
        websites=[
            {"name": "示例官网", "domains": ["example.cn", "www.example.cn"], "principal": wp},
        ],
    )
    body["business_type"] = business_type
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def face(api: Api, session: dict[str, Any]) -> Any:
    """Liveness challenge (with the face-processing consent when the session asks for it)."""
    body = None
    terms = session.get("face_consent")
    if terms:
        body = {
            "consent": {
                "version": terms["version"],
                "text_sha256": terms["text_sha256"],
                "accepted_at": datetime.now(UTC).isoformat(),
            }
        }
    ch = await api.client.post("/m/v1/liveness/challenge", json=body, headers=bearer(session))
    assert ch.status_code == 201, ch.text
    return await api.client.post(
        "/m/v1/captures/face",
        files={"video": ("face.mp4", synthetic_mp4(), "video/mp4")},
        data={"challenge_id": ch.json()["challenge_id"]},
        headers=bearer(session),
    )


async def complete(api: Api, order: dict[str, Any]) -> None:
    """Subject principal does the subject part and the sheet; the website principal the rest."""
    oid = order["id"]
    wid = order["websites"][0]["id"]
    split = order["websites"][0]["principal"]["id"] != order["subject"]["principal"]["id"]
    subject = await open_session(api, await qr(api, oid, "subject"))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        r = await upload(api, subject, step)
        assert r.status_code == 201, r.text
    site = await open_session(
        api, await qr(api, oid, f"website:{wid}"), WEBSITE_MOBILE if split else SUBJECT_MOBILE
    )
    if split:
        for i, step in enumerate(("website_principal_id_front", "website_principal_id_back")):
            r = await upload(api, site, step, seed=10 + i)
            assert r.status_code == 201, r.text
    r = await face(api, site)
    assert r.status_code == 201, r.text
    r = await upload(api, subject, "verification_sheet", seed=5)
    assert r.json()["order_status"] == "complete", r.text
