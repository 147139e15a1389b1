"""Render LABELLED-SYNTHETIC Chinese identity and business documents (never real ones).

Layouts follow the public specimens closely enough for OCR and layout checks: ID card at
300 dpi print size (1011x638), passport data page with an ICAO 9303 TD3 MRZ, business licence,
verification sheet. Every image carries a small "SYNTHETIC 样本" mark.
"""

from __future__ import annotations

import math
import os
import random
from datetime import date
from functools import cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.documents.mrz import PERMIT_DOCUMENT_CODES, td1_lines, td3_lines

from .identities import Company, Holder, Person

CARD_W, CARD_H = 1011, 638


@cache
def font_path() -> str:
    """A CJK TTF: the PyPI font package first, then Debian's fonts."""
    candidates: list[str] = []
    try:
        import paperang_p2_fonts_cjk

        candidates.append(
            os.path.join(
                os.path.dirname(paperang_p2_fonts_cjk.__file__), "fonts", "wqy-microhei.ttc"
            )
        )
    except ImportError:
        pass
    candidates += [
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    ]
    for c in candidates:
        if os.path.exists(c):
            return c
    raise RuntimeError(
        "no CJK font: pip install paperang-p2-fonts-cjk==0.1.0 "
        "(or apt-get install fonts-wqy-microhei)"
    )


@cache
def _font(size: int, mono: bool = False) -> ImageFont.FreeTypeFont:
    path = font_path()
    index = 1 if mono and path.endswith("microhei.ttc") else 0
    return ImageFont.truetype(path, size, index=index)


@cache
def _portrait_source() -> np.ndarray:
    """A real face photo shipped by a registry package (scikit-image's public-domain NASA
    astronaut), else a drawn placeholder head."""
    try:
        from skimage import data  # type: ignore[import-not-found, import-untyped, unused-ignore]

        rgb = data.astronaut()[10:330, 110:360]
        return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    except ImportError:
        img = np.full((320, 250, 3), 235, np.uint8)
        cv2.ellipse(img, (125, 130), (70, 90), 0, 0, 360, (150, 180, 220), -1)
        cv2.ellipse(img, (125, 330), (120, 100), 0, 180, 360, (60, 60, 60), -1)
        return img


def portrait(w: int, h: int, rng: random.Random, source: np.ndarray | None = None) -> np.ndarray:
    """The ID photo: a crop of ``source`` (BGR, e.g. a real person's frontal frame, so that a
    face capture of the same person can match it), by default the packaged portrait."""
    src = _portrait_source() if source is None else source
    sh, sw = src.shape[:2]
    scale = rng.uniform(0.9, 1.0)
    cw, ch = int(sw * scale), int(sh * scale)
    x, y = rng.randrange(0, sw - cw + 1), rng.randrange(0, sh - ch + 1)
    return cv2.resize(src[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_AREA)


def _draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size: int,
    fill: tuple[int, int, int],
    *,
    mono: bool = False,
    spacing: float = 0.0,
) -> float:
    font = _font(size, mono)
    if not spacing:
        draw.text(xy, text, font=font, fill=fill)
        return xy[0] + draw.textlength(text, font=font)
    x = xy[0]
    for ch in text:
        draw.text((x, xy[1]), ch, font=font, fill=fill)
        x += draw.textlength(ch, font=font) + spacing
    return x


def _synthetic_mark(draw: ImageDraw.ImageDraw, w: int, h: int, *, top: bool = False) -> None:
    y = 8 if top else h - 26
    draw.text((w - 150, y), "SYNTHETIC 样本", font=_font(16), fill=(170, 170, 170))


def _guilloche(
    w: int, h: int, rng: random.Random, base: tuple[int, int, int], line: tuple[int, int, int]
) -> np.ndarray:
    """Pale background with fine wavy security lines (BGR)."""
    img = np.zeros((h, w, 3), np.float32)
    img[:] = base
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = rng.uniform(0, 6.28)
    waves = (np.sin(xx / 37.0 + np.sin(yy / 53.0 + phase) * 2.5) * np.cos(yy / 29.0)) ** 8
    img += waves[..., None] * (np.array(line, np.float32) - np.array(base, np.float32)) * 0.35
    grad = (xx / w)[..., None] * np.array([6, 2, -6], np.float32)
    img += grad
    return np.clip(img, 0, 255).astype(np.uint8)


