"""Time the whole document check path against bare OCR on the same image, in the same run.

    .venv/bin/python -m bench.doc_speed --runs 7

Inputs (LABELLED-SYNTHETIC, testkit/documents): one ID front photo, 1280x800 JPEG, and one business
licence photo. "Bare OCR" is the same loaded engine (rapidocr PP-OCRv6 det+rec, same thread
settings) run once over the whole photo; "analyze" is locate + rectify + every quality check +
one OCR pass over the rectified document + extraction and cross-checks.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

import cv2

from app.documents.analyzer import DocKind, DocumentAnalyzer, Expectation
from testkit.documents import render as R
from testkit.documents import scene as S
from testkit.documents.cases import TODAY
from testkit.documents.identities import make_company, make_person


def _jpeg_roundtrip(img):  # type: ignore[no-untyped-def]
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR), len(buf)


def out(text: str = "") -> None:
    """Benchmarks report on stdout (print is linted out of library code)."""
    sys.stdout.write(text + "\n")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(7)
    person, company = make_person(rng, TODAY), make_company(rng, TODAY)
    front, front_bytes = _jpeg_roundtrip(
        S.photograph(R.render_id_front(person, rng), rng, out_size=(1280, 800), fill=0.7).image
    )
    lic, lic_bytes = _jpeg_roundtrip(
        S.photograph(R.render_licence(company, rng), rng, fill=0.85).image
    )
    inputs = [
        (
            "ID front",
            front,
            front_bytes,
            DocKind.ID_FRONT,
            Expectation(today=TODAY, person_name=person.name, person_number=person.id_number),
        ),
        (
            "licence",
            lic,
            lic_bytes,
            DocKind.BUSINESS_LICENCE,
            Expectation(
                today=TODAY, subject_name=company.name, subject_number=company.uscc, is_unit=True
            ),
        ),
    ]
    analyzer = DocumentAnalyzer()
    analyzer.load()
    out(
        f"{'input':10s} {'size':>10s} {'JPEG KB':>8s} {'bare OCR ms':>12s} {'analyze ms':>11s} "
        f"{'ratio':>6s} accepted"
    )
    for name, img, nbytes, kind, expect in inputs:
        analyzer.ocr.read(img)
        analyzer.analyze(img, kind, expect)  # warm-up
        bare, full = [], []
        verdict = None
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            t = time.perf_counter()
            analyzer.ocr.read(img)
            bare.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            verdict = analyzer.analyze(img, kind, expect)
            full.append((time.perf_counter() - t) * 1000)
        b, f = statistics.median(bare), statistics.median(full)
        h, w = img.shape[:2]
        assert verdict is not None
        out(
            f"{name:10s} {f'{w}x{h}':>10s} {nbytes / 1024:8.0f} {b:12.0f} {f:11.0f} {f / b:6.2f} "
            f"{verdict.accepted} {verdict.failed() or ''}"
        )
        out(
            f"{'':10s} stages ms: "
            + ", ".join(f"{k}={v:.0f}" for k, v in verdict.timings_ms.items())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
