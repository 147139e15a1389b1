"""LABELLED-SYNTHETIC attack photos, built the way a fraudster would make them.

Every builder takes a rendered document (BGRA, from :mod:`.render`) and a seeded
``random.Random`` and returns a :class:`~.scene.Shot`. The parameters each builder draws are
described by an :class:`AttackParams` split: the tuning split (``TUNE``) and the test split
(``TEST``) draw from different ranges, so a threshold tuned on one is measured on the other.

- :func:`screen_photo`: the document shown on a high-DPI phone screen and photographed. The
  screen's pixels are far finer than the camera's, so the camera integrates the sub-pixels and
  there is NO moiré (an optional faint residual grid at most); what remains is what a screen
  really changes: its own white point (bluish), lifted blacks and a compressed dynamic range,
  uniform emitted brightness (room light does not shade it), the phone's black bezel and body
  around the display (optionally seen at an angle), slight refresh banding (PWM dimming seen by
  a rolling shutter), then the camera's blur, noise and JPEG.
- the same with ``bezel=False``: the document zoomed on a light viewer background and the
  photo framed inside the display, so no bezel is seen and everything in the frame is emitted.
- :func:`colour_copy`: a colour photocopy: scanned (fine print and pale tints lost), colours
  flattened, printed as a CMYK clustered-dot halftone with a rosette (C 15°, M 75°, Y 0°,
  K 45°) on bright copier paper (no card gloss), optionally cut out to the card's outline.
- :func:`bw_copy`: a black-and-white copy (toner on paper), optionally cut out.
- :func:`pasted_portrait`: a genuine photo of the card whose portrait was replaced in an image
  editor by another face photo (its own JPEG history with an 8x8 grid not aligned with the
  photo's, its own noise level), then saved again as JPEG.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from . import scene as S

FACE_DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "face"


@dataclass(frozen=True)
class AttackParams:
    """Ranges an attack's parameters are drawn from; the two splits do not overlap where a
    parameter is continuous (white point, black level, banding, pitch, JPEG quality)."""

    name: str
    blue_gain: tuple[float, float]  # screen white point: R and G scaled down against B
    black_level: tuple[float, float]  # screen black as a share of its white
    band_amp: tuple[float, float]  # refresh banding amplitude (share of the signal)
    band_period: tuple[float, float]  # banding period in photo rows
    halftone_pitch: tuple[float, float]  # colour copy: halftone cell in card px (1011 wide)
    jpeg: tuple[int, int]  # the camera's (or the editor's) JPEG quality
    face_jpeg: tuple[int, int]  # pasted portrait: the face file's earlier JPEG quality
    table: tuple[tuple[int, int, int], ...]  # table colours (BGR) under the document
    light: tuple[float, float]  # room light level
    portraits: str  # which face photos paste attacks draw from ("tune" / "test")


TUNE = AttackParams(
    name="tune",
    blue_gain=(0.86, 0.92),
    black_level=(0.07, 0.12),
    band_amp=(0.008, 0.02),
    band_period=(24.0, 60.0),
    halftone_pitch=(2.9, 3.5),
    jpeg=(84, 93),
    face_jpeg=(60, 75),
    table=((238, 240, 241), (232, 236, 236), (244, 244, 244)),
    light=(0.95, 1.05),
    portraits="tune",
)
TEST = AttackParams(
    name="test",
    blue_gain=(0.90, 0.95),
    black_level=(0.05, 0.09),
    band_amp=(0.005, 0.015),
    band_period=(40.0, 90.0),
    halftone_pitch=(3.2, 4.0),
    jpeg=(78, 90),
    face_jpeg=(68, 85),
    table=((240, 242, 243), (228, 232, 234), (246, 246, 245)),
    light=(0.9, 1.08),
    portraits="test",
)
SPLITS = {"tune": TUNE, "test": TEST}


def _u(rng: random.Random, r: tuple[float, float]) -> float:
    return rng.uniform(r[0], r[1])


# --- screens ------------------------------------------------------------------------------


def _rounded(w: int, h: int, r: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    r = max(1, min(r, w // 2, h // 2))
    cv2.rectangle(m, (r, 0), (w - r, h), 255, -1)
    cv2.rectangle(m, (0, r), (w, h - r), 255, -1)
    for cx, cy in ((r, r), (w - r, r), (r, h - r), (w - r, h - r)):
        cv2.circle(m, (cx, cy), r, 255, -1)
    return m


def _display(content_bgr: np.ndarray, rng: random.Random, p: AttackParams) -> np.ndarray:
    """What the panel emits for ``content`` (float32 BGR, 0-255 linear-ish camera units):
    the panel's tone curve, its black level and its bluish white point."""
    x = content_bgr.astype(np.float32) / 255.0
    # A wide-gamut panel with vivid mode on: a little extra saturation.
    sat = rng.uniform(1.0, 1.15)
    grey = x.mean(axis=2, keepdims=True)
    x = np.clip(grey + (x - grey) * sat, 0, 1)
    x = x ** rng.uniform(0.95, 1.1)
    black = _u(rng, p.black_level)
    white = rng.uniform(238, 252)
    gain = _u(rng, p.blue_gain)
    wp = np.array([1.0, rng.uniform(gain, 1.0) * 0.5 + gain * 0.5, gain], np.float32)  # B, G, R
    out = white * (black + (1 - black) * x) * wp
    return np.asarray(out, np.float32)


