"""LABELLED-SYNTHETIC photos that a filing system sends back (issue 16 item 6), made the way
a careless user or a fraudster makes them, from :mod:`.render` documents and :mod:`.scene`
camera photos.

- :func:`screenshot`: a camera photo of the card opened in a phone's gallery or chat app and
  screen-shot: a status bar (time, signal, Wi-Fi, battery), the app's title bar and tool bar
  in exact flat pixels, the photo resized into the screen, no new sensor noise; saved as PNG
  or re-saved as JPEG (a chat app's forward), at a phone's screen size.
- :func:`stitched`: two or three camera photos (each its own table, light and camera) pasted
  side by side or one above the other, with or without a collage app's gap, re-saved as JPEG.
- :func:`watermarked`: a camera photo with a translucent watermark added in an editor: the
  tiled diagonal "仅供备案使用" kind, or an app's corner mark (logo and user name).
- :func:`beauty`: a camera photo through a beauty / colour filter: edge-preserving skin
  smoothing (the sensor noise is gone), saturation boost and a warm or cool tone shift.
- :func:`portrait_blur`: the phone's "证件模式" / portrait mode: the card kept sharp, the
  table around it blurred (and its sensor noise with it).

Every builder takes a rendered document (BGRA) and a seeded ``random.Random`` and returns a
BGR uint8 image. :class:`RejectParams` holds the ranges each split draws from (``TUNE`` /
``TEST``, not overlapping where a parameter is continuous).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from . import render as R
from . import scene as S


@dataclass(frozen=True)
class RejectParams:
    name: str
    screens: tuple[tuple[int, int], ...]  # phone screen sizes (w, h)
    resave_jpeg: tuple[int, int]  # the re-saved JPEG quality (screenshot forwarded, editor)
    png_share: float  # screenshots kept as PNG
    gap: tuple[int, int]  # collage gap in px (0 = pasted edge to edge)
    wm_alpha: tuple[float, float]  # watermark opacity
    wm_angle: tuple[float, float]  # tiled watermark angle (degrees)
    smooth: tuple[float, float]  # beauty: bilateral sigmaColor
    saturation: tuple[float, float]  # beauty: saturation gain
    tone: tuple[float, float]  # beauty: |b*| shift of the warm / cool tone
    bokeh: tuple[float, float]  # portrait mode: background blur sigma in px
    camera_jpeg: tuple[int, int]  # the camera's own JPEG quality


TUNE = RejectParams(
    name="tune",
    screens=((1080, 2340), (1080, 2400)),
    resave_jpeg=(80, 90),
    png_share=0.5,
    gap=(6, 24),
    wm_alpha=(0.22, 0.4),
    wm_angle=(20.0, 40.0),
    smooth=(40.0, 70.0),
    saturation=(1.25, 1.5),
    tone=(6.0, 12.0),
    bokeh=(5.0, 10.0),
    camera_jpeg=(86, 94),
)
TEST = RejectParams(
    name="test",
    screens=((1170, 2532), (1080, 2412), (720, 1600)),
    resave_jpeg=(72, 80),
    png_share=0.4,
    gap=(2, 12),
    wm_alpha=(0.16, 0.3),
    wm_angle=(40.0, 55.0),
    smooth=(30.0, 45.0),
    saturation=(1.15, 1.3),
    tone=(4.0, 8.0),
    bokeh=(3.5, 6.0),
    camera_jpeg=(80, 88),
)
SPLITS = {"tune": TUNE, "test": TEST}


def _u(rng: random.Random, r: tuple[float, float]) -> float:
    return rng.uniform(r[0], r[1])


def _camera(doc: np.ndarray, rng: random.Random, p: RejectParams, **kw: Any) -> S.Shot:
    """A genuine phone photo of the document (the start of every attack here)."""
    kw.setdefault("jpeg", rng.randint(*p.camera_jpeg))
    kw.setdefault("tilt", rng.uniform(0.0, 0.04))
    kw.setdefault("fill", rng.uniform(0.55, 0.75))
    kw.setdefault("background", rng.choice([(238, 240, 241), (232, 236, 236), (244, 244, 244)]))
    kw.setdefault("noise", rng.uniform(1.8, 3.2))
    return S.photograph(doc, rng, **kw)


def _resave(img: np.ndarray, quality: int) -> np.ndarray:
    return S.jpeg(S.Shot(img, np.zeros((4, 2), np.float32)), quality).image


# --- screenshots --------------------------------------------------------------------------


def _status_bar(
    draw: ImageDraw.ImageDraw, w: int, bar_h: int, fg: tuple[int, int, int], rng: random.Random
) -> None:
    """Time at the left; signal bars, Wi-Fi, battery (with its percentage) at the right."""
    size = int(bar_h * 0.45)
    time_text = f"{rng.randint(7, 23)}:{rng.randint(0, 59):02d}"
    draw.text((int(w * 0.06), int(bar_h * 0.28)), time_text, font=R._font(size), fill=fg)
    x = int(w * 0.62)
    base = int(bar_h * 0.72)
    for i in range(4):  # signal bars
        hh = int(bar_h * (0.14 + 0.08 * i))
        draw.rectangle(
            (
                x + i * int(size * 0.35),
                base - hh,
                x + i * int(size * 0.35) + int(size * 0.22),
                base,
            ),
            fill=fg,
        )
    x += int(size * 1.8)
    cx, cy = x + size // 2, base  # Wi-Fi arcs
    for r in (size * 0.25, size * 0.5, size * 0.75):
        draw.arc((cx - r, cy - r, cx + r, cy + r), 225, 315, fill=fg, width=max(2, size // 9))
    x += int(size * 1.5)
    pct = rng.randint(12, 99)
    draw.text((x, int(bar_h * 0.3)), f"{pct}%", font=R._font(int(size * 0.8)), fill=fg)
    x += int(size * 1.9)
    bw, bh = int(size * 1.3), int(size * 0.65)
    top = base - bh
    draw.rounded_rectangle((x, top, x + bw, base), radius=3, outline=fg, width=2)
    draw.rectangle((x + 3, top + 3, x + 3 + int((bw - 6) * pct / 100), base - 3), fill=fg)
    draw.rectangle((x + bw + 1, top + bh // 3, x + bw + 4, base - bh // 3), fill=fg)


def screenshot(doc_bgra: np.ndarray, rng: random.Random, params: RejectParams = TUNE) -> np.ndarray:
    """A camera photo of the document, opened in a gallery (dark) or chat (light) app and
    screen-shot (see the module doc)."""
    p = params
    photo = _camera(doc_bgra, rng, p).image
    w, h = rng.choice(p.screens)
    dark = rng.random() < 0.5
    bg = (0, 0, 0) if dark else (rng.choice([245, 247, 255]),) * 3
    fg = (255, 255, 255) if not dark or rng.random() < 0.5 else (230, 230, 230)
    fg = (255, 255, 255) if dark else (20, 20, 20)
    bar_h = int(h * 0.035)
    app_h = int(h * 0.05)
    tool_h = int(h * 0.07)
    canvas = Image.new("RGB", (w, h), bg[::-1])
    draw = ImageDraw.Draw(canvas)
    chrome = (28, 28, 28) if dark else (237, 237, 237)
    if not dark:  # a chat app: its title bar in its own grey
        draw.rectangle((0, 0, w, bar_h + app_h), fill=chrome)
        draw.rectangle((0, h - tool_h, w, h), fill=chrome)
    _status_bar(draw, w, bar_h, fg, rng)
    title = rng.choice(["图片", "相册", "照片详情", "1/3"])
    draw.text(
        (int(w * 0.42), bar_h + int(app_h * 0.2)), title, font=R._font(int(app_h * 0.45)), fill=fg
    )
    draw.line(
        (int(w * 0.05), bar_h + app_h // 2, int(w * 0.08), bar_h + int(app_h * 0.25)),
        fill=fg,
        width=4,
    )
    draw.line(
        (int(w * 0.05), bar_h + app_h // 2, int(w * 0.08), bar_h + int(app_h * 0.75)),
        fill=fg,
        width=4,
    )
    labels = ["分享", "编辑", "收藏", "删除"]
    for i, lab in enumerate(labels):
        x = int(w * (0.12 + 0.22 * i))
        draw.rectangle((x + 8, h - tool_h + 12, x + 40, h - tool_h + 40), outline=fg, width=3)
        draw.text((x, h - tool_h + 48), lab, font=R._font(int(tool_h * 0.22)), fill=fg)
    img = cv2.cvtColor(np.asarray(canvas), cv2.COLOR_RGB2BGR)
    # The photo fitted to the screen's width (a little zoomed in at times).
    ph, pw = photo.shape[:2]
    zoom = rng.choice([1.0, 1.0, rng.uniform(1.1, 1.4)])
    tw = int(w * zoom)
    th = int(ph * tw / pw)
    shown = cv2.resize(photo, (tw, th), interpolation=cv2.INTER_AREA)
    x0 = (tw - w) // 2
    shown = shown[:, x0 : x0 + w]
    y0 = (h - th) // 2
    img[y0 : y0 + th, :] = shown
    if rng.random() < p.png_share:
        return img  # PNG: every pixel exact
    return _resave(img, rng.randint(*p.resave_jpeg))


# --- stitched -----------------------------------------------------------------------------


def stitched(docs: list[np.ndarray], rng: random.Random, params: RejectParams = TUNE) -> np.ndarray:
    """Photos of ``docs`` (each its own camera shot) pasted side by side or one above the
    other, with a collage gap or edge to edge, then saved again as JPEG."""
    p = params
    vertical = rng.random() < 0.5  # one above the other
    shots = []
    for d in docs:
        size = rng.choice([(1280, 960), (1200, 900), (1024, 768)])
        shots.append(_camera(d, rng, p, out_size=size, light=rng.uniform(0.92, 1.06)).image)
    gap = rng.choice([0, rng.randint(*p.gap)])
    gap_colour = rng.choice([(255, 255, 255), (250, 250, 250), (0, 0, 0)])
    if vertical:
        wmin = min(s.shape[1] for s in shots)
        shots = [
            cv2.resize(s, (wmin, int(s.shape[0] * wmin / s.shape[1])), interpolation=cv2.INTER_AREA)
            for s in shots
        ]
        parts: list[np.ndarray] = []
        for i, s in enumerate(shots):
            if i and gap:
                parts.append(np.full((gap, wmin, 3), gap_colour, np.uint8))
            parts.append(s)
        img = np.vstack(parts)
    else:
        hmin = min(s.shape[0] for s in shots)
        shots = [
            cv2.resize(s, (int(s.shape[1] * hmin / s.shape[0]), hmin), interpolation=cv2.INTER_AREA)
            for s in shots
        ]
        parts = []
        for i, s in enumerate(shots):
            if i and gap:
                parts.append(np.full((hmin, gap, 3), gap_colour, np.uint8))
            parts.append(s)
        img = np.hstack(parts)
    return _resave(img, rng.randint(*p.resave_jpeg))


# --- watermarks ---------------------------------------------------------------------------

WATERMARK_TEXTS = (
    "仅供备案使用",
    "仅供网站备案使用 他用无效",
    "仅限ICP备案使用",
    "此复印件仅供备案",
)
APP_MARKS = ("@美图秀秀", "小红书 用户2233", "水印相机", "WPS 扫描", "@微博 小王")


def watermarked(
    doc_bgra: np.ndarray, rng: random.Random, params: RejectParams = TUNE
) -> np.ndarray:
    """A camera photo of the document with a translucent watermark: the tiled diagonal text
    (grey, red or blue) or an app's corner mark, then saved again as JPEG."""
    p = params
    photo = _camera(doc_bgra, rng, p).image
    h, w = photo.shape[:2]
    layer = Image.new("L", (w * 2, h * 2), 0)
    draw = ImageDraw.Draw(layer)
    alpha = _u(rng, p.wm_alpha)
    if rng.random() < 0.7:
        text = rng.choice(WATERMARK_TEXTS)
        size = rng.randint(int(h * 0.05), int(h * 0.08))
        font = R._font(size)
        step_x = int(draw.textlength(text, font=font) + size * rng.uniform(1.0, 2.5))
        step_y = int(size * rng.uniform(2.5, 4.0))
        for j, y in enumerate(range(0, h * 2, step_y)):
            for x in range(-(j % 2) * step_x // 2, w * 2, step_x):
                draw.text((x, y), text, font=font, fill=255)
        angle = _u(rng, p.wm_angle) * rng.choice([-1, 1])
        layer = layer.rotate(angle, resample=Image.Resampling.BILINEAR)
        mask = np.asarray(layer, np.float32)[h // 2 : h // 2 + h, w // 2 : w // 2 + w] / 255.0
        colour = rng.choice([(128, 128, 128), (60, 60, 200), (200, 120, 60), (255, 255, 255)])
    else:  # an app's mark: logo disc and name in a corner, white with a soft shadow
        text = rng.choice(APP_MARKS)
        size = rng.randint(int(h * 0.035), int(h * 0.05))
        font = R._font(size)
        tw = int(draw.textlength(text, font=font))
        x = w - tw - int(w * 0.04) if rng.random() < 0.7 else int(w * 0.04) + size
        y = h - size * 2 if rng.random() < 0.7 else size
        draw.ellipse((x - size * 1.3, y - size * 0.1, x - size * 0.2, y + size), fill=255)
        draw.text((x, y), text, font=font, fill=255)
        mask = np.asarray(layer, np.float32)[:h, :w] / 255.0
        alpha = min(1.0, alpha + 0.35)
        colour = (255, 255, 255)
        shadow = cv2.GaussianBlur(mask, (0, 0), 2.0)
        shadow = np.roll(shadow, (2, 2), axis=(0, 1))
        photo = (photo.astype(np.float32) * (1 - 0.35 * shadow[..., None])).astype(np.uint8)
    a = (mask * alpha)[..., None]
    out = photo.astype(np.float32) * (1 - a) + np.array(colour, np.float32) * a
    return _resave(np.clip(out, 0, 255).astype(np.uint8), rng.randint(*p.resave_jpeg))


# --- filters ------------------------------------------------------------------------------


def _tone(img: np.ndarray, rng: random.Random, sat: float, shift: float) -> np.ndarray:
    lab = cv2.cvtColor(img, cv2.COLOR_BGR2LAB).astype(np.float32)
    lab[..., 1:] = (lab[..., 1:] - 128) * sat + 128
    lab[..., 2] += shift * rng.choice([-1, 1])  # warm (yellow) or cool (blue)
    lab[..., 0] = np.clip(lab[..., 0] * rng.uniform(1.0, 1.06) + rng.uniform(0, 6), 0, 255)
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)


def beauty(doc_bgra: np.ndarray, rng: random.Random, params: RejectParams = TUNE) -> np.ndarray:
    """A camera photo through a beauty filter: edge-preserving smoothing (twice, as the
    apps' 磨皮 does), then saturation and a warm or cool tone; saved again as JPEG."""
    p = params
    photo = _camera(doc_bgra, rng, p).image
    sc = _u(rng, p.smooth)
    out = cv2.bilateralFilter(photo, 9, sc, 7)
    out = cv2.bilateralFilter(out, 9, sc, 7)
    if rng.random() < 0.8:
        out = _tone(out, rng, _u(rng, p.saturation), _u(rng, p.tone))
    return _resave(out, rng.randint(*p.resave_jpeg))


def portrait_blur(
    doc_bgra: np.ndarray, rng: random.Random, params: RejectParams = TUNE
) -> np.ndarray:
    """The phone's portrait / "证件模式": the document sharp, what is around it blurred
    (a feathered mask a little outside the card's outline, as the phone's matting gives)."""
    p = params
    shot = _camera(doc_bgra, rng, p, jpeg=0)
    img = shot.image
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    grow = rng.uniform(0.0, 0.02) * w
    c = shot.quad.mean(axis=0)
    quad = c + (shot.quad - c) * (1 + grow / max(1.0, float(np.ptp(shot.quad[:, 0]))))
    cv2.fillConvexPoly(mask, quad.astype(np.int32), 255)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), rng.uniform(2.0, 5.0))
    blurred = cv2.GaussianBlur(img, (0, 0), _u(rng, p.bokeh))
    out = img.astype(np.float32) * soft[..., None] + blurred.astype(np.float32) * (
        1 - soft[..., None]
    )
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:  # the phone's mode also brightens a little
        out = np.clip(out.astype(np.float32) * rng.uniform(1.0, 1.04) + 2, 0, 255).astype(np.uint8)
    return _resave(out, rng.randint(*p.camera_jpeg))


