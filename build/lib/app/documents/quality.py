"""Image-quality and authenticity measurements on a document photo. Pure numpy/OpenCV.

Each function returns a score; :mod:`app.documents.analyzer` compares scores with thresholds.
Locating works on a copy scaled to ``LOCATE_SIDE`` px: the document is what differs from the
background colour (sampled on the image border) or is enclosed by strong edges; the largest
such region is fitted with a quadrilateral, which is then used to rectify the full image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

LOCATE_SIDE = 640


@dataclass(frozen=True)
class Located:
    quad: np.ndarray  # 4x2 float32, full-resolution corners tl, tr, br, bl
    fill: float  # quad area / image area
    border_margin: float  # min distance of the region to the frame / short side (< 0: touches)
    solidity: float  # region area / quad area
    mask_small: np.ndarray  # uint8 region mask at locate scale
    scale: float  # locate scale / full scale


def _order_corners(pts: np.ndarray) -> np.ndarray:
    pts = pts.reshape(-1, 2).astype(np.float32)
    s = pts.sum(axis=1)
    d = np.diff(pts, axis=1).ravel()
    tl, br = pts[np.argmin(s)], pts[np.argmax(s)]
    tr, bl = pts[np.argmin(d)], pts[np.argmax(d)]
    return np.array([tl, tr, br, bl], np.float32)


def _quad_from_contour(contour: np.ndarray) -> np.ndarray:
    hull = cv2.convexHull(contour)
    peri = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            return _order_corners(approx)
    # Rounded or clipped shapes: the min-area rectangle is the safest quad.
    return _order_corners(cv2.boxPoints(cv2.minAreaRect(hull)))


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Everything but the background becomes foreground; the background is the largest empty
    region that reaches the frame. Unlike a contour fill this also closes a document cut off
    by the frame (its gaps touch the edge), and unlike "largest empty region" it keeps the
    inside of a large white page (which does not reach the frame) as foreground."""
    empty = (mask == 0).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(empty, connectivity=4)
    if n <= 1:
        return mask.copy()
    frame = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    frame = frame[frame > 0]
    if frame.size == 0:
        return np.full_like(mask, 255)
    background = int(frame[np.argmax(stats[frame, cv2.CC_STAT_AREA])])
    return np.where(labels == background, 0, 255).astype(np.uint8)


def _candidate_masks(small: np.ndarray) -> list[np.ndarray]:
    h, w = small.shape[:2]
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    p99 = float(np.percentile(gray, 99))
    if p99 < 200:  # dim photo: stretch it so colour differences keep their size
        small = cv2.convertScaleAbs(small, alpha=220.0 / max(p99, 8.0))
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (5, 5), 0), cv2.COLOR_BGR2LAB).astype(np.float32)
    b = max(4, int(0.03 * min(h, w)))
    border = np.concatenate(
        [
            lab[:b].reshape(-1, 3),
            lab[-b:].reshape(-1, 3),
            lab[:, :b].reshape(-1, 3),
            lab[:, -b:].reshape(-1, 3),
        ]
    )
    bg = np.median(border, axis=0)
    # Lightness differences count less: shadows and uneven light change L, not colour.
    weights = np.array([0.5, 1.0, 1.0], np.float32)
    dist = np.sqrt((((lab - bg) * weights) ** 2).sum(axis=2))
    # Robust spread of the background itself (the document may touch part of the border).
    spread = float(np.percentile(np.sqrt((((border - bg) * weights) ** 2).sum(axis=1)), 60))
    thr = max(7.0, 4.0 * spread)
    colour = (dist > thr).astype(np.uint8) * 255
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    colour = cv2.morphologyEx(
        colour, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    )
    colour = _fill_holes(cv2.morphologyEx(colour, cv2.MORPH_CLOSE, k))
    edges = cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 0), 12, 36)
    edges = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, k)
    edge_mask = _fill_holes(cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))))
    union = _fill_holes(cv2.morphologyEx(cv2.bitwise_or(colour, edge_mask), cv2.MORPH_CLOSE, k))
    return [colour, edge_mask, union]