def screen_photo(
    doc_bgra: np.ndarray,
    rng: random.Random,
    *,
    params: AttackParams = TUNE,
    bezel: bool = True,
    angle: float = 0.0,
    out_size: tuple[int, int] = (1280, 960),
    residual_grid: bool = False,
) -> S.Shot:
    """The document displayed on a high-DPI phone and photographed (see the module doc).
    ``angle``: extra perspective (corner jitter as a share of the phone's width);
    ``residual_grid``: a faint sub-pixel grid survives (a lower-DPI screen, very close)."""
    p = params
    w, h = out_size
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    dh, dw = doc_bgra.shape[:2]
    card = doc_bgra[..., :3].astype(np.float32)
    alpha = doc_bgra[..., 3:4].astype(np.float32) / 255.0
    if bezel:
        # Gallery app: the photo of the card letterboxed on black or on the app's grey.
        screen_bg = rng.choice([0.0, 0.0, 28.0, 242.0])
        pad_x, pad_y = int(dw * rng.uniform(0.02, 0.08)), int(dh * rng.uniform(0.15, 0.35))
    else:
        screen_bg = rng.uniform(225, 250)  # a document viewer's light page
        pad_x, pad_y = int(dw * rng.uniform(0.25, 0.4)), int(dh * rng.uniform(0.3, 0.5))
    sw, sh = dw + 2 * pad_x, dh + 2 * pad_y
    content = np.full((sh, sw, 3), screen_bg, np.float32)
    # The card on screen is itself a photo someone took: a little of its table shows.
    content[pad_y : pad_y + dh, pad_x : pad_x + dw] = card * alpha + content[
        pad_y : pad_y + dh, pad_x : pad_x + dw
    ] * (1 - alpha)
    emitted = _display(content, rng, p)
    if residual_grid:
        stripes = np.ones((sh, sw, 3), np.float32)
        for ch, idx in enumerate((2, 1, 0)):
            stripes[:, ch::3, idx] = 1.06
        emitted *= stripes
    if bezel:
        b = int(sw * rng.uniform(0.03, 0.06))
        body_w, body_h = sw + 2 * b, sh + 2 * b
        phone = np.zeros((body_h, body_w, 4), np.float32)
        bez = rng.uniform(8, 26)
        phone[..., :3] = bez
        # the metal or plastic rim of the body
        rim = _rounded(body_w, body_h, int(0.08 * min(body_w, body_h)))
        inner = cv2.erode(rim, np.ones((5, 5), np.uint8), iterations=2)
        rim_colour = rng.uniform(40, 140)
        phone[(rim > 0) & (inner == 0), :3] = rim_colour
        phone[b : b + sh, b : b + sw, :3] = emitted
        phone[..., 3] = rim.astype(np.float32)
        screen_mask = np.zeros((body_h, body_w), np.float32)
        screen_mask[b : b + sh, b : b + sw] = 1.0
        src_w, src_h = body_w, body_h
        fill = rng.uniform(0.7, 0.9)
        tw = fill * w
        th = tw * src_h / src_w
        if th > 0.95 * h:
            th = 0.95 * h
            tw = th * src_w / src_h
        cx, cy = w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 + rng.uniform(-0.03, 0.03) * h
    else:
        phone = np.dstack([emitted, np.full((sh, sw), 255, np.float32)])
        screen_mask = np.ones((sh, sw), np.float32)
        src_w, src_h = sw, sh
        # Framed inside the display: the photo shows screen content only.
        tw, th = w * rng.uniform(1.08, 1.2), h * rng.uniform(1.08, 1.2)
        tw = max(tw, th * src_w / src_h)
        th = tw * src_h / src_w
        cx, cy = w / 2, h / 2
    quad = np.array(
        [
            [cx - tw / 2, cy - th / 2],
            [cx + tw / 2, cy - th / 2],
            [cx + tw / 2, cy + th / 2],
            [cx - tw / 2, cy + th / 2],
        ],
        np.float32,
    )
    jitter = 0.01 + angle
    quad += np.array(
        [[rng.uniform(-1, 1) * jitter * tw, rng.uniform(-1, 1) * jitter * tw] for _ in range(4)],
        np.float32,
    )
    src = np.array([[0, 0], [src_w, 0], [src_w, src_h], [0, src_h]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad)
    warped = cv2.warpPerspective(
        phone, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    emissive = cv2.warpPerspective(screen_mask, m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    a = np.asarray(warped[..., 3:4] / 255.0, np.float64)
    table = np.empty((h, w, 3), np.float32)
    table[:] = rng.choice(p.table)
    table += nrng.normal(0, 1.5, (h, w, 1)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = _u(rng, p.light)
    gx, gy = rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1)
    gain = (light * (1 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5)))[..., None]
    shadow = np.roll(cv2.GaussianBlur(a[..., 0], (0, 0), 10), (8, 8), axis=(0, 1))[..., None]
    table *= 1 - 0.25 * shadow
    # Room light shades the table and the phone's body, not the light the display emits
    # (apart from a slight fall-off at an angle).
    falloff = 1 - rng.uniform(0.0, 0.05) * ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2)[..., None]
    lit = warped[..., :3] * (emissive * falloff + (1 - emissive) * gain)
    img = lit * a + table * gain * (1 - a)
    # Refresh banding: PWM dimming seen row by row by the rolling shutter.
    period = _u(rng, p.band_period)
    amp = _u(rng, p.band_amp)
    band = 1 + amp * np.sin(2 * np.pi * yy / period + rng.uniform(0, 6.28))[..., None]
    img = img * (emissive * band + (1 - emissive))
    # The camera: auto exposure brings the bright screen down a little, optics, noise, JPEG.
    img *= rng.uniform(0.92, 1.0)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.55, 0.9))
    img += nrng.normal(0, rng.uniform(1.8, 3.0), img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    q = int(rng.randint(*p.jpeg))
    # The card's own corners on the photo (for callers that want them).
    corners = np.array([[0, 0], [dw, 0], [dw, dh], [0, dh]], np.float32) + np.array(
        [pad_x, pad_y], np.float32
    )
    if bezel:
        corners += b
    card_quad = cv2.perspectiveTransform(corners[None], m)[0]
    return S.Shot(S._jpeg(out, q), card_quad)


# --- copies -------------------------------------------------------------------------------


def _screen_threshold(h: int, w: int, pitch: float, angle_deg: float, phase: float) -> np.ndarray:
    """Clustered-dot threshold map: a rotated cosine dot grid, 0..1 (built from outer products:
    cos(kx·cosθ + ky·sinθ + φ) = cos·cos - sin·sin, no full-size trigonometry)."""
    a = np.deg2rad(angle_deg)
    k = 2 * np.pi / pitch
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)

    def wave(cx: float, cy: float) -> np.ndarray:
        ax, ay = k * cx * xs + phase, k * cy * ys
        return np.outer(np.cos(ay), np.cos(ax)) - np.outer(np.sin(ay), np.sin(ax))

    return np.asarray(0.5 - 0.25 * (wave(np.cos(a), np.sin(a)) + wave(-np.sin(a), np.cos(a))))