def _rounded_mask(w: int, h: int, r: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.rectangle(m, (r, 0), (w - r, h), 255, -1)
    cv2.rectangle(m, (0, r), (w, h - r), 255, -1)
    for cx, cy in ((r, r), (w - r, r), (r, h - r), (w - r, h - r)):
        cv2.circle(m, (cx, cy), r, 255, -1)
    return m


def _finish_card(img: np.ndarray) -> np.ndarray:
    """Rounded corners: outside the card is marked pure black (255 alpha handled by scene)."""
    h, w = img.shape[:2]
    mask = _rounded_mask(w, h, 28)
    out = np.dstack([img, mask])
    return out  # BGRA


def _fmt_cn_date(d: date) -> tuple[str, str, str]:
    return str(d.year), str(d.month), str(d.day)


def render_id_front(p: Person, rng: random.Random, *, face: np.ndarray | None = None) -> np.ndarray:
    """人像面, BGRA 1011x638 (alpha = card shape); ``face``: the portrait's source photo."""
    bg = _guilloche(CARD_W, CARD_H, rng, (240, 226, 206), (215, 175, 140))
    pil = Image.fromarray(cv2.cvtColor(bg, cv2.COLOR_BGR2RGB))
    d = ImageDraw.Draw(pil)
    lab = (40, 110, 170)
    ink = (20, 20, 20)
    x0, x1 = 70, 190
    _draw_text(d, (x0, 72), "姓名", 30, lab, spacing=8)
    _draw_text(d, (x1, 66), p.name, 40, ink, spacing=4)
    _draw_text(d, (x0, 160), "性别", 30, lab, spacing=8)
    _draw_text(d, (x1, 156), p.sex, 36, ink)
    _draw_text(d, (340, 160), "民族", 30, lab, spacing=8)
    _draw_text(d, (455, 156), p.ethnicity, 36, ink)
    _draw_text(d, (x0, 248), "出生", 30, lab, spacing=8)
    y, m, dd = _fmt_cn_date(p.birth)
    x = _draw_text(d, (x1, 244), y, 36, ink, mono=True)
    x = _draw_text(d, (x + 14, 248), "年", 30, lab)
    x = _draw_text(d, (x + 16, 244), m, 36, ink, mono=True)
    x = _draw_text(d, (x + 14, 248), "月", 30, lab)
    x = _draw_text(d, (x + 16, 244), dd, 36, ink, mono=True)
    _draw_text(d, (x + 14, 248), "日", 30, lab)
    _draw_text(d, (x0, 336), "住址", 30, lab, spacing=8)
    per_line = 11
    for i in range(0, len(p.address), per_line):
        _draw_text(d, (x1, 332 + (i // per_line) * 48), p.address[i : i + per_line], 34, ink)
    _draw_text(d, (x0, 528), "公民身份号码", 30, lab, spacing=6)
    _draw_text(d, (340, 520), p.id_number, 44, ink, mono=True, spacing=4)
    _synthetic_mark(d, CARD_W, CARD_H)
    img = cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR).copy()
    px, py, pw, ph = 640, 70, 300, 380
    photo = portrait(pw, ph, rng, face)
    img[py : py + ph, px : px + pw] = (photo.astype(np.float32) * 0.92 + 18).astype(np.uint8)
    return _finish_card(img)


def _emblem(img: np.ndarray, cx: int, cy: int, r: int) -> None:
    """A stylised red-and-gold emblem (not the real one)."""
    cv2.circle(img, (cx, cy), r, (30, 30, 200), -1, cv2.LINE_AA)
    cv2.circle(img, (cx, cy), int(r * 0.78), (40, 180, 230), 3, cv2.LINE_AA)
    pts = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5
        rr = r * (0.45 if k % 2 == 0 else 0.18)
        pts.append((cx + rr * math.cos(a), cy - r * 0.1 + rr * math.sin(a)))
    cv2.fillPoly(img, [np.array(pts, np.int32)], (40, 200, 240), cv2.LINE_AA)


def render_id_back(p: Person, rng: random.Random, *, validity: str | None = None) -> np.ndarray:
    """国徽面, BGRA. ``validity`` overrides the printed period (for VALIDITY_INVALID cases)."""
    bg = _guilloche(CARD_W, CARD_H, rng, (228, 232, 212), (170, 200, 150))
    _emblem(bg, 150, 150, 95)
    pil = Image.fromarray(cv2.cvtColor(bg, cv2.COLOR_BGR2RGB))
    d = ImageDraw.Draw(pil)
    ink = (20, 20, 20)
    _draw_text(d, (330, 70), "中华人民共和国", 52, ink, spacing=10)
    _draw_text(d, (300, 170), "居民身份证", 80, ink, spacing=22)
    _draw_text(d, (200, 440), "签发机关", 30, ink, spacing=6)
    _draw_text(d, (370, 436), p.issuer, 34, ink)
    _draw_text(d, (200, 520), "有效期限", 30, ink, spacing=6)
    if validity is None:
        end = "长期" if p.valid_to is None else f"{p.valid_to:%Y.%m.%d}"
        validity = f"{p.valid_from:%Y.%m.%d}-{end}"
    _draw_text(d, (370, 514), validity, 36, ink, mono=True)
    _synthetic_mark(d, CARD_W, CARD_H)
    return _finish_card(cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR).copy())


PASS_W, PASS_H = 1000, 704


def render_passport(
    p: Person,
    rng: random.Random,
    *,
    number: str,
    expiry: date,
    issued: date,
    break_mrz: bool = False,
) -> np.ndarray:
    """Passport data page (TD3), BGRA 1000x704."""
    bg = _guilloche(PASS_W, PASS_H, rng, (226, 214, 232), (200, 160, 205))
    pil = Image.fromarray(cv2.cvtColor(bg, cv2.COLOR_BGR2RGB))
    d = ImageDraw.Draw(pil)
    ink, lab = (20, 20, 20), (90, 60, 110)
    _draw_text(d, (300, 22), "中华人民共和国 护照", 34, ink, spacing=4)
    _draw_text(d, (300, 64), "PEOPLE'S REPUBLIC OF CHINA  PASSPORT", 22, ink)
    rows = [
        ("类型/Type", "P", "国家码/Country Code", "CHN", "护照号/Passport No.", number),
    ]
    _draw_text(d, (300, 104), rows[0][0], 16, lab)
    _draw_text(d, (300, 124), rows[0][1], 26, ink)
    _draw_text(d, (450, 104), rows[0][2], 16, lab)
    _draw_text(d, (450, 124), rows[0][3], 26, ink)
    _draw_text(d, (650, 104), rows[0][4], 16, lab)
    _draw_text(d, (650, 124), number, 28, ink, mono=True)
    _draw_text(d, (300, 170), "姓名/Name", 16, lab)
    _draw_text(d, (300, 190), f"{p.name}", 30, ink)
    _draw_text(d, (300, 230), f"{p.pinyin_surname}, {p.pinyin_given}", 26, ink)
    _draw_text(d, (300, 276), "性别/Sex", 16, lab)
    _draw_text(d, (300, 296), f"{p.sex}/{'M' if p.sex == '男' else 'F'}", 26, ink)
    _draw_text(d, (450, 276), "国籍/Nationality", 16, lab)
    _draw_text(d, (450, 296), "中国/CHINESE", 26, ink)
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]

    def en(dt: date) -> str:
        return f"{dt.day:02d} {months[dt.month - 1]} {dt.year}"

    _draw_text(d, (300, 342), "出生日期/Date of birth", 16, lab)
    _draw_text(d, (300, 362), en(p.birth), 26, ink)
    _draw_text(d, (620, 342), "签发日期/Date of issue", 16, lab)
    _draw_text(d, (620, 362), en(issued), 26, ink)
    _draw_text(d, (300, 408), "有效期至/Date of expiry", 16, lab)
    _draw_text(d, (300, 428), en(expiry), 26, ink)
    _draw_text(d, (620, 408), "签发机关/Authority", 16, lab)
    _draw_text(d, (620, 428), "国家移民管理局", 24, ink)
    sex = "M" if p.sex == "男" else "F"
    l1, l2 = td3_lines("CHN", p.pinyin_surname, p.pinyin_given, number, "CHN", p.birth, sex, expiry)
    if break_mrz:  # a wrong document-number check digit
        bad = str((int(l2[9]) + 3) % 10)
        l2 = l2[:9] + bad + l2[10:]
    font = _font(34, mono=True)
    width = d.textlength(l1, font=font)
    size = int(34 * 930 / width)
    _draw_text(d, (35, 560), l1, size, ink, mono=True)
    _draw_text(d, (35, 625), l2, size, ink, mono=True)
    _synthetic_mark(d, PASS_W, PASS_H)
    img = cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR).copy()
    face = portrait(220, 290, rng)
    img[110:400, 50:270] = face
    out = np.dstack([img, np.full((PASS_H, PASS_W), 255, np.uint8)])
    return out


