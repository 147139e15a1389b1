"""One provider flow over real HTTP, shared by the image test (run_image.py), the clean-install
test (tests/test_packaging.py) and the stack test (run_stack.py): an order, its QR token, a
mini-program session (platform "dev"), the licence and both sides of the ID card with the full
checks, and the order read back; with ``whole=True`` (the stack test) also the face step (the
consent, a challenge, the labelled-synthetic genuine video for the actions it asks: the server
must run with LIVENESS_ACTIONS=blink,shake_head, the two orders the samples answer) and the
verification sheet, to 核验完成."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "bench/load/.samples"


class FlowError(AssertionError):
    pass


def ensure_samples() -> Path:
    """The labelled-synthetic order and photos (bench/load/samples.py, cached)."""
    from bench.load import samples

    samples.ensure_samples()
    return Path(samples.DEFAULT)


def expect(cond: bool, what: str, detail: Any = "", log: Any = None) -> None:
    if not cond:
        raise FlowError(f"{what}\n{detail}")
    if log is not None:
        log(f"ok: {what}")


def _capture(c: httpx.Client, session: str, step: str, photo: Path, log: Any) -> dict[str, Any]:
    with photo.open("rb") as f:
        r = c.post(
            f"/m/v1/captures/{step}",
            headers={"Authorization": f"Bearer {session}"},
            files={"file": (photo.name, f, "image/jpeg")},
            timeout=180,
        )
    expect(r.status_code in (200, 201), f"capture {step}: HTTP {r.status_code}", r.text[:2000])
    body: dict[str, Any] = r.json()
    checks = body.get("checks", [])
    codes = {ch["code"] for ch in checks}
    # The full checks read the fields (OCR): intake-only mode never reports FIELD_UNREADABLE.
    expect(
        bool(body.get("accepted"))
        and all(ch["passed"] for ch in checks)
        and "FIELD_UNREADABLE" in codes,
        f"capture {step}: accepted, {len(checks)} checks passed (OCR included)",
        json.dumps(body, ensure_ascii=False)[:2000],
        log,
    )
    return body


def _accepted(r: httpx.Response, what: str, log: Any) -> dict[str, Any]:
    expect(r.status_code in (200, 201), f"{what}: HTTP {r.status_code}", r.text[:2000])
    body: dict[str, Any] = r.json()
    expect(
        bool(body.get("accepted")) and all(ch["passed"] for ch in body.get("checks", [])),
        f"{what}: accepted, {len(body.get('checks', []))} checks passed",
        json.dumps(body, ensure_ascii=False)[:2000],
        log,
    )
    return body


def _face_and_sheet(c: httpx.Client, session: str, samples: Path, log: Any) -> None:
    auth = {"Authorization": f"Bearer {session}"}
    r = c.get("/m/v1/session", headers=auth)
    expect(r.status_code == 200, "read the session", r.text[:1000], log)
    terms = r.json()["face_consent"]
    consent = {"consent": {"version": terms["version"], "text_sha256": terms["text_sha256"],
                           "accepted_at": "2026-12-01T00:00:00Z"}}  # fmt: skip
    r = c.post("/m/v1/liveness/challenge", headers=auth, json=consent)
    expect(r.status_code == 201, "a liveness challenge (face consent given)", r.text[:1000], log)
    ch = r.json()
    video = samples / ("face_" + "_".join(ch["actions"]) + ".mp4")
    expect(video.is_file(), f"a sample video answers {ch['actions']}", "LIVENESS_ACTIONS?", log)
    r = c.post(
        "/m/v1/captures/face", headers=auth, data={"challenge_id": ch["challenge_id"]},
        files={"video": ("face.mp4", video.read_bytes(), "video/mp4")}, timeout=300,
    )  # fmt: skip
    _accepted(r, f"face video ({', '.join(ch['actions'])}): liveness and face match", log)
    with (samples / "sheet.jpg").open("rb") as f:
        r = c.post(
            "/m/v1/captures/verification_sheet", headers=auth,
            files={"file": ("sheet.jpg", f, "image/jpeg")}, timeout=180,
        )  # fmt: skip
    _accepted(r, "the verification sheet", log)


def document_flow(
    base: str, api_key: str, samples: Path, log: Any = None, after_capture: Any = None,
    whole: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Run the flow; returns the order as last read. Raises FlowError on the first failure.
    after_capture(step) is called after each accepted capture (the stack test kills a replica).
    ``whole``: on through the face step and the sheet to complete."""
    h = {"Authorization": f"Bearer {api_key}"}
    order_body = json.loads((samples / "order.json").read_text())
    with httpx.Client(base_url=base, timeout=60) as c:
        r = c.post("/v1/orders", headers=h, json=order_body)
        expect(r.status_code in (200, 201), "create an order", r.text[:1000], log)
        order = r.json()["id"]
        r = c.post(f"/v1/orders/{order}/qr", headers=h, json={"scope": "order"})
        expect(r.status_code in (200, 201), "the order's QR token", r.text[:1000], log)
        r = c.post(
            "/m/v1/sessions",
            json={"qr_token": r.json()["token"], "platform": "dev", "mobile": "13800138000"},
        )
        expect(r.status_code in (200, 201), "open a mini-program session (dev)", r.text[:1000], log)
        session = r.json()["session_token"]
        _capture(c, session, "subject_document", samples / "licence.jpg", log)
        if after_capture is not None:
            after_capture("subject_document")
        _capture(c, session, "subject_principal_id_front", samples / "id_front.jpg", log)
        if after_capture is not None:
            after_capture("subject_principal_id_front")
        _capture(c, session, "subject_principal_id_back", samples / "id_back.jpg", log)
        if after_capture is not None:
            after_capture("subject_principal_id_back")
        if whole:
            _face_and_sheet(c, session, samples, log)
        r = c.get(f"/v1/orders/{order}", headers=h)
        expect(r.status_code == 200, "read the order", r.text[:1000], log)
        got: dict[str, Any] = r.json()
        want = "complete" if whole else "subject_verified"
        expect(
            got["status"] == want,
            f"the order is {want} ({got['status']})",
            r.text[:2000],
            log,
        )
        return got