def _on_paper(img_bgr: np.ndarray, alpha: np.ndarray, rng: random.Random, cut: bool) -> np.ndarray:
    """The printed card on a sheet of copier paper (a margin around it), or cut out along its
    outline with scissors (a plain rectangle). BGRA out."""
    paper = rng.uniform(244, 252)
    ph, pw = img_bgr.shape[:2]
    region = np.where(alpha[..., None] > 0, img_bgr, paper).astype(np.uint8)
    if cut:
        m = np.full((ph, pw), 255, np.uint8)
        return np.dstack([region, m])
    # Copiers print the card's outline: a thin grey edge where the platen's shadow fell.
    edge = _outline(alpha)
    region[edge] = (region[edge] * 0.5).astype(np.uint8)
    pad = int(rng.uniform(0.06, 0.12) * pw)
    sheet = np.full((ph + 2 * pad, pw + 2 * pad, 3), paper, np.uint8)
    sheet[pad : pad + ph, pad : pad + pw] = region
    return np.dstack([sheet, np.full(sheet.shape[:2], 255, np.uint8)])


def _outline(alpha: np.ndarray) -> np.ndarray:
    a = (alpha > 127).astype(np.uint8)
    return (a - cv2.erode(a, np.ones((5, 5), np.uint8))) > 0