# --- the other personal documents --------------------------------------------------------
# Layouts after the public specimen descriptions (imitations, LABELLED-SYNTHETIC): the
# travel permits' card (2013 港澳 / 2015 台湾 card versions) shows the portrait on the left,
# the fields on the right and a three-line machine-readable zone at the bottom; the residence
# permits (2018) are laid out like the resident ID card (no 民族 row) with the permit's title,
# issuer, period, travel-permit number and issue count on the emblem side; the 2023 permanent
# residence card prints bilingual labels with the value below them and the portrait on the
# right. Colours and patterns are not the real ones.

PERMIT_TITLES = {
    "hk_macau_permit": (
        "港澳居民来往内地通行证", "MAINLAND TRAVEL PERMIT FOR HONG KONG AND MACAO RESIDENTS"
    ),
    "taiwan_permit": ("台湾居民来往大陆通行证", "MAINLAND TRAVEL PERMIT FOR TAIWAN RESIDENTS"),
    "hk_macau_residence": ("港澳居民居住证", ""),
    "taiwan_residence": ("台湾居民居住证", ""),
    "foreign_permanent_residence": (
        "中华人民共和国外国人永久居留身份证", "FOREIGN PERMANENT RESIDENT ID CARD"
    ),
}  # fmt: skip
# (x0, y0, width, height) of the portrait on each card, in CARD_W x CARD_H pixels.
PERMIT_PORTRAIT = (45, 130, 260, 330)
FOREIGN_PORTRAIT = (690, 120, 270, 340)