def locate(image_bgr: np.ndarray, min_fill: float = 0.03) -> Located | None:
    """Find the document: the largest near-convex region that stands out from the background."""
    h, w = image_bgr.shape[:2]
    scale = min(1.0, LOCATE_SIDE / max(h, w))
    small = cv2.resize(
        image_bgr, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA
    )
    sh, sw = small.shape[:2]
    best: tuple[float, Located] | None = None
    for mask in _candidate_masks(small):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if n <= 1:
            continue
        idx = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = float(stats[idx, cv2.CC_STAT_AREA])
        if area < min_fill * sh * sw:
            continue
        region = (labels == idx).astype(np.uint8) * 255
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contour = max(contours, key=cv2.contourArea)
        quad = _quad_from_contour(contour)
        quad_area = float(cv2.contourArea(quad))
        if quad_area <= 0:
            continue
        solidity = min(1.0, area / quad_area)
        if area > 0.97 * sh * sw:  # the whole frame: nothing stands out
            continue
        ys, xs = np.nonzero(region)
        touch = int((xs <= 1).sum() + (xs >= sw - 2).sum() + (ys <= 1).sum() + (ys >= sh - 2).sum())
        if touch:
            margin = -touch / (2.0 * (sh + sw))
        else:
            margin = float(min(xs.min(), ys.min(), sw - 1 - xs.max(), sh - 1 - ys.max())) / min(
                sh, sw
            )
        located = Located(
            quad=quad / scale,
            fill=quad_area / (sh * sw),
            border_margin=margin,
            solidity=solidity,
            mask_small=region,
            scale=scale,
        )
        # Prefer convex regions; among those, the larger (a cut-off document is no quad).
        convexity = area / max(float(cv2.contourArea(cv2.convexHull(contour))), 1.0)
        rank = convexity * 2 + min(quad_area / (sh * sw), 0.9)
        if convexity < 0.85:
            rank -= 2
        if best is None or rank > best[0]:
            best = (rank, located)
    if best is None or best[1].solidity < 0.6:
        return None
    return best[1]


def quad_size(quad: np.ndarray) -> tuple[float, float]:
    top = np.linalg.norm(quad[1] - quad[0])
    bottom = np.linalg.norm(quad[2] - quad[3])
    left = np.linalg.norm(quad[3] - quad[0])
    right = np.linalg.norm(quad[2] - quad[1])
    return float(top + bottom) / 2, float(left + right) / 2


