"""Put a LABELLED-SYNTHETIC document into a simulated phone photo, and degrade it.

``photograph`` warps a BGRA document onto a background with perspective, lighting, sensor noise
and JPEG; the ``degrade_*`` helpers make the defects the checks must refuse.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Shot:
    image: np.ndarray  # BGR uint8
    quad: np.ndarray  # 4x2 float32 corners of the document in the image (tl, tr, br, bl)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert out is not None
    return np.asarray(out)


def photograph(
    doc_bgra: np.ndarray,
    rng: random.Random,
    *,
    out_size: tuple[int, int] = (1280, 960),
    background: tuple[int, int, int] = (238, 240, 241),
    fill: float = 0.62,
    tilt: float = 0.03,
    offset: tuple[float, float] | None = None,
    light: float = 1.0,
    jpeg: int = 90,
    blur: float = 0.6,
    noise: float = 2.5,
) -> Shot:
    """Photograph a document: ``fill`` = document width / image width, ``tilt`` = corner jitter
    as a fraction of the document width, ``offset`` = centre shift as a fraction of the image."""
    w, h = out_size
    seed = rng.randrange(1 << 30)
    nrng = np.random.default_rng(seed)
    dh, dw = doc_bgra.shape[:2]
    tw = fill * w
    th = tw * dh / dw
    if th > 0.92 * h:  # tall documents (sheets): fit by height
        th = fill * h * 1.2
        tw = th * dw / dh
    ox, oy = offset if offset is not None else (rng.uniform(-0.04, 0.04), rng.uniform(-0.04, 0.04))
    cx, cy = w / 2 + ox * w, h / 2 + oy * h
    quad = np.array(
        [
            [cx - tw / 2, cy - th / 2],
            [cx + tw / 2, cy - th / 2],
            [cx + tw / 2, cy + th / 2],
            [cx - tw / 2, cy + th / 2],
        ],
        np.float32,
    )
    quad += np.array(
        [[rng.uniform(-1, 1) * tilt * tw, rng.uniform(-1, 1) * tilt * tw] for _ in range(4)],
        np.float32,
    )
    src = np.array([[0, 0], [dw, 0], [dw, dh], [0, dh]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad)
    warped = cv2.warpPerspective(
        doc_bgra,
        m,
        (w, h),
        flags=cv2.INTER_AREA,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0, 0),
    )
    bg = np.empty((h, w, 3), np.float32)
    bg[:] = background
    bg += nrng.normal(0, 1.5, (h, w, 1)).astype(np.float32)
    alpha = warped[..., 3:4].astype(np.float32) / 255.0
    # soft shadow under the document
    shadow = cv2.GaussianBlur(alpha[..., 0], (0, 0), 8)
    shadow = np.roll(shadow, (6, 6), axis=(0, 1))[..., None]
    bg *= 1 - 0.18 * shadow
    img = warped[..., :3].astype(np.float32) * alpha + bg * (1 - alpha)
    # uneven light: a gentle gradient
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08)
    gain = light * (1 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5))
    img *= gain[..., None]
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img += nrng.normal(0, noise, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    return Shot(_jpeg(out, jpeg) if jpeg else out, quad)


# --- degradations -----------------------------------------------------------------------


def degrade_blur(shot: Shot, sigma: float = 4.0) -> Shot:
    return Shot(cv2.GaussianBlur(shot.image, (0, 0), sigma), shot.quad)


def degrade_motion_blur(shot: Shot, length: int = 21) -> Shot:
    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1.0 / length
    return Shot(cv2.filter2D(shot.image, -1, k), shot.quad)


def degrade_dark(shot: Shot, factor: float = 0.18) -> Shot:
    rng = np.random.default_rng(1)
    img = shot.image.astype(np.float32) * factor + rng.normal(0, 3, shot.image.shape)
    return Shot(np.clip(img, 0, 255).astype(np.uint8), shot.quad)


def degrade_overexposed(shot: Shot, gain: float = 1.9, lift: float = 70) -> Shot:
    img = shot.image.astype(np.float32) * gain + lift
    return Shot(np.clip(img, 0, 255).astype(np.uint8), shot.quad)


def degrade_glare(shot: Shot, rng: random.Random, strength: float = 1.0) -> Shot:
    """A specular hot spot (clipped white, soft edge) over the document."""
    img = shot.image.astype(np.float32)
    q = shot.quad
    t = rng.uniform(0.3, 0.7)
    s = rng.uniform(0.3, 0.7)
    top = q[0] + (q[1] - q[0]) * t
    bottom = q[3] + (q[2] - q[3]) * t
    c = top + (bottom - top) * s
    doc_w = float(np.linalg.norm(q[1] - q[0]))
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rx, ry = doc_w * rng.uniform(0.10, 0.16), doc_w * rng.uniform(0.06, 0.10)
    d = ((xx - c[0]) / rx) ** 2 + ((yy - c[1]) / ry) ** 2
    spot = np.clip(1.6 - d, 0, 1)[..., None] * strength
    img = img * (1 - spot) + 255 * spot + 120 * np.exp(-d)[..., None] * strength
    return Shot(np.clip(img, 0, 255).astype(np.uint8), shot.quad)


def photocopy(doc_bgra: np.ndarray, rng: random.Random) -> np.ndarray:
    """A black-and-white copy of the document on copier paper (BGRA)."""
    gray = cv2.cvtColor(doc_bgra[..., :3], cv2.COLOR_BGR2GRAY).astype(np.float32)
    gray = (gray - 90) * 1.6 + 60
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    gray += nrng.normal(0, 6, gray.shape)
    gray = np.clip(gray, 0, 250).astype(np.uint8)
    paper = np.full_like(gray, 248)
    alpha = doc_bgra[..., 3]
    # the copy is a rectangle of paper: the card is printed on it with a margin
    ph, pw = gray.shape
    pad = int(0.08 * pw)
    sheet = np.full((ph + 2 * pad, pw + 2 * pad), 248, np.uint8)
    region = np.where(alpha > 0, gray, paper)
    cv2.rectangle(region, (0, 0), (pw - 1, ph - 1), 120, 2)
    sheet[pad : pad + ph, pad : pad + pw] = region
    bgr = cv2.cvtColor(sheet, cv2.COLOR_GRAY2BGR)
    return np.dstack([bgr, np.full(sheet.shape, 255, np.uint8)])


def screen(doc_bgra: np.ndarray, pitch: int = 3) -> np.ndarray:
    """The document shown on a phone/monitor screen: RGB sub-pixel stripes, a dark bezel,
    a slight blue cast. Photographing the result (``photograph``) adds the moiré."""
    dh, dw = doc_bgra.shape[:2]
    img = cv2.resize(doc_bgra[..., :3], (dw, dh), interpolation=cv2.INTER_AREA).astype(np.float32)
    img = img * 0.85 + np.array([30, 12, 0], np.float32)  # backlight, blue cast
    mask = np.zeros((dh, dw, 3), np.float32)
    for ch, bgr_index in enumerate((2, 1, 0)):  # R, G, B stripes left to right
        mask[:, ch::pitch, bgr_index] = 1.0
    mask[::pitch, :, :] *= 0.35  # row gaps
    lit = img * (0.25 + 0.75 * mask) * 1.5
    bez = int(0.06 * dw)
    out = np.full((dh + 2 * bez, dw + 2 * bez, 3), 18, np.float32)
    out[bez : bez + dh, bez : bez + dw] = lit
    out = np.clip(out, 0, 255).astype(np.uint8)
    return np.dstack([out, np.full(out.shape[:2], 255, np.uint8)])


def occlude(shot: Shot, rel_xy: tuple[float, float], rel_r: float = 0.09) -> Shot:
    """A finger (skin-coloured ellipse) over the point (u, v) of the document."""
    q = shot.quad.astype(np.float32)
    src = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    m = cv2.getPerspectiveTransform(src, q)
    pt = cv2.perspectiveTransform(np.array([[rel_xy]], np.float32), m)[0, 0]
    doc_w = float(np.linalg.norm(q[1] - q[0]))
    img = shot.image.copy()
    axes = (int(doc_w * rel_r), int(doc_w * rel_r * 2.2))
    cv2.ellipse(img, (int(pt[0]), int(pt[1])), axes, 20, 0, 360, (120, 150, 205), -1, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    return Shot(img, shot.quad)


def empty_scene(rng: random.Random, out_size: tuple[int, int] = (1280, 960)) -> np.ndarray:
    """A table with no document on it."""
    w, h = out_size
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    img = np.empty((h, w, 3), np.float32)
    img[:] = (rng.uniform(150, 240),) * 3
    img += nrng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def jpeg(shot: Shot, quality: int) -> Shot:
    return Shot(_jpeg(shot.image, quality), shot.quad)