def _dot(d: date) -> str:
    return f"{d:%Y.%m.%d}"


def render_permit(
    h: Holder, rng: random.Random, *, face: np.ndarray | None = None, break_mrz: bool = False
) -> np.ndarray:
    """港澳居民来往内地通行证 / 台湾居民来往大陆通行证 card, BGRA 1011x638."""
    base = (226, 206, 232) if h.doc_type == "hk_macau_permit" else (198, 224, 206)
    line = (200, 160, 205) if h.doc_type == "hk_macau_permit" else (150, 200, 165)
    bg = _guilloche(CARD_W, CARD_H, rng, base, line)
    pil = Image.fromarray(cv2.cvtColor(bg, cv2.COLOR_BGR2RGB))
    d = ImageDraw.Draw(pil)
    ink, lab = (20, 20, 20), (60, 70, 120)
    title, english = PERMIT_TITLES[h.doc_type]
    tw = d.textlength(title, font=_font(42)) + 4 * len(title)
    _draw_text(d, ((CARD_W - tw) / 2, 22), title, 42, ink, spacing=4)
    ew = d.textlength(english, font=_font(17))
    _draw_text(d, ((CARD_W - ew) / 2, 78), english, 17, lab)
    p = h.person
    x0, xv = 340, 480
    _draw_text(d, (x0, 130), "姓名", 26, lab, spacing=6)
    _draw_text(d, (xv, 120), p.name, 40, ink, spacing=4)
    _draw_text(d, (xv, 172), f"{h.latin_surname}, {h.latin_given}", 26, ink)
    _draw_text(d, (x0, 226), "出生日期", 26, lab)
    _draw_text(d, (xv, 222), _dot(p.birth), 32, ink, mono=True)
    _draw_text(d, (720, 226), "性别", 26, lab, spacing=6)
    sex = "M" if p.sex == "男" else "F"
    _draw_text(d, (810, 222), f"{p.sex}/{sex}", 30, ink)
    _draw_text(d, (x0, 280), "有效期限", 26, lab)
    _draw_text(d, (xv, 276), f"{_dot(h.valid_from)}-{_dot(h.valid_to)}", 32, ink, mono=True)
    _draw_text(d, (x0, 334), "签发机关", 26, lab)
    _draw_text(d, (xv, 330), "国家移民管理局", 30, ink)
    _draw_text(d, (x0, 396), h.number, 44, (150, 30, 30), mono=True, spacing=4)
    count_label = "换证次数" if h.doc_type == "hk_macau_permit" else "签发次数"
    _draw_text(d, (720, 400), count_label, 26, lab)
    _draw_text(d, (840, 396), h.count, 32, ink, mono=True)
    l1, l2, l3 = td1_lines(
        PERMIT_DOCUMENT_CODES[h.doc_type],
        "CHN",
        h.number,
        p.birth,
        sex,
        h.valid_to,
        "CHN",
        h.latin_surname,
        h.latin_given,
        optional1=h.count,
    )
    if break_mrz:  # a wrong document-number check digit
        l1 = l1[:14] + str((int(l1[14]) + 3) % 10) + l1[15:]
    font = _font(34, mono=True)
    size = int(34 * 900 / d.textlength(l1, font=font))
    for i, text in enumerate((l1, l2, l3)):
        _draw_text(d, (50, 470 + i * 52), text, size, ink, mono=True)
    _synthetic_mark(d, CARD_W, CARD_H, top=True)
    img = cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR).copy()
    px, py, pw, ph = PERMIT_PORTRAIT
    photo = portrait(pw, ph, rng, face)
    img[py : py + ph, px : px + pw] = (photo.astype(np.float32) * 0.92 + 18).astype(np.uint8)
    return _finish_card(img)


