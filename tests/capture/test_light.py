"""GLARE and OVEREXPOSED measure what a reviewer sends back (a highlight washing out the
text or the portrait; a photo whose ink has faded with the highlights), not a card that is
bright but legible, nor the white table around it (LABELLED-SYNTHETIC photos)."""

from __future__ import annotations

import random

import cv2
import numpy as np

from app.documents import quality as Q
from app.documents.analyzer import DocKind, DocumentAnalyzer, Expectation
from testkit.documents import render as R
from testkit.documents import scene as S
from testkit.documents.cases import SPLIT_SEED0, TODAY, make_case
from testkit.documents.identities import make_person

SEED = SPLIT_SEED0["test"]


def _page(level: float) -> np.ndarray:
    """A flat page at ``level`` with lines of dark 'text' (BGR, 640x400)."""
    img = np.full((400, 640, 3), level, np.float32)
    for y in range(40, 380, 30):
        img[y : y + 8, 40:600] = 30
    return np.clip(img, 0, 255).astype(np.uint8)


def test_bright_page_is_not_glare_but_a_highlight_is() -> None:
    # Bright all over, the paper clipped between the lines: the plane, no highlight.
    assert Q.glare_fraction(_page(255)) == 0.0
    # The same page graded (brighter on the right, clipping there): still no highlight.
    graded = _page(235).astype(np.float32) * np.linspace(0.95, 1.12, 640)[None, :, None]
    assert Q.glare_fraction(np.clip(graded, 0, 255).astype(np.uint8)) == 0.0
    # A specular spot with its halo over the text of a normally lit page.
    img = _page(222).astype(np.float32)
    yy, xx = np.mgrid[0:400, 0:640].astype(np.float32)
    d = ((xx - 320) / 90) ** 2 + ((yy - 200) / 60) ** 2
    spot = np.clip(1.6 - d, 0, 1)[..., None]
    img = img * (1 - spot) + 255 * spot + 120 * np.exp(-d)[..., None]
    assert Q.glare_fraction(np.clip(img, 0, 255).astype(np.uint8)) > 0.02


def test_crisp_white_patch_is_not_glare() -> None:
    """A portrait's white background clipped under bright light has an edge, no halo."""
    img = _page(240)
    cv2.rectangle(img, (400, 60), (600, 340), (255, 255, 255), -1)
    assert Q.glare_fraction(img) == 0.0


def test_bright_but_legible_cards_pass_the_light_checks(analyzer: DocumentAnalyzer) -> None:
    for family in ("id_front", "licence"):
        case = make_case(family, "bright", SEED, "test")
        v = analyzer.analyze(case.image, case.kind, case.expect, read=False)
        by = {c.code: c for c in v.checks}
        for code in ("GLARE", "OVEREXPOSED", "PHOTOCOPY"):
            assert by[code].passed, by[code].as_dict()


def test_white_table_clipping_is_not_overexposure(analyzer: DocumentAnalyzer) -> None:
    rng = random.Random("white-table")
    p = make_person(rng, TODAY)
    shot = S.photograph(R.render_id_front(p, rng), rng, background=(255, 255, 255), light=1.04)
    assert float((shot.image.min(axis=2) >= 250).mean()) > 0.4  # the table is blown out
    exp = Expectation(today=TODAY, person_name=p.name, person_number=p.id_number)
    v = analyzer.analyze(shot.image, DocKind.ID_FRONT, exp, read=False)
    over = next(c for c in v.checks if c.code == "OVEREXPOSED")
    assert over.passed, over.as_dict()
    assert over.detail["photo_clipped"] > 0.4


def test_faded_ink_is_overexposed(analyzer: DocumentAnalyzer) -> None:
    case = make_case("passport", "clean", SEED, "test")  # a passport stays found washed out
    washed = S.degrade_overexposed(S.Shot(case.image, np.zeros((4, 2), np.float32)), 1.35, 40)
    v = analyzer.analyze(washed.image, case.kind, case.expect, read=False)
    over = next(c for c in v.checks if c.code == "OVEREXPOSED")
    assert not over.passed, over.as_dict()
    if "ink_floor" in over.detail:  # found: refused for the faded ink, not the clipping alone
        assert over.detail["ink_floor"] >= analyzer.t.min_ink_lift or over.score > 0.92
