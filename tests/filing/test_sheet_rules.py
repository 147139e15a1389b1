"""The photographed sheet checked by the province's rules (app/filing/provinces.py
``sheet_expectation``) with the real OCR, on labelled-synthetic sheets: every domain where
the province asks for it (DOMAINS_MISSING, naming those not found), a fingerprint beside an
individual's signature in 江西/新疆 (FINGERPRINT_MISSING), 广东's handwritten pledge
(PLEDGE_TEXT_MISSING). The pledge is drawn in the print font, not handwriting, and the
fingerprint test only sees a red mark of a fingertip's size: what these cases show is the
rule's wiring, not a recall on real handwriting or real prints."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.documents.analyzer import DocKind, Expectation
from app.filing.provinces import GUANGDONG_PLEDGE, sheet_expectation
from testkit.documents import render as R
from testkit.documents import scene as S

TODAY = date(2026, 11, 23)
NAME = "张三"
DOMAINS = ["example-417.cn", "www.heyan-test.com"]


def _sheet(
    domains: list[str], *, fingerprint: bool = False, pledge: bool = False,
    printed_pledge: bool = False,
) -> np.ndarray:  # fmt: skip
    rng = random.Random(7)
    doc = R.render_sheet(NAME, domains, rng, seal=False)
    rgb = cv2.cvtColor(np.ascontiguousarray(doc[..., :3]), cv2.COLOR_BGR2RGB)
    if fingerprint:  # concentric ridges in red ink, a fingertip's size, beside the signature
        for k in range(0, 36, 6):
            cv2.ellipse(rgb, (600, 1150), (max(2, 26 - k * 26 // 38), 38 - k), 0, 0, 360,
                        (200, 40, 50), 3, cv2.LINE_AA)  # fmt: skip
    if printed_pledge:  # the template prints the wording above the box (template.py)
        pil = Image.fromarray(rgb)
        d = ImageDraw.Draw(pil)
        half = len(GUANGDONG_PLEDGE) // 2
        parts = (GUANGDONG_PLEDGE[:half], GUANGDONG_PLEDGE[half:])
        for i, part in enumerate(parts):
            R._draw_text(d, (90, 740 + i * 44), part, 26, (25, 25, 25))
        if pledge:  # copied out in the box below, in blue ink
            for i, part in enumerate(parts):
                R._draw_text(d, (90, 860 + i * 60), part, 30, (30, 40, 140))
        rgb = np.asarray(pil).copy()
    out = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    page = np.dstack([out, doc[..., 3]])
    shot = S.photograph(page, random.Random(3), fill=0.62, tilt=0.02, out_size=(1200, 1600))
    return shot.image


def _expect(province: str, domains: list[str]) -> Expectation:
    return Expectation(
        today=TODAY,
        subject_name=NAME,
        domains=tuple(domains),
        is_unit=False,
        **sheet_expectation(province, "individual"),
    )  # type: ignore[arg-type]


def _failed(v: Any) -> dict[str, Any]:
    return {c.code: c.detail for c in v.checks if not c.passed}


@pytest.mark.parametrize(
    ("province", "on_sheet", "fails", "missing"),
    [
        ("四川省", DOMAINS, set(), None),  # every domain on the sheet: there
        ("四川省", DOMAINS[:1], {"DOMAINS_MISSING"}, ["www.heyan-test.com"]),
        ("北京市", DOMAINS[:1], set(), None),  # the rest may be on a sealed list
        ("北京市", DOMAINS[1:], {"DOMAINS_MISSING"}, ["example-417.cn"]),  # not the first
    ],
)
def test_domains_by_province(
    document_analyzer: Any, province: str, on_sheet: list[str], fails: set[str],
    missing: list[str] | None,
) -> None:  # fmt: skip
    v = document_analyzer.analyze(
        _sheet(on_sheet), DocKind.VERIFICATION_SHEET, _expect(province, DOMAINS)
    )
    failed = _failed(v)
    assert set(failed) == fails, v.checks
    codes = {c.code for c in v.checks}
    assert "DOMAINS_MISSING" in codes
    # Neither province asks an individual for a fingerprint or a copied-out pledge.
    assert not codes & {"FINGERPRINT_MISSING", "PLEDGE_TEXT_MISSING"}
    if missing:
        assert failed["DOMAINS_MISSING"]["missing"] == missing


@pytest.mark.parametrize("present", [True, False])
def test_fingerprint_in_jiangxi(document_analyzer: Any, present: bool) -> None:
    v = document_analyzer.analyze(
        _sheet(DOMAINS, fingerprint=present), DocKind.VERIFICATION_SHEET, _expect("江西", DOMAINS)
    )
    assert set(_failed(v)) == (set() if present else {"FINGERPRINT_MISSING"}), v.checks


@pytest.mark.parametrize("copied", [True, False])
def test_handwritten_pledge_in_guangdong(document_analyzer: Any, copied: bool) -> None:
    v = document_analyzer.analyze(
        _sheet(DOMAINS[:1], pledge=copied, printed_pledge=True),
        DocKind.VERIFICATION_SHEET,
        _expect("广东", DOMAINS),
    )
    pledge = next(c for c in v.checks if c.code == "PLEDGE_TEXT_MISSING")
    assert pledge.passed is copied, (pledge.score, v.fields)
    assert set(_failed(v)) == (set() if copied else {"PLEDGE_TEXT_MISSING"}), v.checks