def render_residence_front(
    h: Holder, rng: random.Random, *, face: np.ndarray | None = None
) -> np.ndarray:
    """港澳 / 台湾居民居住证 portrait side, BGRA 1011x638: the resident ID's layout without
    the 民族 row."""
    base = (242, 232, 214) if h.doc_type == "hk_macau_residence" else (238, 226, 214)
    bg = _guilloche(CARD_W, CARD_H, rng, base, (215, 185, 150))
    pil = Image.fromarray(cv2.cvtColor(bg, cv2.COLOR_BGR2RGB))
    d = ImageDraw.Draw(pil)
    lab, ink = (40, 110, 170), (20, 20, 20)
    p = h.person
    x0, x1 = 70, 190
    _draw_text(d, (x0, 72), "姓名", 30, lab, spacing=8)
    _draw_text(d, (x1, 66), p.name, 40, ink, spacing=4)
    _draw_text(d, (x0, 160), "性别", 30, lab, spacing=8)
    _draw_text(d, (x1, 156), p.sex, 36, ink)
    _draw_text(d, (x0, 248), "出生", 30, lab, spacing=8)
    y, m, dd = _fmt_cn_date(p.birth)
    x = _draw_text(d, (x1, 244), y, 36, ink, mono=True)
    x = _draw_text(d, (x + 14, 248), "年", 30, lab)
    x = _draw_text(d, (x + 16, 244), m, 36, ink, mono=True)
    x = _draw_text(d, (x + 14, 248), "月", 30, lab)
    x = _draw_text(d, (x + 16, 244), dd, 36, ink, mono=True)
    _draw_text(d, (x + 14, 248), "日", 30, lab)
    _draw_text(d, (x0, 336), "住址", 30, lab, spacing=8)
    per_line = 11
    for i in range(0, len(p.address), per_line):
        _draw_text(d, (x1, 332 + (i // per_line) * 48), p.address[i : i + per_line], 34, ink)
    _draw_text(d, (x0, 528), "公民身份号码", 30, lab, spacing=6)
    _draw_text(d, (340, 520), h.number, 44, ink, mono=True, spacing=4)
    _synthetic_mark(d, CARD_W, CARD_H)
    img = cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR).copy()
    px, py, pw, ph = 640, 70, 300, 380
    photo = portrait(pw, ph, rng, face)
    img[py : py + ph, px : px + pw] = (photo.astype(np.float32) * 0.92 + 18).astype(np.uint8)
    return _finish_card(img)


def render_residence_back(
    h: Holder, rng: random.Random, *, validity: str | None = None
) -> np.ndarray:
    """港澳 / 台湾居民居住证 emblem side, BGRA: title, issuer, period, 通行证号码, 签发次数."""
    bg = _guilloche(CARD_W, CARD_H, rng, (210, 230, 204), (165, 195, 165))
    _emblem(bg, 150, 150, 95)
    pil = Image.fromarray(cv2.cvtColor(bg, cv2.COLOR_BGR2RGB))
    d = ImageDraw.Draw(pil)
    ink = (20, 20, 20)
    title, _ = PERMIT_TITLES[h.doc_type]
    _draw_text(d, (330, 70), "中华人民共和国", 52, ink, spacing=10)
    _draw_text(d, (300, 170), title, 64, ink, spacing=10)
    rows = [
        ("签发机关", h.person.issuer),
        ("有效期限", validity or f"{_dot(h.valid_from)}-{_dot(h.valid_to)}"),
        ("通行证号码", h.travel_permit),
        ("签发次数", h.count),
    ]
    for i, (label, value) in enumerate(rows):
        _draw_text(d, (200, 340 + i * 66), label, 30, ink, spacing=4 if len(label) == 4 else 0)
        _draw_text(d, (400, 336 + i * 66), value, 34, ink, mono=label != "签发机关")
    _synthetic_mark(d, CARD_W, CARD_H)
    return _finish_card(cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR).copy())


def render_foreign_front(
    h: Holder, rng: random.Random, *, face: np.ndarray | None = None
) -> np.ndarray:
    """外国人永久居留身份证 (2023 layout; the 15-character number of the older cards when the
    holder has one), portrait side, BGRA 1011x638."""
    bg = _guilloche(CARD_W, CARD_H, rng, (206, 226, 240), (150, 190, 215))
    pil = Image.fromarray(cv2.cvtColor(bg, cv2.COLOR_BGR2RGB))
    d = ImageDraw.Draw(pil)
    ink, lab = (20, 20, 20), (60, 90, 130)
    title, english = PERMIT_TITLES[h.doc_type]
    _draw_text(d, (60, 22), title, 38, ink, spacing=2)
    _draw_text(d, (60, 70), english, 18, lab)
    p = h.person
    sex = "M" if p.sex == "男" else "F"
    fields = [
        ((60, 112), "姓名/Name", f"{h.latin_surname}, {h.latin_given}", False),
        ((60, 196), "性别/Sex", f"{p.sex}/{sex}", False),
        ((300, 196), "出生日期/Date of Birth", _dot(p.birth), True),
        ((60, 280), "国籍/Nationality", f"{h.nationality[2]}/{h.nationality[0]}", False),
        (
            (60, 364),
            "有效期限/Period of Validity",
            f"{_dot(h.valid_from)}-{_dot(h.valid_to)}",
            True,
        ),
    ]
    for (x, y), label, value, mono in fields:
        _draw_text(d, (x, y), label, 20, lab)
        _draw_text(d, (x, y + 28), value, 32, ink, mono=mono)
    _draw_text(d, (60, 470), "证件号码/Card No.", 20, lab)
    _draw_text(d, (60, 500), h.number, 44, ink, mono=True, spacing=3)
    _synthetic_mark(d, CARD_W, CARD_H)
    img = cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR).copy()
    px, py, pw, ph = FOREIGN_PORTRAIT
    photo = portrait(pw, ph, rng, face)
    img[py : py + ph, px : px + pw] = (photo.astype(np.float32) * 0.92 + 18).astype(np.uint8)
    return _finish_card(img)