CLASSES = ("screenshot", "stitched", "watermark", "beauty_filter", "portrait_blur")
EXPECTED = {
    "screenshot": "SCREENSHOT_SUSPECTED",
    "stitched": "STITCHED_IMAGE",
    "watermark": "WATERMARK_PRESENT",
    "beauty_filter": "FILTER_APPLIED",
    "portrait_blur": "FILTER_APPLIED",
}


def make_case(variant: str, seed: int, split: str = "tune") -> Any:
    """One labelled case (:class:`.cases.Case`) of a rejected-photo class, on a resident ID
    card front (a third of them a business licence); ``stitched`` pastes the card's front and
    back (and at times the licence) as the filing systems' "拼成一张图片" asks, where a single
    side was wanted."""
    from app.documents.analyzer import DocKind, Expectation

    from .cases import TODAY, Case
    from .identities import make_company, make_person

    rng = random.Random(f"rejected/{split}/{variant}/{seed}")
    p = SPLITS[split]
    person = make_person(rng, TODAY)
    licence = variant != "stitched" and rng.random() < 1 / 3
    if licence:
        c = make_company(rng, TODAY)
        doc = R.render_licence(c, rng)
        kind = DocKind.BUSINESS_LICENCE
        exp = Expectation(today=TODAY, subject_name=c.name, subject_number=c.uscc, is_unit=True)
    else:
        doc = R.render_id_front(person, rng)
        kind = DocKind.ID_FRONT
        exp = Expectation(today=TODAY, person_name=person.name, person_number=person.id_number)
    if variant == "screenshot":
        img = screenshot(doc, rng, p)
    elif variant == "stitched":
        docs = [doc, R.render_id_back(person, rng)]
        if rng.random() < 0.25:
            docs.append(R.render_licence(make_company(rng, TODAY), rng))
        img = stitched(docs, rng, p)
    elif variant == "watermark":
        img = watermarked(doc, rng, p)
    elif variant == "beauty_filter":
        img = beauty(doc, rng, p)
    elif variant == "portrait_blur":
        img = portrait_blur(doc, rng, p)
    else:
        raise ValueError(variant)
    return Case(f"rejected/{variant}", img, kind, exp, frozenset({EXPECTED[variant]}))
