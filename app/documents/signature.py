"""Is there a handwritten signature in a printed page's signature box (SIGNATURE_MISSING)?

The box is found from its printed label (``…签字:`` / ``…签名:``, read by the OCR): the
area to its right up to the page's margin, on its row and three lines below, is where the
person signs (the sheet template's signing cell, the test kit's signature line, the pledge's
承诺人签字). In that
area the printed box is taken away (long straight runs of ink: the cell's grid, the signing
line), so are red marks (the seal, a fingerprint in 印泥) and printed words the OCR read
there (日期, 年 月 日, 盖章); what is left is dark handwriting. The score is its ink area in
squared label heights (a three-character name written at the label's size is about 0.5–1,
an empty box below 0.05): a presence test, not a signature verification — nobody's
handwriting is compared with anything.

Pure: NumPy and OpenCV on the rectified page and the OCR lines, nothing of the service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from app.documents.ocr import OcrLine

LABELS = ("签字", "签名")
# Printed words that may sit in the signing area (the date row, the seal's label).
_PRINTED = re.compile(r"[::]|日期|盖章|指纹|[年月日]$|^\d{4}|签字|签名")


@dataclass(frozen=True, slots=True)
class SignatureBox:
    label: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the page's pixels
    height: float  # the label's line height, the unit of the score
    line: tuple[float, float, float, float]  # the label's own OCR line (never masked)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def find_box(lines: list[OcrLine], size: tuple[int, int]) -> SignatureBox | None:
    """The signing area right of the signature label (None: no label read).

    A label is a line ending in 签字/签名 (with its colon), or a line where the word is
    followed by what the person wrote (the OCR merged the two): the area starts where the
    label's own characters end. Of several labels, the one lowest on the page (the signing
    rows are at the foot)."""
    width, height = size
    best: tuple[float, SignatureBox] | None = None
    for ln in lines:
        text = _squash(ln.text)
        for word in LABELS:
            at = text.rfind(word)
            if at < 0:
                continue
            end = at + len(word)
            if end < len(text) and text[end] in "::":
                end += 1
            # A sentence mentioning a signature ("…并签名。") is not a label.
            tail = text[end:]
            if tail and not re.match(r"^[\u4e00-\u9fffA-Za-z·]{1,6}$", tail):
                continue
            x0, y0, x1, y1 = ln.box
            h = max(8.0, y1 - y0)
            label_end = x0 + (x1 - x0) * end / max(1, len(text))
            # To the page's right margin (the template's signing cell spans the page), from a
            # line above the label to three below (a signature written mid-cell).
            box = (
                int(label_end + 0.15 * h),
                int(max(0.0, y0 - 1.0 * h)),
                int(width * 0.97),
                int(min(height - 1, y1 + 3.0 * h)),
            )
            if box[2] - box[0] < 2 * h:
                continue
            found = SignatureBox(word, box, h, ln.box)
            if best is None or y0 > best[0]:
                best = (y0, found)
    return best[1] if best else None


def ink_score(doc_bgr: np.ndarray, area: SignatureBox, lines: list[OcrLine]) -> float:
    """The handwriting's ink area in the signing area, in squared label heights."""
    x0, y0, x1, y1 = area.box
    crop = doc_bgr[y0:y1, x0:x1]
    if crop.size == 0:
        return 0.0
    h = area.height
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
    paper = float(np.percentile(gray, 80))
    ink = (gray < paper * 0.62).astype(np.uint8)
    # The printed box: straight runs of ink (red included: a seal across the signing line
    # leaves it whole) longer than two label heights.
    run = max(9, int(2.0 * h))
    horiz = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
    vert = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((run, 1), np.uint8))
    box_lines = cv2.bitwise_or(horiz, vert)
    ink[cv2.dilate(box_lines, np.ones((5, 5), np.uint8)) > 0] = 0
    # Red ink (the seal, a fingerprint) is not a signature, nor its anti-aliased, JPEG-bled rim.
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    hue, sat = hsv[..., 0], hsv[..., 1]
    red = (((hue <= 12) | (hue >= 160)) & (sat >= 50)).astype(np.uint8)
    ink[cv2.dilate(red, np.ones((7, 7), np.uint8)) > 0] = 0
    # Printed words the OCR read in the area.
    for ln in lines:
        if ln.box == area.line or not _PRINTED.search(_squash(ln.text)):
            continue
        bx0, by0, bx1, by1 = (int(v) for v in ln.box)
        ax0, ay0 = max(0, bx0 - x0 - 2), max(0, by0 - y0 - 2)
        ax1, ay1 = min(x1 - x0, bx1 - x0 + 2), min(y1 - y0, by1 - y0 + 2)
        if ax1 > ax0 and ay1 > ay0:
            ink[ay0:ay1, ax0:ax1] = 0
    # Specks (paper texture, JPEG noise) are not strokes, nor thin straight pieces of a
    # line another mark cut short.
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    min_area = max(4.0, 0.01 * h * h)
    total = 0
    for i in range(1, n):
        bw, bh, px = (int(stats[i, k]) for k in (cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT,
                                                 cv2.CC_STAT_AREA))  # fmt: skip
        straight = min(bw, bh) <= max(3.0, 0.12 * h) and max(bw, bh) >= 0.6 * h
        if px >= min_area and not straight:
            total += px
    return float(total / (h * h))


def signature_score(doc_bgr: np.ndarray, lines: list[OcrLine]) -> tuple[float, SignatureBox | None]:
    """The ink score of the page's signing area and the area (0 and None: no label)."""
    area = find_box(lines, (doc_bgr.shape[1], doc_bgr.shape[0]))
    if area is None:
        return 0.0, None
    return ink_score(doc_bgr, area, lines), area
