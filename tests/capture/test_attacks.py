"""Attack photos built as a fraudster would (testkit/documents/attacks.py, LABELLED-SYNTHETIC,
test split: parameters and faces no threshold was tuned on) are refused with their own code,
and a clean capture of the same kind is not: in the pure library and through the real HTTP
capture endpoint."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import cv2
import pytest

from app.documents.analyzer import DocKind, DocumentAnalyzer
from app.inference.messages import DOCUMENT_MESSAGES
from testkit.documents import attacks as A
from testkit.documents import render as R
from testkit.documents.cases import ATTACK_VARIANTS, SPLIT_SEED0, TODAY, Case, make_case
from testkit.documents.identities import make_person
from tests.conftest import ID_A, USCC_A, Api
from tests.test_flow import bearer, qr

SEED = SPLIT_SEED0["test"]
_CASES: dict[str, Case] = {}


def attack(variant: str) -> Case:
    """The first test-split case of ``variant``; a pasted portrait saved at high quality."""
    if variant not in _CASES:
        case = make_case("attack", variant, SEED, "test")
        if variant == "pasted_portrait":
            case = dataclasses.replace(case, image=pasted_hq(f"paste-{SEED}").image)
        _CASES[variant] = case
    return _CASES[variant]


@pytest.mark.parametrize("variant", ATTACK_VARIANTS)
def test_attack_is_refused_with_its_code(analyzer: DocumentAnalyzer, variant: str) -> None:
    case = attack(variant)
    (code,) = case.must_fail
    v = analyzer.analyze(case.image, case.kind, case.expect, read=False)
    assert code in v.failed(), [c.as_dict() for c in v.checks]
    first = v.checks[0]  # the person is told this one first
    assert first.code == code
    assert not first.passed
    assert first.message_zh == DOCUMENT_MESSAGES[code][0]
    detail = first.detail
    assert detail.get("evidence"), detail  # which signals decided, for the provider


def test_screen_signals_are_each_named_and_scored(analyzer: DocumentAnalyzer) -> None:
    v = analyzer.analyze(
        attack("screen").image, DocKind.ID_FRONT, attack("screen").expect, read=False
    )
    screen = next(c for c in v.checks if c.code == "SCREEN_RECAPTURE")
    assert set(screen.detail["signals"]) >= {
        "bezel", "subpixel", "banding", "white_point", "ambient_blue", "black_lift", "flat_light",
    }  # fmt: skip
    assert "bezel" in screen.detail["evidence"]
    # No moiré: the screen's pixels are finer than the camera's, the evidence is elsewhere.
    assert screen.detail["signals"]["subpixel"] <= analyzer.t.max_moire
    nobezel = analyzer.analyze(
        attack("screen_nobezel").image,
        DocKind.ID_FRONT,
        attack("screen_nobezel").expect,
        read=False,
    )
    check = next(c for c in nobezel.checks if c.code == "SCREEN_RECAPTURE")
    assert not check.passed
    assert "bezel" not in check.detail["evidence"]


def test_colour_copy_is_a_copy_not_a_photo_problem(analyzer: DocumentAnalyzer) -> None:
    case = attack("colour_copy")
    v = analyzer.analyze(case.image, case.kind, case.expect, read=False)
    copy = next(c for c in v.checks if c.code == "PHOTOCOPY")
    assert not copy.passed
    assert copy.detail["colour_spread"] >= analyzer.t.min_colour  # a colour copy, not B/W
    assert "paper_white" in copy.detail["evidence"]
    assert not {"BLURRY", "GLARE", "OVEREXPOSED", "DOCUMENT_TOO_SMALL"} & set(v.failed())


def test_clean_card_passes_the_authenticity_checks(analyzer: DocumentAnalyzer) -> None:
    for seed in (SEED, SEED + 1):
        case = make_case("id_front", "clean", seed, "test")
        v = analyzer.analyze(case.image, case.kind, case.expect, read=False)
        by = {c.code: c for c in v.checks}
        for code in ("PHOTOCOPY", "SCREEN_RECAPTURE", "PORTRAIT_TAMPERED"):
            assert by[code].passed, by[code].as_dict()


def pasted_hq(seed: str) -> Any:
    """A test-split paste saved at high JPEG quality (93-95): the noise mismatch survives.
    (At lower quality the recompression levels both noises: README gives the class's rate.)"""
    rng = random.Random(seed)
    p = make_person(rng, TODAY)
    card = R.render_id_front(p, rng)
    return A.pasted_portrait(card, rng, params=dataclasses.replace(A.TEST, jpeg=(93, 95)))


def test_pasted_portrait_is_refused_on_another_card(analyzer: DocumentAnalyzer) -> None:
    """Another card and another test-split face: refused with the noise named (the check
    compares the portrait's noise with the card's, it does not recognise faces)."""
    shot = pasted_hq("paste-other-card")
    v = analyzer.analyze(shot.image, DocKind.ID_FRONT, attack("screen").expect, read=False)
    tamper = next(c for c in v.checks if c.code == "PORTRAIT_TAMPERED")
    assert not tamper.passed, tamper.as_dict()
    assert tamper.detail["noise_ratio"] > analyzer.t.max_portrait_noise


# --- through the HTTP API -----------------------------------------------------------------

# doc_api: tests/capture/conftest.py


def _order(case: Case) -> dict[str, Any]:
    e = case.expect
    principal = {
        "name": e.person_name or "张三",
        "document": {"type": "resident_id", "number": e.person_number or ID_A},
        "mobile": "13800138000",
    }
    if case.kind is DocKind.BUSINESS_LICENCE:
        principal = {
            "name": "张三",
            "document": {"type": "resident_id", "number": ID_A},
            "mobile": "13800138000",
        }
    return {
        "external_id": f"attack-{case.name}-{random.random()}",
        "business_type": "new_filing",
        "subject": {
            "nature": "enterprise",
            "name": e.subject_name or "深圳市示例科技有限公司",
            "document": {"type": "business_licence", "number": e.subject_number or USCC_A},
            "principal": principal,
        },
        "websites": [{"name": "官网", "domains": ["example.cn"], "principal": principal}],
    }


@pytest.mark.parametrize("variant", ATTACK_VARIANTS)
async def test_attack_is_refused_through_the_api(doc_api: Api, variant: str) -> None:
    api = doc_api
    case = attack(variant)
    (code,) = case.must_fail
    r = await api.client.post("/v1/orders", json=_order(case), headers=api.auth)
    assert r.status_code == 201, r.text
    r = await api.client.post(
        "/m/v1/sessions",
        json={
            "qr_token": await qr(api, r.json()["id"]),
            "platform": "dev",
            "mobile": "13800138000",
        },
    )
    assert r.status_code == 201, r.text
    step = (
        "subject_document"
        if case.kind is DocKind.BUSINESS_LICENCE
        else "subject_principal_id_front"
    )
    ok, buf = cv2.imencode(".jpg", case.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    r = await api.client.post(
        f"/m/v1/captures/{step}",
        files={"file": ("photo.jpg", buf.tobytes(), "image/jpeg")},
        headers=bearer(r.json()),
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "CAPTURE_REJECTED"
    failed = [c["code"] for c in problem["checks"] if not c["passed"]]
    assert code in failed
    assert problem["detail"] == DOCUMENT_MESSAGES[code][0]  # the first thing to fix
