"""Produced images: the ID composite (both sides on one image) and fitting any image to a
profile's file limit (app/filing/profiles.py) while changing it only as much as needed.

``fit``: a JPEG that already meets its limit is kept byte for byte, or only its JFIF density
is rewritten (lossless); otherwise it is re-encoded at the highest JPEG quality that fits
(binary search between ``Q_MIN`` and ``Q_MAX``), and downscaled only when even ``Q_MIN`` is
too large. The site photo's capture time is drawn on it when the profile asks.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps

from app.filing.profiles import PROFILES, CompositeLayout, FileLimit

_DEFAULT = PROFILES["original"]
CARD_PX = _DEFAULT.composite.card_px  # 85.6 x 54 mm at 300 dpi → (1011, 638)
DPI = _DEFAULT.composite.dpi
MAX_BYTES = 2 * 1024 * 1024
MARGIN = _DEFAULT.composite.margin_px  # 10 mm at 300 dpi, around and between the cards

Q_MAX = 92  # what the composite was always written at; never re-encode above it
Q_MIN = 60  # below this, text on a document blurs: downscale instead
MIN_SIDE = 240  # never downscale a longest side below this


@dataclass(slots=True)
class Fitted:
    data: bytes
    content_type: str
    width: int
    height: int
    dpi: int | None
    # What was done, in order: timestamp, resized (max_side), reencoded, downscaled, dpi_set.
    transforms: list[str] = field(default_factory=list)
    quality: int | None = None  # the JPEG quality written; None when not re-encoded
    timestamp: str | None = None

    def output(self) -> dict[str, Any]:
        return {
            "transforms": self.transforms,
            "quality": self.quality,
            "width": self.width,
            "height": self.height,
            "dpi": self.dpi,
            "timestamp": self.timestamp,
        }


def set_jfif_dpi(data: bytes, dpi: int) -> bytes:
    """Write ``dpi`` into the JPEG's JFIF header without touching the image data."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    if data[2:4] == b"\xff\xe0" and data[6:11] == b"JFIF\x00":
        return data[:13] + struct.pack(">BHH", 1, dpi, dpi) + data[18:]
    app0 = b"\xff\xe0" + struct.pack(">H5sBBBHHBB", 16, b"JFIF\x00", 1, 1, 1, dpi, dpi, 0, 0)
    return data[:2] + app0 + data[2:]


def jfif_dpi(img: Image.Image) -> int | None:
    if img.info.get("jfif_unit") == 1:
        return int(img.info["jfif_density"][0])
    dpi = img.info.get("dpi")
    return round(float(dpi[0])) if dpi else None


def _encode(img: Image.Image, quality: int, dpi: int | None) -> bytes:
    buf = io.BytesIO()
    kw: dict[str, Any] = {"dpi": (dpi, dpi)} if dpi else {}
    img.save(buf, "JPEG", quality=quality, optimize=True, **kw)
    return buf.getvalue()


def _best_quality(img: Image.Image, max_bytes: int | None, dpi: int | None) -> tuple[int, bytes]:
    """The highest quality in [Q_MIN, Q_MAX] whose JPEG fits (Q_MIN's bytes if none does)."""
    top = _encode(img, Q_MAX, dpi)
    if max_bytes is None or len(top) <= max_bytes:
        return Q_MAX, top
    lo, hi = Q_MIN, Q_MAX - 1
    best: tuple[int, bytes] | None = None
    while lo <= hi:
        q = (lo + hi) // 2
        data = _encode(img, q, dpi)
        if len(data) <= max_bytes:
            best, lo = (q, data), q + 1
        else:
            hi = q - 1
    return best or (Q_MIN, _encode(img, Q_MIN, dpi))


def encode_to_limit(img: Image.Image, limit: FileLimit, transforms: list[str]) -> Fitted:
    """Re-encode as JPEG at the highest quality that fits, downscaling only when needed."""
    img = img.convert("RGB")
    if limit.max_side and max(img.size) > limit.max_side:
        s = limit.max_side / max(img.size)
        img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))),
                         Image.Resampling.LANCZOS)  # fmt: skip
        transforms.append("resized")
    transforms.append("reencoded")
    q, data = _best_quality(img, limit.max_bytes, limit.dpi)
    while limit.max_bytes and len(data) > limit.max_bytes and max(img.size) > MIN_SIDE:
        # Pixels scale with the square of the side; JPEG bytes roughly with the pixels.
        s = max(0.5, min(0.95, math.sqrt(limit.max_bytes / len(data)) * 0.97))
        s = max(s, MIN_SIDE / max(img.size))
        img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))),
                         Image.Resampling.LANCZOS)  # fmt: skip
        if "downscaled" not in transforms:
            transforms.append("downscaled")
        q, data = _best_quality(img, limit.max_bytes, limit.dpi)
    return Fitted(data, "image/jpeg", img.width, img.height, limit.dpi, transforms, q)