def render_foreign_back(h: Holder, rng: random.Random) -> np.ndarray:
    """外国人永久居留身份证 emblem side, BGRA: title and issuing authority (the same for
    every ``h``: taken for the renderers' one signature)."""
    del h
    bg = _guilloche(CARD_W, CARD_H, rng, (204, 220, 238), (160, 180, 210))
    _emblem(bg, 150, 150, 95)
    pil = Image.fromarray(cv2.cvtColor(bg, cv2.COLOR_BGR2RGB))
    d = ImageDraw.Draw(pil)
    ink = (20, 20, 20)
    _draw_text(d, (300, 90), "中华人民共和国", 48, ink, spacing=8)
    _draw_text(d, (300, 170), "外国人永久居留身份证", 50, ink, spacing=4)
    _draw_text(d, (300, 240), "FOREIGN PERMANENT RESIDENT ID CARD", 22, ink)
    _draw_text(d, (200, 440), "签发机关", 30, ink, spacing=6)
    _draw_text(d, (370, 436), "国家移民管理局", 34, ink)
    _synthetic_mark(d, CARD_W, CARD_H)
    return _finish_card(cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR).copy())


LIC_W, LIC_H = 1400, 990


def _seal(img: np.ndarray, cx: int, cy: int, r: int, text: str) -> None:
    """A red round seal with a star and curved text (``img`` is RGB)."""
    red = (215, 40, 40)
    cv2.circle(img, (cx, cy), r, red, 6, cv2.LINE_AA)
    pts = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5
        rr = r * (0.32 if k % 2 == 0 else 0.13)
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    cv2.fillPoly(img, [np.array(pts, np.int32)], red, cv2.LINE_AA)
    pil = Image.fromarray(img)
    n = len(text)
    size = max(14, int(r * 0.28))
    for i, ch in enumerate(text):
        a = math.radians(-150 + 120 * (i + 0.5) / n)
        x, y = cx + r * 0.72 * math.cos(a), cy + r * 0.72 * math.sin(a)
        glyph = Image.new("RGBA", (size + 6, size + 6), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((3, 0), ch, font=_font(size), fill=(215, 40, 40, 255))
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.Resampling.BICUBIC)
        pil.paste(glyph, (int(x - size / 2), int(y - size / 2)), glyph)
    img[:] = np.asarray(pil)


