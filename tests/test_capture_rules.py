"""Capture rules that sit around the checks: face lock-out, pre-check without state change."""

from __future__ import annotations

from typing import Any

import pytest

from app.analysis.pipeline import CaptureOutcome
from app.inference.checks import check
from tests.conftest import Api, synthetic_jpeg, synthetic_mp4
from tests.flows import bearer, challenge, new_order, open_session, qr, status, upload


async def _subject_done(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, s, step)).status_code == 201
    return order, s


async def test_face_lockout_after_five_failures(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake face checker that always refuses: the sixth try is locked out for 30 minutes."""

    async def refusing_face(**_kw: Any) -> CaptureOutcome:
        return CaptureOutcome(
            checks=[check("BLINK_NOT_DETECTED", False, 0.0, 1.0)],
            stored=b"video",
            stored_type="video/mp4",
            original_sha256="0" * 64,
        )

    order, s = await _subject_done(api)
    monkeypatch.setattr(api.app.state.ctx.pipeline, "face", refusing_face)
    h = bearer(s)
    video = synthetic_mp4()
    for _ in range(5):
        ch = await challenge(api, s)
        assert ch.status_code == 201
        r = await api.client.post(
            "/m/v1/captures/face",
            files={"video": ("f.mp4", video, "video/mp4")},
            data={"challenge_id": ch.json()["challenge_id"]},
            headers=h,
        )
        assert r.status_code == 422
        assert r.json()["code"] == "CAPTURE_REJECTED"
    ch = await challenge(api, s)
    assert ch.status_code == 429
    assert ch.json()["code"] == "FACE_ATTEMPTS_EXCEEDED"
    assert 1700 < int(ch.headers["retry-after"]) <= 1801
    assert await status(api, order["id"]) == "subject_verified"


async def test_precheck_changes_nothing(api: Api) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    r = await api.client.post(
        "/m/v1/precheck?step=subject_document",
        files={"file": ("p.jpg", synthetic_jpeg(), "image/jpeg")},
        headers=bearer(s),
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] is True
    r = await api.client.post(
        "/m/v1/precheck?step=face",
        files={"file": ("p.jpg", synthetic_jpeg(), "image/jpeg")},
        headers=bearer(s),
    )
    assert r.json()["code"] == "PRECHECK_NOT_SUPPORTED"
    r = await api.client.post(
        "/v1/precheck?kind=business_licence",
        files={"file": ("p.jpg", synthetic_jpeg(90, 60), "image/jpeg")},
        headers=api.auth,
    )
    assert r.status_code == 200
    assert r.json()["accepted"] is False
    assert r.json()["checks"][0]["code"] == "IMAGE_TOO_SMALL"
    got = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert got["materials"] == []
    assert got["status"] == "pending"
    assert (await upload(api, s, "subject_document")).status_code == 201


async def test_full_inference_queue_answers_busy_at_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    monkeypatch.setattr(api.app.state.ctx.pipeline, "_queue_limit", 0)
    r = await upload(api, s, "subject_document")
    assert r.status_code == 503
    assert r.json()["code"] == "BUSY"
    assert r.headers["retry-after"] == "2"
    monkeypatch.undo()
    assert (await upload(api, s, "subject_document")).status_code == 201
