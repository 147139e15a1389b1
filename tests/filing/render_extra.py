"""Labelled-synthetic 域名证书, 法人授权书 and signed 承诺书 pages, and the test kit's sheet
without its signature (drawn here, not scans of real ones), photographed on a table like the
test kit's sheets. The "handwriting" is a drawn squiggle or the print font in blue ink: these
pages show the checks' wiring, not a recall on real handwriting."""

from __future__ import annotations

import math
import random

import cv2
import numpy as np
from PIL import Image, ImageDraw

from testkit.documents import render as R
from testkit.documents import scene as S

W, H = R.SHEET_W, R.SHEET_H


def _page(title: str, lines: list[str], seal: str | None, sign: bool = False) -> np.ndarray:
    pil = Image.fromarray(np.full((H, W, 3), 246, np.uint8))
    d = ImageDraw.Draw(pil)
    ink = (25, 25, 25)
    tw = d.textlength(title, font=R._font(44))
    R._draw_text(d, ((W - tw) / 2, 110), title, 44, ink)
    y = 260
    for line in lines:
        R._draw_text(d, (100, y), line, 30, ink)
        y += 74
    if sign:
        R._draw_text(d, (100, 1120), "法定代表人签字:", 30, ink)
        d.line([(340 + i * 12, 1150 + (i % 3) * 4) for i in range(16)], fill=(30, 30, 90), width=3)
    R._synthetic_mark(d, W, H)
    out = np.asarray(pil).copy()
    if seal:
        R._seal(out, 700, 1080, 110, seal[:12])
    out = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
    return np.dstack([out, np.full((H, W), 255, np.uint8)])


def domain_certificate(domain: str, holder: str, expires: str, seed: int = 0) -> np.ndarray:
    """A registrar's certificate (label: value lines), photographed (BGR)."""
    doc = _page(
        "域名注册证书",
        [
            f"域名:{domain}",
            f"域名持有者:{holder}",
            "注册日期:2020年03月15日",
            f"到期日期:{expires}",
            "注册服务机构:示例网络科技有限公司",
        ],
        seal="示例网络科技有限公司",
    )
    rng = random.Random(seed)
    return S.photograph(doc, rng, fill=0.62, tilt=0.02, out_size=(1200, 1600)).image


def authorisation_letter(unit: str, person: str, *, seal: bool = True, seed: int = 0) -> np.ndarray:
    """A 法人授权书: the unit authorises the person for its filing, sealed and signed."""
    doc = _page(
        "法人授权书",
        [
            f"兹授权{person}(身份证号码见附件)",
            f"代表{unit}",
            "办理网站备案相关事宜,",
            "并作为网站负责人。",
            f"授权单位:{unit}",
            "2026年11月20日",
        ],
        seal=unit if seal else None,
        sign=True,
    )
    rng = random.Random(seed)
    return S.photograph(doc, rng, fill=0.62, tilt=0.02, out_size=(1200, 1600)).image


def _wrap(text: str, width: int) -> list[str]:
    out: list[str] = []
    for para in text.split("\n"):
        out += [para[i : i + width] for i in range(0, len(para), width)] or [""]
    return out


def pledge_photo(
    text: str, *, unit: str | None = None, sign: bool = True, dated: str | None = "2026年11月20日",
    seed: int = 0,
) -> np.ndarray:  # fmt: skip
    """The 承诺书 the person confirmed (``text``: its title line first), printed, signed
    (a squiggle right of 承诺人签字:), dated and, for a unit, sealed; photographed (BGR)."""
    title, _, body = text.partition("\n")
    pil = Image.fromarray(np.full((H, W, 3), 246, np.uint8))
    d = ImageDraw.Draw(pil)
    ink = (25, 25, 25)
    tw = d.textlength(title, font=R._font(40))
    R._draw_text(d, ((W - tw) / 2, 80), title, 40, ink)
    y = 170
    for line in _wrap(body, 30):
        R._draw_text(d, (80, y), line, 26, ink)
        y += 44
    rng = random.Random(seed)
    sy = max(y + 60, 1060)
    R._draw_text(d, (80, sy), "承诺人签字:", 30, ink)
    d.line([(260, sy + 40), (520, sy + 40)], fill=(40, 40, 40), width=2)
    if sign:
        pts = [(285 + i * 12, sy + 20 + int(10 * math.sin(i * 0.9 + rng.random())))
               for i in range(18)]  # fmt: skip
        d.line(pts, fill=(30, 30, 90), width=3)
    R._draw_text(d, (80, sy + 110), "日期:", 30, ink)
    if dated:
        R._draw_text(d, (200, sy + 110), dated, 30, (30, 40, 140))
    R._synthetic_mark(d, W, H)
    out = np.asarray(pil).copy()
    if unit:
        R._seal(out, 720, sy + 20, 105, unit[:12])
    out = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
    page = np.dstack([out, np.full((H, W), 255, np.uint8)])
    return S.photograph(page, random.Random(seed + 100), fill=0.62, tilt=0.02,
                        out_size=(1200, 1600)).image  # fmt: skip


def unsigned_sheet(subject_name: str, domains: list[str], *, seal: bool, seed: int) -> np.ndarray:
    """The test kit's sheet (testkit.documents.render.render_sheet) with its signature
    squiggle painted over in the paper's colour (the signing line stays), photographed."""
    doc = R.render_sheet(subject_name, domains, random.Random(seed), seal=seal)
    doc[1132:1167, 275:530, :3] = 246  # where render_sheet draws the squiggle
    return S.photograph(doc, random.Random(seed + 100), fill=0.62, tilt=0.02,
                        out_size=(1200, 1600)).image  # fmt: skip


def signed_sheet(subject_name: str, domains: list[str], *, seal: bool, seed: int) -> np.ndarray:
    doc = R.render_sheet(subject_name, domains, random.Random(seed), seal=seal)
    return S.photograph(doc, random.Random(seed + 100), fill=0.62, tilt=0.02,
                        out_size=(1200, 1600)).image  # fmt: skip