def rectify(image_bgr: np.ndarray, quad: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Perspective-correct the quadrilateral to ``size`` = (width, height)."""
    w, h = size
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return cv2.warpPerspective(
        image_bgr, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


# --- measurements on the rectified document --------------------------------------------


def _inner(doc: np.ndarray, frac: float = 0.03) -> np.ndarray:
    h, w = doc.shape[:2]
    dy, dx = int(h * frac), int(w * frac)
    return doc[dy : h - dy, dx : w - dx]


def sharpness(doc_bgr: np.ndarray, quad_width_px: float) -> float:
    """Focus measure on the document only: mean gradient energy of the finest scale over the
    mean edge contrast, at the resolution the camera actually captured (capped at 800 px)."""
    width = int(max(200, min(800, quad_width_px)))
    h = int(doc_bgr.shape[0] * width / doc_bgr.shape[1])
    g = cv2.cvtColor(
        cv2.resize(_inner(doc_bgr), (width, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY
    )
    g = g.astype(np.float32)
    lap = cv2.Laplacian(g, cv2.CV_32F, ksize=1)
    smooth = cv2.GaussianBlur(g, (0, 0), 2.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    coarse = np.sqrt(gx * gx + gy * gy)
    strong = coarse > np.percentile(coarse, 90)
    if not strong.any():
        return 0.0
    return float(np.abs(lap)[strong].mean() / (coarse[strong].mean() + 1e-3) * 10)


def brightness(doc_bgr: np.ndarray) -> float:
    """Mean luminance (0-255) of the document."""
    return float(cv2.cvtColor(_inner(doc_bgr), cv2.COLOR_BGR2GRAY).mean())


def clipped_fraction(doc_bgr: np.ndarray, level: int = 250) -> float:
    """Share of the document's pixels that are blown out (all channels ≥ level)."""
    d = _inner(doc_bgr)
    return float((d.min(axis=2) >= level).mean())


def glare_fraction(doc_bgr: np.ndarray) -> float:
    """Largest specular hot spot over the document, as a share of its area: near-white,
    colourless pixels that are far brighter than the document's typical brightness."""
    small = cv2.resize(_inner(doc_bgr), (320, int(320 * doc_bgr.shape[0] / doc_bgr.shape[1])))
    s = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)[..., 1]
    v = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    med = float(np.median(v))
    hot_raw = ((v >= 245) & (s < 40) & (v >= med + 15)).astype(np.uint8)
    hot = cv2.morphologyEx(hot_raw, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(hot)
    if n <= 1:
        return 0.0
    return float(stats[1:, cv2.CC_STAT_AREA].max()) / hot.size


def colour_spread(doc_bgr: np.ndarray) -> float:
    """How much real colour the document carries: 99th percentile of chroma distance from the
    document's median colour (a*, b*). A black-and-white copy stays near the noise floor even
    under a colour cast; the printed colours of a real card or licence do not."""
    small = cv2.resize(_inner(doc_bgr), (320, int(320 * doc_bgr.shape[0] / doc_bgr.shape[1])))
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
    a = lab[..., 1] - np.median(lab[..., 1])
    b = lab[..., 2] - np.median(lab[..., 2])
    chroma = np.sqrt(a * a + b * b)
    return float(np.percentile(chroma, 99))


def moire_score(image_bgr: np.ndarray, quad: np.ndarray) -> float:
    """Screen-recapture evidence at native resolution inside the document: the strongest
    isolated high-frequency peak of the spectrum (pixel grid / moiré), combined with
    high-frequency colour energy (sub-pixel stripes). Higher = more screen-like."""
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = int(min(256, (x1 - x0) * 0.5, (y1 - y0) * 0.5))
    side -= side % 2
    if side < 64:
        return 0.0
    ix, iy = int(cx - side / 2), int(cy - side / 2)
    ix = max(0, min(ix, image_bgr.shape[1] - side))
    iy = max(0, min(iy, image_bgr.shape[0] - side))
    patch = image_bgr[iy : iy + side, ix : ix + side].astype(np.float32)
    gray = patch.mean(axis=2)
    hp = gray - cv2.GaussianBlur(gray, (0, 0), 3)
    win = np.outer(np.hanning(side), np.hanning(side)).astype(np.float32)
    spec = np.abs(np.fft.fftshift(np.fft.fft2(hp * win)))
    yy, xx = np.mgrid[0:side, 0:side]
    r = np.hypot(yy - side / 2, xx - side / 2) / side
    # Printed text and guilloche put their energy below ~1/4 cycle per pixel; a pixel grid
    # seen through a camera leaves isolated peaks above that.
    band = (r > 0.25) & (r < 0.5)
    # JPEG's 8x8 block grid puts peaks at multiples of 1/8 cycle/pixel: not evidence.
    step = side / 8

    def near_grid(f: np.ndarray) -> np.ndarray:
        off = np.abs(f - side / 2) % step
        return np.minimum(off, step - off) <= 1.5

    band &= ~(near_grid(yy) & near_grid(xx))
    vals = spec[band]
    peak = float(np.log1p(vals.max()) - np.log1p(np.median(vals)))
    # Sub-pixel stripes: high-pass colour energy relative to high-pass luminance energy.
    lab = cv2.cvtColor(np.clip(patch, 0, 255).astype(np.uint8), cv2.COLOR_BGR2LAB).astype(
        np.float32
    )
    hp_ab = [lab[..., c] - cv2.GaussianBlur(lab[..., c], (0, 0), 3) for c in (1, 2)]
    hp_l = lab[..., 0] - cv2.GaussianBlur(lab[..., 0], (0, 0), 3)
    chroma_ratio = float(
        np.sqrt((hp_ab[0] ** 2 + hp_ab[1] ** 2).mean()) / max(float(np.sqrt((hp_l**2).mean())), 6.0)
    )
    return peak / 4.0 + 2.5 * chroma_ratio


def background_whiteness(image_bgr: np.ndarray, located: Located) -> float:
    """Share of the background (outside the document, away from its shadow) that is white:
    low saturation and bright relative to the photo's exposure."""
    small = cv2.resize(
        image_bgr,
        (located.mask_small.shape[1], located.mask_small.shape[0]),
        interpolation=cv2.INTER_AREA,
    )
    ring = cv2.dilate(located.mask_small, np.ones((15, 15), np.uint8))
    bg = ring == 0
    if bg.sum() < 0.02 * bg.size:
        return 1.0  # the document fills the frame: nothing to judge
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    s, v = hsv[..., 1][bg].astype(np.float32), hsv[..., 2][bg].astype(np.float32)
    ref = max(float(np.percentile(hsv[..., 2], 99)), 1.0)
    white = (s < 45) & (v > 0.72 * ref) & (v > 40)
    return float(white.mean())


def red_seal_score(doc_bgr: np.ndarray) -> float:
    """Evidence of a red seal: the largest red, roughly round blob, scored by its area share
    of the page times how round its outline is (0 when there is none)."""
    width = 500
    small = cv2.resize(doc_bgr, (width, int(width * doc_bgr.shape[0] / doc_bgr.shape[1])))
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red_raw = (((h <= 10) | (h >= 165)) & (s >= 90) & (v >= 70)).astype(np.uint8) * 255
    red = cv2.morphologyEx(red_raw, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(red, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best = 0.0
    for c in contours:
        (_, _), radius = cv2.minEnclosingCircle(c)
        if radius < 0.04 * width:
            continue
        circle_area = np.pi * radius * radius
        hull_area = cv2.contourArea(cv2.convexHull(c))
        roundness = hull_area / circle_area
        share = circle_area / red.size
        best = max(best, roundness * min(1.0, share / 0.01))
    return float(best)
