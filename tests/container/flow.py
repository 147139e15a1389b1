"""One provider flow over real HTTP, shared by the image test (run_image.py) and the clean-install
test (tests/test_packaging.py): an order, its QR token, a mini-program session (platform "dev"),
the licence and both sides of the ID card with the full checks, and the order read back."""

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
    import importlib.util

    spec = importlib.util.spec_from_file_location("load_samples", ROOT / "bench/load/samples.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.ensure_samples()
    return Path(mod.DEFAULT)


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


def document_flow(
    base: str, api_key: str, samples: Path, log: Any = None, after_capture: Any = None
) -> dict[str, Any]:
    """Run the flow; returns the order as last read. Raises FlowError on the first failure.
    after_capture(step) is called after each accepted capture (the stack test kills a replica)."""
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
        r = c.get(f"/v1/orders/{order}", headers=h)
        expect(r.status_code == 200, "read the order", r.text[:1000], log)
        got: dict[str, Any] = r.json()
        expect(
            got["status"] == "subject_verified",
            f"the order is subject_verified ({got['status']})",
            r.text[:2000],
            log,
        )
        return got