def colour_copy(
    doc_bgra: np.ndarray, rng: random.Random, *, params: AttackParams = TUNE, cut: bool = False
) -> np.ndarray:
    """A colour photocopy of the document (BGRA, to photograph with :func:`scene.photograph`)."""
    dh, dw = doc_bgra.shape[:2]
    up = 2  # halftone at twice the card resolution, then resampled
    src = cv2.resize(doc_bgra[..., :3], (dw * up, dh * up), interpolation=cv2.INTER_CUBIC)
    x = src.astype(np.float32) / 255.0
    # The scan: optics blur fine print, light tints fall below the copier's white point.
    x = np.asarray(cv2.GaussianBlur(x, (0, 0), rng.uniform(1.2, 2.0)), np.float32)
    white = rng.uniform(0.80, 0.88)
    x = np.clip(x / white, 0, 1)
    grey = x.mean(axis=2, keepdims=True)
    x = np.clip(grey + (x - grey) * rng.uniform(0.55, 0.8), 0, 1)  # flattened colour
    x = x ** rng.uniform(1.05, 1.25)  # the toner's tone curve darkens the mid-tones
    # CMYK with grey-component replacement.
    cmy = 1 - x[..., ::-1]  # C from R, M from G, Y from B
    k = cmy.min(axis=2) * 0.7
    cmy = (cmy - k[..., None]) / np.maximum(1 - k[..., None], 1e-3)
    pitch = _u(rng, params.halftone_pitch) * up
    angles = {0: 15.0, 1: 75.0, 2: 0.0}
    h2, w2 = x.shape[:2]
    inks = []
    for ch in range(3):
        t = _screen_threshold(h2, w2, pitch, angles[ch] + rng.uniform(-2, 2), rng.uniform(0, 6.3))
        inks.append(np.clip((cmy[..., ch] - t) * 6 + 0.5, 0, 1))
    tk = _screen_threshold(h2, w2, pitch, 45.0, rng.uniform(0, 6.3))
    ink_k = np.clip((k - tk) * 6 + 0.5, 0, 1)
    # Subtractive mixing on paper: cyan absorbs red, magenta green, yellow blue (BGR order).
    paper = rng.uniform(0.955, 0.99)
    c, m_, y = inks
    b_ch = paper * (1 - 0.15 * c) * (1 - 0.35 * m_) * (1 - 0.9 * y)
    g_ch = paper * (1 - 0.35 * c) * (1 - 0.9 * m_) * (1 - 0.08 * y)
    r_ch = paper * (1 - 0.9 * c) * (1 - 0.12 * m_) * (1 - 0.02 * y)
    out = np.dstack([b_ch, g_ch, r_ch]) * (1 - 0.88 * ink_k[..., None])
    out = cv2.GaussianBlur(out, (0, 0), 0.5)  # toner spread
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    out += nrng.normal(0, 0.01, out.shape).astype(np.float32)  # paper fibre and toner grain
    printed = cv2.resize(
        np.clip(out * 255, 0, 255).astype(np.uint8), (dw, dh), interpolation=cv2.INTER_AREA
    )
    return _on_paper(printed, doc_bgra[..., 3], rng, cut)


def bw_copy(doc_bgra: np.ndarray, rng: random.Random, *, cut: bool = False) -> np.ndarray:
    """A black-and-white copy (toner on paper) of the document, BGRA."""
    gray = cv2.cvtColor(doc_bgra[..., :3], cv2.COLOR_BGR2GRAY).astype(np.float32)
    gray = np.asarray(cv2.GaussianBlur(gray, (0, 0), rng.uniform(0.6, 1.2)), np.float32)
    lo, gain = rng.uniform(80, 100), rng.uniform(1.4, 1.8)
    gray = (gray - lo) * gain + 60
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    gray += nrng.normal(0, rng.uniform(4, 8), gray.shape)
    gray = np.clip(gray, 0, 250).astype(np.uint8)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    return _on_paper(bgr, doc_bgra[..., 3], rng, cut)


# --- pasted portrait ---------------------------------------------------------------------