def draw_timestamp(img: Image.Image, text: str) -> Image.Image:
    """The capture time, bottom right, white on a dark band (digits only: no CJK font)."""
    arr = cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2BGR)
    h, w = arr.shape[:2]
    scale = max(0.4, w / 900)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(4, round(th * 0.4))
    x, y = max(0, w - tw - 2 * pad), max(0, h - th - base - 2 * pad)
    band = arr[y:h, x:w]
    arr[y:h, x:w] = (band * 0.35).astype(np.uint8)
    cv2.putText(arr, text, (x + pad, h - base - pad), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thick, cv2.LINE_AA)  # fmt: skip
    return Image.fromarray(cv2.cvtColor(arr, cv2.COLOR_BGR2RGB))


def fit(data: bytes, limit: FileLimit, timestamp: str | None = None) -> Fitted | None:
    """The file made to meet ``limit``; None when it already does (kept byte for byte)."""
    if limit.passthrough and timestamp is None:
        return None
    img = Image.open(io.BytesIO(data))
    is_jpeg = img.format == "JPEG"
    needs_pixels = (
        timestamp is not None
        or (limit.format == "JPEG" and not is_jpeg)
        or (limit.max_side is not None and max(img.size) > limit.max_side)
    )
    if not needs_pixels:
        out, transforms = data, []
        if limit.dpi is not None and is_jpeg and jfif_dpi(img) != limit.dpi:
            out, transforms = set_jfif_dpi(data, limit.dpi), ["dpi_set"]
        if limit.max_bytes is None or len(out) <= limit.max_bytes:
            if not transforms:
                return None
            return Fitted(out, "image/jpeg", img.width, img.height, limit.dpi, transforms)
    pixels = ImageOps.exif_transpose(img)
    transforms = []
    if timestamp is not None:
        pixels = draw_timestamp(pixels, timestamp)
        transforms.append("timestamp")
    fitted = encode_to_limit(pixels, limit, transforms)
    fitted.timestamp = timestamp
    return fitted


def compose(
    front_bgr: np.ndarray, back_bgr: np.ndarray, layout: CompositeLayout, limit: FileLimit
) -> Fitted:
    """人像面 then 国徽面 (left/right or top/bottom) on white with even margins, each card at
    print size for the layout's dpi, fitted to ``limit``."""
    w, h = layout.card_px
    m = layout.margin_px
    horizontal = layout.direction == "horizontal"
    shape = (h + 2 * m, 2 * w + 3 * m) if horizontal else (2 * h + 3 * m, w + 2 * m)
    canvas = np.full((*shape, 3), 255, np.uint8)
    for i, card in enumerate((front_bgr, back_bgr)):
        if card.ndim == 2:
            card = cv2.cvtColor(card, cv2.COLOR_GRAY2BGR)
        resized = cv2.resize(card[..., :3], (w, h), interpolation=cv2.INTER_AREA)
        x, y = (m + i * (w + m), m) if horizontal else (m, m + i * (h + m))
        canvas[y : y + h, x : x + w] = resized
    img = Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    dpi = limit.dpi or layout.dpi
    return encode_to_limit(img, FileLimit("JPEG", dpi, limit.max_side, limit.max_bytes), [])


def id_composite(front_bgr: np.ndarray, back_bgr: np.ndarray) -> bytes:
    """The default profile's composite: 人像面 left, 国徽面 right, 300 dpi, JPEG ≤ 2 MB."""
    return compose(front_bgr, back_bgr, _DEFAULT.composite, _DEFAULT.limit("composite")).data


def stitch(
    page_bgr: np.ndarray, cards_bgr: list[np.ndarray], layout: CompositeLayout, limit: FileLimit
) -> Fitted:
    """An extra document "拼成一张图片" with the ID or the licence: the page on the left at
    A4 height for the layout's dpi (capped at 1600 px), the cards stacked to its right at
    print size (an ID side 85.6 x 54 mm; a licence at the page's height), fitted to ``limit``."""
    m = layout.margin_px
    page_h = min(1600, round(297 / 25.4 * layout.dpi))

    def scaled(img: np.ndarray, height: int) -> np.ndarray:
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        img = img[..., :3]
        w = max(1, round(img.shape[1] * height / img.shape[0]))
        return cv2.resize(img, (w, height), interpolation=cv2.INTER_AREA)

    page = scaled(page_bgr, page_h)
    card_w, card_h = layout.card_px
    cards = []
    for c in cards_bgr:
        if c.shape[1] > c.shape[0]:  # a card (landscape): print size
            cards.append(cv2.resize(c[..., :3], (card_w, card_h), interpolation=cv2.INTER_AREA))
        else:  # a licence or certificate page: as tall as the page
            cards.append(scaled(c, page_h))
    right_w = max((c.shape[1] for c in cards), default=0)
    right_h = sum(c.shape[0] for c in cards) + m * max(0, len(cards) - 1)
    height = max(page_h, right_h) + 2 * m
    width = page.shape[1] + (right_w + m if cards else 0) + 2 * m
    canvas = np.full((height, width, 3), 255, np.uint8)
    canvas[m : m + page_h, m : m + page.shape[1]] = page
    x, y = 2 * m + page.shape[1], m
    for c in cards:
        canvas[y : y + c.shape[0], x : x + c.shape[1]] = c
        y += c.shape[0] + m
    img = Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    dpi = limit.dpi or layout.dpi
    return encode_to_limit(img, FileLimit("JPEG", dpi, limit.max_side, limit.max_bytes), [])