def render_licence(c: Company, rng: random.Random, *, kind: str = "business") -> np.ndarray:
    """营业执照 (or 事业单位法人证书 / 社会团体法人登记证书), BGRA 1400x990."""
    img = np.full((LIC_H, LIC_W, 3), 246, np.uint8)
    img[:] = (228, 236, 240)
    # decorative border band
    band = _guilloche(LIC_W, LIC_H, rng, (90, 140, 190), (40, 90, 160))
    m = np.zeros((LIC_H, LIC_W), bool)
    m[:46, :] = m[-46:, :] = True
    m[:, :46] = m[:, -46:] = True
    img[m] = band[m]
    cv2.rectangle(img, (58, 58), (LIC_W - 58, LIC_H - 58), (60, 110, 170), 3)
    _emblem(img, LIC_W // 2, 130, 55)
    title, code_label, name_label, rep_label = {
        "business": ("营业执照", "统一社会信用代码", "名称", "法定代表人"),
        "institution": ("事业单位法人证书", "统一社会信用代码", "名称", "法定代表人"),
        "social_org": ("社会团体法人登记证书", "统一社会信用代码", "名称", "法定代表人"),
    }[kind]
    pil = Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    d = ImageDraw.Draw(pil)
    ink = (25, 25, 25)
    tw = d.textlength(title, font=_font(76)) + 24 * len(title)
    _draw_text(d, ((LIC_W - tw) / 2, 200), title, 76, (30, 30, 30), spacing=24)
    _draw_text(d, (100, 110), code_label, 26, ink)
    _draw_text(d, (100, 146), c.uscc, 32, ink, mono=True)
    # fake QR block
    qr = np.array([[rng.random() < 0.5 for _ in range(21)] for _ in range(21)])
    for yy in range(21):
        for xx in range(21):
            if qr[yy, xx]:
                d.rectangle([1160 + xx * 6, 100 + yy * 6, 1165 + xx * 6, 105 + yy * 6], fill=ink)
    rows_l = [
        (name_label, c.name),
        ("类型", "有限责任公司（自然人投资或控股）"),
        (rep_label, c.legal_rep),
        ("经营范围", "网络技术开发；信息技术咨询服务"),
    ]
    rows_r = [
        ("注册资本", f"人民币{rng.randrange(10, 1000)}万元"),
        ("成立日期", f"{c.established.year}年{c.established.month:02d}月{c.established.day:02d}日"),
        ("住所", c.address),
    ]
    y = 360
    for lab, val in rows_l:
        _draw_text(d, (110, y), lab, 30, ink, spacing=6 if len(lab) <= 4 else 0)
        _draw_text(d, (280, y - 2), val, 32, ink)
        y += 80
    y = 360
    for lab, val in rows_r:
        _draw_text(d, (790, y), lab, 30, ink, spacing=6)
        if len(val) > 12:
            _draw_text(d, (950, y - 2), val[:12], 30, ink)
            _draw_text(d, (950, y + 40), val[12:], 30, ink)
        else:
            _draw_text(d, (950, y - 2), val, 32, ink)
        y += 80
    _draw_text(d, (900, 760), "登记机关", 30, ink, spacing=6)
    issue = date(min(c.established.year + rng.randrange(0, 5), 2025), rng.randrange(1, 13), 15)
    _draw_text(d, (930, 860), f"{issue.year}年{issue.month:02d}月{issue.day:02d}日", 30, ink)
    _synthetic_mark(d, LIC_W - 60, LIC_H - 60)
    out = cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR).copy()
    rgb = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    _seal(rgb, 1090, 800, 95, "市场监督管理局")
    out = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return np.dstack([out, np.full((LIC_H, LIC_W), 255, np.uint8)])