@cache
def _faces(which: str) -> tuple[np.ndarray, ...]:
    """Other people's face photos to paste: frames of the carphone clip (tuning) or the
    insightface sample photos (test); see tests/data/face/README.md."""
    out: list[np.ndarray] = []
    if which == "tune":
        cap = cv2.VideoCapture(str(FACE_DATA / "carphone_pristine.mp4"))
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % 12 == 0:
                out.append(frame[0:144, 30:150])
            i += 1
        cap.release()
    else:
        tom = cv2.imread(str(FACE_DATA / "Tom_Hanks_54745.png"))
        if tom is not None:
            out.append(tom)
        group = cv2.imread(str(FACE_DATA / "t1.jpg"))
        if group is not None:
            gh, gw = group.shape[:2]
            for k in range(6):
                x0 = int(k * gw / 6)
                out.append(group[int(gh * 0.1) : int(gh * 0.6), x0 : x0 + int(gw / 6)])
    if not out:
        raise RuntimeError(f"no face photos in {FACE_DATA}")
    return tuple(out)


# Portrait slot of the resident ID card front as rendered (render.render_id_front), card px.
ID_PORTRAIT = (640, 70, 940, 450)


def pasted_portrait(
    card_bgra: np.ndarray,
    rng: random.Random,
    *,
    params: AttackParams = TUNE,
    slot: tuple[int, int, int, int] = ID_PORTRAIT,
) -> S.Shot:
    """A genuine photo of the card, its portrait replaced in an editor by another face photo.

    The face file has its own history: resized, JPEG-compressed at its own quality with its
    8x8 grid anchored at the pasted patch's corner (not the photo's), denoised by the phone
    that took it (or noisier); it is pasted over the slot with a feathered edge, and the
    result is saved again as JPEG."""
    shot = S.photograph(card_bgra, rng, tilt=rng.uniform(0.0, 0.02), jpeg=95)
    img = shot.image.astype(np.float32)
    h, w = img.shape[:2]
    dh, dw = card_bgra.shape[:2]
    src = np.array([[0, 0], [dw, 0], [dw, dh], [0, dh]], np.float32)
    m = cv2.getPerspectiveTransform(src, shot.quad)
    x0, y0, x1, y1 = slot
    corners = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], np.float32)
    q = cv2.perspectiveTransform(corners, m)[0]
    bx0, by0 = int(np.floor(q[:, 0].min())) - 2, int(np.floor(q[:, 1].min())) - 2
    bx1, by1 = int(np.ceil(q[:, 0].max())) + 2, int(np.ceil(q[:, 1].max())) + 2
    bx0, by0 = max(0, bx0), max(0, by0)
    bx1, by1 = min(w, bx1), min(h, by1)
    pw, ph = bx1 - bx0, by1 - by0
    faces = _faces(params.portraits)
    face = faces[rng.randrange(len(faces))]
    fh, fw = face.shape[:2]
    # Crop to the slot's aspect and fit it into the slot's quad in patch coordinates.
    aspect = (x1 - x0) / (y1 - y0)
    if fw / fh > aspect:
        cw = int(fh * aspect)
        ox = rng.randrange(0, fw - cw + 1)
        face = face[:, ox : ox + cw]
    else:
        ch = int(fw / aspect)
        oy = rng.randrange(0, fh - ch + 1)
        face = face[oy : oy + ch]
    fh, fw = face.shape[:2]
    fsrc = np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], np.float32)
    fdst = q - np.array([bx0, by0], np.float32)
    fm = cv2.getPerspectiveTransform(fsrc, fdst)
    patch = cv2.warpPerspective(
        face, fm, (pw, ph), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float32)
    # Matched roughly to the card's printed portrait (brightness), as an editor would.
    patch = patch * 0.92 + 18
    if rng.random() < 0.7:  # a beauty-filtered, noise-free face
        patch = cv2.bilateralFilter(patch.astype(np.uint8), 7, 30, 5).astype(np.float32)
    else:  # a grainy face from a worse camera
        nrng = np.random.default_rng(rng.randrange(1 << 30))
        patch += nrng.normal(0, rng.uniform(6, 9), patch.shape).astype(np.float32)
    patch_u8 = np.clip(patch, 0, 255).astype(np.uint8)
    patch_u8 = S._jpeg(patch_u8, int(rng.randint(*params.face_jpeg)))
    mask = np.zeros((ph, pw), np.float32)
    cv2.fillConvexPoly(mask, np.round(fdst).astype(np.int32), 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.0)[..., None]
    region = img[by0:by1, bx0:bx1]
    img[by0:by1, bx0:bx1] = patch_u8.astype(np.float32) * mask + region * (1 - mask)
    out = np.clip(img, 0, 255).astype(np.uint8)
    return S.Shot(S._jpeg(out, int(rng.randint(*params.jpeg))), shot.quad)
