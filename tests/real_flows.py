"""Shared helpers of the API tests that run the real models (tests/test_full_pipeline.py,
tests/test_replay.py): labelled-synthetic people and companies, their order, a session, an
image upload, and the documents whose ID portrait is the genuine clip's man."""

from __future__ import annotations

import random
from typing import Any

import cv2
import httpx

from testkit import genuine
from testkit.documents import render as R
from testkit.documents import scene as S
from testkit.documents.identities import make_company, make_person
from tests.conftest import Api
from tests.flows import bearer, qr

TODAY = __import__("datetime").date.today()


def jpeg(img: Any) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def people(seed: int) -> tuple[Any, Any, random.Random]:
    rng = random.Random(seed)
    return make_person(rng, TODAY), make_company(rng, TODAY), rng


def order_body(p: Any, c: Any) -> dict[str, Any]:
    principal = {
        "name": p.name,
        "document": {"type": "resident_id", "number": p.id_number},
        "mobile": "13800138000",
    }
    return {
        "external_id": f"full-{p.id_number}",
        "business_type": "new_filing",
        "subject": {
            "nature": "enterprise",
            "name": c.name,
            "document": {"type": "business_licence", "number": c.uscc},
            "principal": principal,
        },
        "websites": [{"name": "官网", "domains": ["example.cn"], "principal": principal}],
    }


async def real_session(api: Api, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    r = await api.client.post(
        "/m/v1/sessions",
        json={"qr_token": await qr(api, oid), "platform": "dev", "mobile": "13800138000"},
    )
    assert r.status_code == 201, r.text
    return oid, r.json()


async def put_image(api: Api, s: dict[str, Any], step: str, img: Any) -> httpx.Response:
    return await api.client.post(
        f"/m/v1/captures/{step}",
        files={"file": ("photo.jpg", jpeg(img), "image/jpeg")},
        headers=bearer(s),
    )


async def documents_with_genuine_portrait(
    api: Api, s: dict[str, Any], p: Any, c: Any, rng: random.Random, face_analyzer: Any
) -> Any:
    """Licence and ID card (its portrait: the genuine clip's man) accepted; the last answer."""
    front = R.render_id_front(p, rng, face=genuine.id_photo(face_analyzer))
    for step, img in (
        (
            "subject_document",
            S.photograph(R.render_licence(c, rng), rng, tilt=0.02, fill=0.7).image,
        ),
        ("subject_principal_id_front", S.photograph(front, rng, tilt=0.02).image),
        ("subject_principal_id_back", S.photograph(R.render_id_back(p, rng), rng, tilt=0.02).image),
    ):
        r = await put_image(api, s, step, img)
        assert r.status_code == 201, (step, r.text)
    return r