SHEET_W, SHEET_H = 990, 1400


def render_sheet(
    subject_name: str,
    domains: list[str],
    rng: random.Random,
    *,
    seal: bool = True,
    title: str = "网站备案信息真实性核验单",
) -> np.ndarray:
    """真实性核验单 (A4 portrait), BGRA 990x1400, optional red seal of the unit."""
    img = np.full((SHEET_H, SHEET_W, 3), 246, np.uint8)
    pil = Image.fromarray(img)
    d = ImageDraw.Draw(pil)
    ink = (25, 25, 25)
    tw = d.textlength(title, font=_font(44))
    _draw_text(d, ((SHEET_W - tw) / 2, 90), title, 44, ink)
    y = 210
    lines = (
        [
            f"主办单位名称：{subject_name}",
            "备案类型：新增网站",
            "网站名称：官方网站",
        ]
        + [f"网站域名：{dm}" for dm in domains]
        + [
            "本单位（本人）承诺所提交的备案信息真实有效，",
            "如有虚假，愿承担由此产生的一切法律责任。",
        ]
    )
    for line in lines:
        _draw_text(d, (90, y), line, 30, ink)
        y += 70
    d.rectangle([80, 180, SHEET_W - 80, y + 10], outline=(60, 60, 60), width=2)
    _draw_text(d, (90, 1050), "主办单位（盖章）：", 30, ink)
    _draw_text(d, (90, 1130), "负责人签字：", 30, ink)
    d.line([(280, 1170), (520, 1170)], fill=(40, 40, 40), width=2)
    _draw_text(d, (600, 1250), f"{2026}年{rng.randrange(1, 12)}月{rng.randrange(1, 28)}日", 30, ink)
    # a hand-written-looking signature squiggle
    pts = [(300 + i * 12, 1150 + int(10 * math.sin(i * 0.9 + rng.random()))) for i in range(18)]
    d.line(pts, fill=(30, 30, 90), width=3)
    _synthetic_mark(d, SHEET_W, SHEET_H)
    out = np.asarray(pil).copy()
    if seal:
        _seal(out, 420, 1060, 110, subject_name[:12])
    out = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
    return np.dstack([out, np.full((SHEET_H, SHEET_W), 255, np.uint8)])
